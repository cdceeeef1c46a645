"""Rate limits as Discord applies and advertises them.

* Every response carries ``X-RateLimit-*`` headers (hikari retries a 429 immediately
  on a route it has never seen a bucket for, so the headers matter).
* Limits are counted in **fixed windows**, as Discord counts them: the first request
  into a spent (or never used) budget opens a window, at most ``limit`` requests are
  accepted inside it, and the budget is whole again only when the window ends. (A
  bucket refilling continuously would accept a sixth edit 1 s after five quick ones;
  Discord does not, and neither does this fake.)
* Message edits have a per-channel budget of ``edit_limit`` per ``edit_window``
  seconds. ``PATCH /channels/{channel}/messages/{message}`` advertises it in its
  headers, as Discord's per-channel route bucket does.
* New messages from the bot have a per-channel budget of ``message_limit`` per
  ``message_window`` seconds (Discord's ``POST /channels/{channel}/messages`` bucket,
  about 5 per 5 s), advertised in that route's headers.
* Interaction webhooks (``/webhooks/{app}/{token}...``: follow-ups and edits of
  ``@original`` or a follow-up) have their own bucket per token, ``webhook_limit`` per
  ``webhook_window`` seconds, which is what their headers advertise. Channel webhooks
  (``/webhooks/{id}/{token}``) have the same budget per webhook. Their *edits*
  also spend the budget of the channel the message is in, and that budget is not in
  their headers: exceeding it is a 429 with scope ``shared`` that hikari cannot see
  coming. Discord documents no such shared budget; the fake applies it on purpose,
  since it is the budget Libra's pacer promises to keep in every channel.
* Channel webhooks' executes also spend their channel's budget of
  ``channel_webhook_limit`` per ``channel_webhook_window`` seconds (Discord: about 30
  webhook messages per minute per channel, whichever webhook posts them). It is not in
  the headers (they describe the webhook's own 5 per 2 s): a 429 with scope ``shared``
  that hikari cannot see coming, so a sender must pace itself.
* Reactions by the bot (``PUT .../reactions/{emoji}/@me``) have a per-channel budget of
  ``reaction_limit`` per ``reaction_window`` seconds (Discord's: 1 per 0.25 s),
  advertised in that route's headers.
* Every 429 has Discord's JSON body (``message``, ``retry_after``, ``global``) and
  headers (``X-RateLimit-Scope``, ``Retry-After`` in whole seconds). Those caused by
  a real budget are counted in :attr:`RateLimitStats.budget_429`.
* The bot's **global** budget: at most ``global_limit`` requests in any second,
  whatever the route (interaction callbacks and interaction webhooks are exempt, as
  Discord documents). One more is a 429 with ``"global": true`` and
  ``X-RateLimit-Global``/``X-RateLimit-Scope: global``, counted in ``global_429``
  (and ``budget_429``): several processes of one bot share this budget.
* Tests can inject 429s or 5xx for the next N requests on a route, or a 429 storm
  on every route for a while.
"""

from __future__ import annotations

import collections
import hashlib
import json
import math
import time
from collections.abc import Hashable
from dataclasses import dataclass, field

from aiohttp import web


@dataclass
class InjectedFailure:
    """A canned answer for the next ``remaining`` requests whose route matches."""

    route: str
    """Route template (``"PATCH /channels/{channel}/messages/{message}"``) or ``"*"``."""
    status: int
    remaining: int
    retry_after: float = 0.2


@dataclass
class RateLimitStats:
    """What the rate limiter saw, for assertions and benchmarks."""

    responses_429: int = 0
    budget_429: int = 0
    """429s caused by a real budget (edits per channel, webhook, global), not injected ones."""
    global_429: int = 0
    """429s for going over the bot's global budget."""
    global_peak: int = 0
    """The most requests accepted within any one second (global budget routes)."""
    edits_by_channel: dict[int, list[float]] = field(
        default_factory=lambda: collections.defaultdict(list)
    )
    posts_by_channel: dict[int, list[float]] = field(
        default_factory=lambda: collections.defaultdict(list)
    )
    """When each accepted new bot message (``POST .../messages``) arrived, per channel."""
    webhook_posts: dict[str, list[float]] = field(
        default_factory=lambda: collections.defaultdict(list)
    )
    """When each accepted webhook request arrived, per webhook token."""
    channel_webhook_posts: dict[int, list[float]] = field(
        default_factory=lambda: collections.defaultdict(list)
    )
    """When each accepted channel-webhook execute arrived, per channel."""
    reactions_by_channel: dict[int, list[float]] = field(
        default_factory=lambda: collections.defaultdict(list)
    )
    """When each accepted reaction by the bot arrived, per channel."""

    def max_edits_in_window(self, channel_id: int, window: float = 5.0) -> int:
        """The most accepted edits in any ``window`` seconds for a channel."""
        times = sorted(self.edits_by_channel.get(channel_id, []))
        best, start = 0, 0
        for end, at in enumerate(times):
            while at - times[start] >= window:
                start += 1
            best = max(best, end - start + 1)
        return best


@dataclass
class _Window:
    """One key's current fixed window: when it ends and how many requests it took."""

    resets_at: float
    used: int = 0


class FixedWindows:
    """``limit`` requests per ``window`` seconds per key, in fixed windows."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._windows: dict[Hashable, _Window] = {}

    def take(self, key: Hashable, now: float) -> float | None:
        """Count one request; ``None`` if accepted, else seconds until the window ends."""
        current = self._current(key, now)
        if current.used >= self.limit:
            return max(0.001, current.resets_at - now)
        current.used += 1
        return None

    def state(self, key: Hashable, now: float) -> tuple[int, float]:
        """(requests left, seconds until the budget is whole) for the headers."""
        current = self._current(key, now)
        if not current.used:
            return self.limit, self.window
        return max(0, self.limit - current.used), current.resets_at - now

    def _current(self, key: Hashable, now: float) -> _Window:
        current = self._windows.get(key)
        if current is None or now >= current.resets_at:
            current = self._windows[key] = _Window(now + self.window)
        return current


class RateLimiter:
    """Decides, per request, whether to answer normally or with a 429/5xx."""

    def __init__(
        self,
        *,
        edit_limit: int = 5,
        edit_window: float = 5.0,
        webhook_limit: int = 5,
        webhook_window: float = 2.0,
        message_limit: int = 5,
        message_window: float = 5.0,
        channel_webhook_limit: int = 30,
        channel_webhook_window: float = 60.0,
        reaction_limit: int = 1,
        reaction_window: float = 0.25,
        global_limit: int = 50,
    ) -> None:
        self.global_limit = global_limit
        self._global_sent: collections.deque[float] = collections.deque()
        self.edits = FixedWindows(edit_limit, edit_window)
        self.webhooks = FixedWindows(webhook_limit, webhook_window)
        self.messages = FixedWindows(message_limit, message_window)
        self.channel_webhooks = FixedWindows(channel_webhook_limit, channel_webhook_window)
        self.reactions = FixedWindows(reaction_limit, reaction_window)
        self.stats = RateLimitStats()
        self._failures: list[InjectedFailure] = []
        self._storm_until = 0.0
        self._storm_retry_after = 0.2
        self._route_hits: dict[str, collections.deque[float]] = collections.defaultdict(
            collections.deque
        )

    def inject(
        self, route: str, *, status: int = 429, count: int = 1, retry_after: float = 0.2
    ) -> None:
        """Answer the next ``count`` requests on ``route`` with ``status``."""
        self._failures.append(InjectedFailure(route, status, count, retry_after))

    def storm(self, seconds: float, *, retry_after: float = 0.2) -> None:
        """Answer every request with a 429 for ``seconds``."""
        self._storm_until = time.monotonic() + seconds
        self._storm_retry_after = retry_after

    def check(
        self, route: str, bucket_key: str, edit_channel: int | None, webhook: str | None = None,
        post_channel: int | None = None, *, webhook_channel: int | None = None,
        reaction_channel: int | None = None,
        global_budget: bool = False,
    ) -> web.Response | None:
        """A failure response for this request, or None to serve it.

        ``edit_channel`` is the channel whose edit budget the request spends (message
        edits only); ``webhook`` the token of a webhook request (interaction or channel
        webhook); ``post_channel`` the channel a new bot message is posted in;
        ``webhook_channel`` the channel a channel webhook's execute posts in;
        ``reaction_channel`` the channel of a message the bot reacts to.
        ``global_budget``: the request counts against the bot's global budget.
        """
        now = time.monotonic()
        if global_budget and (refused := self._global(bucket_key, now)) is not None:
            return refused
        if now < self._storm_until:
            return self._too_many(bucket_key, self._storm_retry_after, scope="shared")
        for failure in self._failures:
            if failure.remaining > 0 and failure.route in (route, "*"):
                failure.remaining -= 1
                if failure.status == 429:
                    return self._too_many(bucket_key, failure.retry_after, scope="shared")
                return web.json_response(
                    {"message": "injected server error", "code": 0},
                    status=failure.status,
                    headers=self.headers(bucket_key),
                )
        if reaction_channel is not None:
            if (wait := self.reactions.take(reaction_channel, now)) is not None:
                self.stats.budget_429 += 1
                return self._too_many(bucket_key, wait, scope="user",
                                      reaction_channel=reaction_channel)
            self.stats.reactions_by_channel[reaction_channel].append(now)
        if webhook_channel is not None:
            if (wait := self.channel_webhooks.take(webhook_channel, now)) is not None:
                self.stats.budget_429 += 1
                # Not the bucket the webhook's headers describe: the sender cannot see it.
                return self._too_many(bucket_key, wait, scope="shared", webhook=webhook,
                                      advertised=False)
            self.stats.channel_webhook_posts[webhook_channel].append(now)
        if webhook is not None:
            if (wait := self.webhooks.take(webhook, now)) is not None:
                self.stats.budget_429 += 1
                return self._too_many(bucket_key, wait, scope="user", webhook=webhook)
            self.stats.webhook_posts[webhook].append(now)
        if post_channel is not None:
            if (wait := self.messages.take(post_channel, now)) is not None:
                self.stats.budget_429 += 1
                return self._too_many(bucket_key, wait, scope="user", post_channel=post_channel)
            self.stats.posts_by_channel[post_channel].append(now)
        if edit_channel is not None:
            if (wait := self.edits.take(edit_channel, now)) is not None:
                self.stats.budget_429 += 1
                if webhook is not None:
                    # Not the bucket a webhook's headers describe: hikari learns of it here.
                    return self._too_many(bucket_key, wait, scope="shared", webhook=webhook,
                                          advertised=False)
                return self._too_many(bucket_key, wait, scope="user", edit_channel=edit_channel)
            self.stats.edits_by_channel[edit_channel].append(now)
        return None

    def _global(self, bucket_key: str, now: float) -> web.Response | None:
        """Count one request of the global budget; Discord's global 429 when it is spent."""
        sent = self._global_sent
        while sent and now - sent[0] >= 1.0:
            sent.popleft()
        if len(sent) >= self.global_limit:
            self.stats.budget_429 += 1
            self.stats.global_429 += 1
            self.stats.responses_429 += 1
            retry_after = max(0.001, sent[0] + 1.0 - now)
            body = {"message": "You are being rate limited.",
                    "retry_after": round(retry_after, 3), "global": True}
            headers = {"X-RateLimit-Global": "true", "X-RateLimit-Scope": "global",
                       "Retry-After": str(max(1, math.ceil(retry_after)))}
            return web.Response(status=429, text=json.dumps(body),
                                content_type="application/json", headers=headers)
        sent.append(now)
        self.stats.global_peak = max(self.stats.global_peak, len(sent))
        return None

    def headers(
        self, bucket_key: str, edit_channel: int | None = None, webhook: str | None = None,
        post_channel: int | None = None, reaction_channel: int | None = None,
    ) -> dict[str, str]:
        """The ``X-RateLimit-*`` headers Discord would send for this bucket."""
        now = time.monotonic()
        if reaction_channel is not None:
            limit = self.reactions.limit
            remaining, reset_after = self.reactions.state(reaction_channel, now)
        elif post_channel is not None:
            limit = self.messages.limit
            remaining, reset_after = self.messages.state(post_channel, now)
        elif webhook is not None:
            limit = self.webhooks.limit
            remaining, reset_after = self.webhooks.state(webhook, now)
        elif edit_channel is not None:
            limit = self.edits.limit
            remaining, reset_after = self.edits.state(edit_channel, now)
        else:
            hits = self._route_hits[bucket_key]
            while hits and now - hits[0] >= 1.0:
                hits.popleft()
            hits.append(now)
            # Generous enough never to throttle a test: hikari still learns the bucket.
            limit, reset_after = 1000, 1.0
            remaining = max(0, limit - len(hits))
        return {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": hashlib.sha1(bucket_key.encode()).hexdigest()[:16],
        }

    def _too_many(
        self,
        bucket_key: str,
        retry_after: float,
        *,
        scope: str,
        edit_channel: int | None = None,
        webhook: str | None = None,
        advertised: bool = True,
        post_channel: int | None = None,
        reaction_channel: int | None = None,
    ) -> web.Response:
        """Discord's 429; ``advertised``: the exceeded budget is the one in the headers."""
        self.stats.responses_429 += 1
        headers = self.headers(bucket_key, edit_channel, webhook, post_channel,
                               reaction_channel)
        headers["X-RateLimit-Scope"] = scope
        if advertised:
            headers["X-RateLimit-Remaining"] = "0"
        headers["Retry-After"] = str(max(1, math.ceil(retry_after)))  # whole seconds
        body = {
            "message": "You are being rate limited.",
            "retry_after": round(retry_after, 3),
            "global": False,
        }
        return web.Response(
            status=429, text=json.dumps(body), content_type="application/json", headers=headers
        )
