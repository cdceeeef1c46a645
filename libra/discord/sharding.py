"""hikari hooks for a bot run by several processes: shared identify turns and REST budget.

hikari 2.6 has no public hook for either, so two narrow subclasses insert them:

* :class:`GatedShard` waits for its turn (:class:`IdentifyGate`) right before it sends
  IDENTIFY (``_send_json`` with op 2), the one moment Discord's pacing counts: the
  websocket is open and heartbeating meanwhile. RESUMEs are not paced, as Discord
  does not count them. :class:`GatedGatewayBot` builds these shards instead of
  hikari's (its ``_start_one_shard`` is hikari's, with the shard class swapped).
* :class:`GatedBuckets` wraps hikari's route buckets so every rate-limited request
  also takes a token of the global budget (:class:`RestGate`) once its route bucket
  allows it. Interaction callbacks have no rate limits in hikari (nor in Discord's
  global budget) and skip it.

A REST proxy in front of every instance (twilight's http-proxy, nirn-proxy) is the
alternative for large fleets; ``discord.rest_url`` can point at one. These hooks need
nothing more than the Redis the instances already share.
"""

from __future__ import annotations

import contextlib
import datetime
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import hikari
from hikari.impl import buckets as buckets_impl
from hikari.impl import shard as shard_impl
from hikari.internal import routes
from loguru import logger

from libra.discord.gates import GatewayLimits, IdentifyGate, RestGate

IDENTIFY_OP = 2
SUPPORTED_HIKARI = ("2.6.",)
"""hikari versions whose private ``_start_one_shard`` and ``_send_json`` these hooks
follow; ``tests/unit/discord/test_sharding.py`` fails on any other."""


def shard_of(guild_id: int, shard_count: int) -> int:
    """The shard Discord sends a guild's events to."""
    return (guild_id >> 22) % shard_count


class GatedShard(shard_impl.GatewayShardImpl):
    """A hikari shard that waits for its identify turn."""

    def __init__(self, *, identify_gate: IdentifyGate, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._identify_gate = identify_gate

    async def _send_json(self, data: Any, *, priority: bool = False) -> None:
        if isinstance(data, dict) and data.get("op") == IDENTIFY_OP:
            started = time.monotonic()
            await self._identify_gate.wait_turn(self.id)
            if (waited := time.monotonic() - started) > 0.5:
                logger.info("shard {} identified after waiting {:.1f}s for its turn", self.id,
                            waited)
        await super()._send_json(data, priority=priority)


class GatedBuckets(buckets_impl.RESTBucketManager):
    """hikari's route buckets, plus one token of the global budget per request."""

    def __init__(self, gate: RestGate, max_rate_limit: float) -> None:
        super().__init__(max_rate_limit)
        self._gate = gate

    def acquire_bucket(self, compiled_route: routes.CompiledRoute,
                       authentication: str | None) -> contextlib.AbstractAsyncContextManager[None]:
        """Take the route bucket (hikari's), then a token of the global budget."""
        return self._acquire(compiled_route, authentication)

    @contextlib.asynccontextmanager
    async def _acquire(self, compiled_route: routes.CompiledRoute,
                       authentication: str | None) -> AsyncIterator[None]:
        async with super().acquire_bucket(compiled_route, authentication):
            await self._gate.acquire()
            yield


class GatedGatewayBot(hikari.GatewayBot):
    """A ``GatewayBot`` whose shards take identify turns and whose REST takes the budget."""

    def __init__(self, token: str, *, identify_gate: IdentifyGate, rest_gate: RestGate,
                 **kwargs: Any) -> None:
        super().__init__(token, **kwargs)
        self._identify_gate = identify_gate
        rest: Any = self.rest
        # Before ``start``: the REST client starts (and owns) this manager then.
        rest._bucket_manager = GatedBuckets(rest_gate, rest._bucket_manager.max_rate_limit)

    async def gateway_limits(self) -> GatewayLimits:
        """``session_start_limit`` from Discord (one REST call)."""
        info = await self.rest.fetch_gateway_bot_info()
        limit = info.session_start_limit
        reset_after = limit.reset_after
        seconds = (reset_after.total_seconds() if isinstance(reset_after, datetime.timedelta)
                   else float(reset_after))
        return GatewayLimits(max_concurrency=limit.max_concurrency, remaining=limit.remaining,
                             reset_after=seconds)

    async def _start_one_shard(
        self, *, activity: hikari.Activity | None, afk: bool,
        idle_since: datetime.datetime | None, status: hikari.Status, large_threshold: int,
        shard_id: int, shard_count: int, url: str,
    ) -> None:
        # hikari 2.6's own body, building a GatedShard.
        new_shard = GatedShard(
            identify_gate=self._identify_gate,
            http_settings=self._http_settings, proxy_settings=self._proxy_settings,
            event_manager=self._event_manager, event_factory=self._event_factory,
            intents=self._intents, capabilities=self._capabilities, dumps=self._dumps,
            loads=self._loads, initial_activity=activity, initial_is_afk=afk,
            initial_idle_since=idle_since, initial_status=status,
            large_threshold=large_threshold, shard_id=shard_id, shard_count=shard_count,
            token=self._token, url=url,
        )
        try:
            await new_shard.start()
        except Exception:
            if new_shard.is_alive:
                await new_shard.close()
            raise
        if not new_shard.is_alive:
            msg = f"shard {shard_id} shut down immediately when starting"
            raise RuntimeError(msg)
        self._shards[shard_id] = new_shard


def shard_plan(shard_ids: Sequence[int], shard_count: int | None) -> dict[str, Any]:
    """``bot.start`` arguments for this instance's shards (empty = all, Discord's count)."""
    if shard_count is None:
        return {}
    return {"shard_count": shard_count,
            "shard_ids": list(shard_ids) if shard_ids else list(range(shard_count))}
