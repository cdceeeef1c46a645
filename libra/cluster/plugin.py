"""The shared parts of one process and their lifecycle (Redis connection, pub/sub, heartbeat).

:class:`Cluster` is built by the composition root when ``redis.url`` is set in
``libra run`` and hands out the shared implementations; :class:`ClusterPlugin` opens
and closes what they need. Constructing either does no I/O.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import ClassVar

from loguru import logger

from libra.bus import EventBus
from libra.cluster.api import InstanceRecord
from libra.cluster.discord_gates import RedisIdentifyGate, RedisRestGate
from libra.cluster.instances import InstanceRegistry, Snapshot
from libra.cluster.limiter import RedisUserBuckets
from libra.cluster.link import RedisLink, default_instance_name
from libra.cluster.pubsub import PubSubHub
from libra.cluster.slots import SharedSlots
from libra.cluster.topology import Topology, bot_namespace, check_topology
from libra.config import Settings
from libra.discord.gates import LimitsSource, RestGate
from libra.errors import PluginError
from libra.health import ComponentHealth, HealthRegistry, Status
from libra.llm.pool import ServerPool
from libra.plugin import Plugin, PluginContext

FLUSHED = "cache-flushed"


class Cluster:
    """What this process shares with the other instances of the bot, through Redis."""

    def __init__(self, settings: Settings, bus: EventBus) -> None:
        """Raises ``ConfigError`` for a topology that cannot work (``check_topology``)."""
        assert settings.redis.url is not None
        self.settings = settings
        self.topology: Topology = check_topology(settings)
        self.name = settings.app.instance_name or default_instance_name()
        self.link = RedisLink(settings.redis.url.get_secret_value(),
                              namespace=bot_namespace(settings))
        self.hub = PubSubHub(self.link)
        self.user_buckets = RedisUserBuckets(self.link, settings.discord)
        limit = settings.discord.rest_global_limit
        self.rest_gate: RestGate = RedisRestGate(
            self.link, limit, fallback_limit=max(1, limit // self.topology.instances))
        self.slots: SharedSlots | None = None
        self.figures: Snapshot = dict
        """This process's live figures for its heartbeat; the root sets it."""
        shards = ",".join(map(str, settings.discord.shard_ids)) or "all"
        self.registry = InstanceRegistry(self.link, name=self.name, shards=shards,
                                         heartbeat=settings.redis.heartbeat_seconds,
                                         snapshot=self._figures)
        self._flush_channel = self.link.key(FLUSHED)
        self._on_remote_flush: Callable[[str | None], None] | None = None

    def _figures(self) -> dict[str, int]:
        return self.figures()  # read at each beat: the root sets ``figures`` after building

    def share_slots(self, pool: ServerPool) -> SharedSlots:
        """The LLM slots every instance shares, over this process's ``pool``."""
        self.slots = SharedSlots(pool, self.link, self.hub,
                                 lease_seconds=self.settings.redis.lease_seconds,
                                 instance=self.name)
        return self.slots

    def identify_gate(self, limits: LimitsSource) -> RedisIdentifyGate:
        """Identify turns shared with every instance; ``limits`` asks Discord for them."""
        return RedisIdentifyGate(self.link, limits)

    def on_remote_flush(self, handler: Callable[[str | None], None]) -> None:
        """Call ``handler(namespace)`` when another instance flushed the response cache."""
        self._on_remote_flush = handler
        self.hub.listen(self._flush_channel, self._flush_message)

    async def flushed(self, namespace: str | None) -> None:
        """Tell every other instance about a flush done here (``FlushBroadcast``)."""
        await self.hub.publish(self._flush_channel,
                               json.dumps({"origin": self.name, "namespace": namespace}))

    def _flush_message(self, text: str) -> None:
        message = json.loads(text)
        if message.get("origin") != self.name and self._on_remote_flush is not None:
            self._on_remote_flush(message.get("namespace"))

    async def instances(self) -> list[InstanceRecord]:
        """Every live instance of the bot (this one included)."""
        return await self.registry.instances()


class ClusterPlugin(Plugin):
    """Connects to Redis, listens on pub/sub, renews slot leases and heartbeats."""

    name: ClassVar[str] = "cluster"

    def __init__(self, cluster: Cluster, *, health: HealthRegistry | None = None) -> None:
        """``cluster``: built in the composition root."""
        self.cluster = cluster
        self._health = health
        self._started = False

    async def start(self, ctx: PluginContext) -> None:
        """Check Redis answers, then start listening and heartbeating.

        Raises:
            PluginError: Redis does not answer (several instances cannot run safely).
        """
        cluster = self.cluster
        try:
            await cluster.link.ping()
        except Exception as err:
            raise PluginError(
                f"Redis does not answer ({err}): the instances cannot share Discord's "
                "limits, rate limits and LLM slots",
                hint="check that Redis runs and that REDIS_URL is right") from err
        self._started = True
        if cluster.hub.start():
            try:
                await asyncio.wait_for(cluster.hub.connected.wait(), 5.0)
            except TimeoutError:
                logger.warning("Redis pub/sub not connected yet; flushes from other "
                               "instances arrive once it is")
        if cluster.slots is not None:
            cluster.slots.start()
        await cluster.registry.beat()
        cluster.registry.start()
        if self._health is not None:
            self._health.register("cluster", self._check_health)
        logger.info("instance {} shares Redis with the other instances ({} configured)",
                    cluster.name, cluster.topology.instances)

    async def _check_health(self) -> ComponentHealth:
        try:
            found = await self.cluster.instances()
        except Exception as err:
            return ComponentHealth(name="cluster", status=Status.DEGRADED,
                                   detail=f"Redis failed: {err}",
                                   fix="check Redis; meanwhile each instance limits itself")
        return ComponentHealth(name="cluster", status=Status.OK,
                               detail=f"{len(found)} instance(s) live",
                               extra={"instances": [r.name for r in found]})

    async def stop(self) -> None:
        """Stop heartbeating (the record goes), return leases, close Redis (idempotent)."""
        if not self._started:
            return
        self._started = False
        cluster = self.cluster
        if self._health is not None:
            self._health.unregister("cluster")
        await cluster.registry.stop()
        if cluster.slots is not None:
            await cluster.slots.stop()
        await cluster.hub.stop()
        await cluster.link.close()
        # One line an operator (or bench/scaleout.py) can read the cost of sharing from.
        logger.info("instance {} stopped after {} Redis round trips by the shared parts",
                    cluster.name, cluster.link.round_trips)
