"""Rate limits as Discord applies and advertises them.

* Every response carries ``X-RateLimit-*`` headers (hikari retries a 429 immediately
  on a route it has never seen a bucket for, so the headers matter).
* Message edits have a real per-channel budget of ``edit_limit`` per ``edit_window``
  seconds, kept as a bucket that holds ``edit_limit`` edits and refills one every
  ``edit_window / edit_limit`` seconds. The headers advertise it the way hikari reads
  them (``Reset-After / (Limit - Remaining)`` is the refill period). With fixed windows
  instead, hikari 2.6 falls into one request per window once a channel's edits
  are spaced out, and never recovers while its queue is non-empty. Going over is
  answered with a 429 (scope ``user``) whose JSON body carries ``retry_after``.
  Edits of interaction responses (webhook PATCHes) spend the budget of the channel
  the message is in: stricter than Discord's own webhook buckets, on purpose.
* Tests can inject 429s or 5xx for the next N requests on a route, or a 429 storm
  on every route for a while.
"""

from __future__ import annotations

import collections
import hashlib
import json
import time
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
    """429s caused by the real edit budget (not injected)."""
    edits_by_channel: dict[int, list[float]] = field(
        default_factory=lambda: collections.defaultdict(list)
    )

    def max_edits_in_window(self, channel_id: int, window: float = 5.0) -> int:
        """The most accepted edits in any ``window`` seconds for a channel."""
        times = sorted(self.edits_by_channel.get(channel_id, []))
        best, start = 0, 0
        for end, at in enumerate(times):
            while at - times[start] >= window:
                start += 1
            best = max(best, end - start + 1)
        return best


class RateLimiter:
    """Decides, per request, whether to answer normally or with a 429/5xx."""

    def __init__(self, *, edit_limit: int = 5, edit_window: float = 5.0) -> None:
        self.edit_limit = edit_limit
        self.edit_window = edit_window
        self.stats = RateLimitStats()
        self._failures: list[InjectedFailure] = []
        self._storm_until = 0.0
        self._storm_retry_after = 0.2
        self._edit_buckets: dict[int, tuple[float, float]] = {}
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

    def check(self, route: str, bucket_key: str, edit_channel: int | None) -> web.Response | None:
        """A failure response for this request, or None to serve it."""
        now = time.monotonic()
        if now < self._storm_until:
            return self._too_many(route, bucket_key, self._storm_retry_after, scope="shared")
        for failure in self._failures:
            if failure.remaining > 0 and failure.route in (route, "*"):
                failure.remaining -= 1
                if failure.status == 429:
                    return self._too_many(route, bucket_key, failure.retry_after, scope="shared")
                return web.json_response(
                    {"message": "injected server error", "code": 0},
                    status=failure.status,
                    headers=self.headers(bucket_key),
                )
        if edit_channel is not None:
            tokens = self._edit_tokens(edit_channel, now)
            if tokens < 1:
                self.stats.budget_429 += 1
                retry_after = max(0.01, (1 - tokens) * self._refill_period)
                return self._too_many(
                    route, bucket_key, retry_after, scope="user", edit_channel=edit_channel
                )
            self._edit_buckets[edit_channel] = (tokens - 1, now)
            self.stats.edits_by_channel[edit_channel].append(now)
        return None

    def headers(self, bucket_key: str, edit_channel: int | None = None) -> dict[str, str]:
        """The ``X-RateLimit-*`` headers Discord would send for this bucket."""
        now = time.monotonic()
        if edit_channel is not None:
            tokens = self._edit_tokens(edit_channel, now)
            limit, used = self.edit_limit, self.edit_limit - int(tokens)
            reset_after = (self.edit_limit - tokens) * self._refill_period or self.edit_window
        else:
            hits = self._route_hits[bucket_key]
            while hits and now - hits[0] >= 1.0:
                hits.popleft()
            hits.append(now)
            # Generous enough never to throttle a test: hikari still learns the bucket.
            limit, used, reset_after = 1000, len(hits), 1.0
        remaining = max(0, limit - used)
        return {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": hashlib.sha1(bucket_key.encode()).hexdigest()[:16],
        }

    @property
    def _refill_period(self) -> float:
        return self.edit_window / self.edit_limit

    def _edit_tokens(self, channel_id: int, now: float) -> float:
        """Edits the channel may make now (fractional while refilling)."""
        tokens, updated = self._edit_buckets.get(channel_id, (float(self.edit_limit), now))
        tokens = min(float(self.edit_limit), tokens + (now - updated) / self._refill_period)
        self._edit_buckets[channel_id] = (tokens, now)
        return tokens

    def _too_many(
        self,
        route: str,
        bucket_key: str,
        retry_after: float,
        *,
        scope: str,
        edit_channel: int | None = None,
    ) -> web.Response:
        self.stats.responses_429 += 1
        headers = self.headers(bucket_key, edit_channel)
        headers |= {"X-RateLimit-Scope": scope, "X-RateLimit-Remaining": "0"}
        headers["Retry-After"] = str(max(1, round(retry_after)))
        body = {
            "message": "You are being rate limited.",
            "retry_after": retry_after,
            "global": False,
        }
        return web.Response(
            status=429, text=json.dumps(body), content_type="application/json", headers=headers
        )
