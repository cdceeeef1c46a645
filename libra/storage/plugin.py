"""The storage plugin: database, migrations, the store ports, ``llm_calls``.

A database that is down at start does not keep Libra from starting: the stores exist
from construction (the composition root hands them to chat and language; reads fail
fast, a turn's writes are queued), and the plugin keeps trying to connect with a
capped, doubling backoff; once it connects it applies the migrations and stores what
was queued. Health says ``degraded`` until then.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import ClassVar

import asyncpg
from loguru import logger

from libra.bus import Subscription
from libra.config import Settings
from libra.errors import DatabaseUnavailable, LibraError, StorageError
from libra.events import LLMCallFinished
from libra.health import ComponentHealth, HealthRegistry, Status
from libra.metrics import MetricsRegistry
from libra.plugin import Plugin, PluginContext
from libra.storage import migrate
from libra.storage.api import LLMCallRecord, UsageStats
from libra.storage.db import Database
from libra.storage.durable import DurableStorage
from libra.storage.repositories import PgStorage
from libra.storage.stats import DatabaseUsageStats
from libra.storage.writebehind import WriteBehindQueue

_HEALTH_CHECKS = ("database", "migrations")
_FIRST_RETRY = 1.0


class StoragePlugin(Plugin):
    """Opens PostgreSQL, applies migrations and backs the store ports with it."""

    name: ClassVar[str] = "storage"

    def __init__(self, settings: Settings, *, health: HealthRegistry | None = None,
                 metrics: MetricsRegistry | None = None) -> None:
        """Build the stores (no I/O: the queue file and the database open in ``start``)."""
        database = settings.database
        self._queue = WriteBehindQueue(settings.app.data_dir, max_writes=database.write_queue_max)
        self.stores = DurableStorage(self._queue, write_timeout=database.query_timeout)
        """Every store port (``ChatStore``, ``LanguageStore``, ...), write-behind."""
        self.usage: UsageStats = DatabaseUsageStats(lambda: self.database)
        """The ``UsageStats`` port over the connected database."""
        self._durable: DurableStorage | None = None
        self._health_registry = health
        self._metrics = metrics
        self._health: HealthRegistry | None = None
        self._subscriptions: list[Subscription] = []
        self._migration_ids: list[str] = []
        self._connector: asyncio.Task[None] | None = None
        self._attempts = 0
        self._next_attempt_at = 0.0
        self._gave_up: LibraError | None = None

    @property
    def database(self) -> Database | None:
        """The open database (``None`` before it connects and after stop)."""
        return self._durable.database if self._durable is not None else None

    @property
    def storage(self) -> DurableStorage | None:
        """The running stores (``None`` before start and after stop)."""
        return self._durable

    async def start(self, ctx: PluginContext) -> None:
        """Publish storage, then connect and migrate now or, if the database is down, later."""
        settings = ctx.settings.database
        self._migration_ids = migrate.migration_ids(settings.migrations_dir)
        self._durable = self.stores
        await self._queue.open()
        try:
            await self._connect(ctx)
        except DatabaseUnavailable as err:
            self._failed_attempt(err, _FIRST_RETRY)
            self._connector = asyncio.get_running_loop().create_task(
                self._connect_later(ctx), name="storage:connect")
        self._health = self._health_registry
        if self._health is not None:
            self._health.register("database", self._check_database)
            self._health.register("migrations", self._check_migrations)
        self._subscriptions = [
            ctx.bus.subscribe(LLMCallFinished, self._record_llm_call,
                              name="storage.record_llm_call"),
        ]
        self._add_metrics()

    async def _connect(self, ctx: PluginContext) -> None:
        assert self._durable is not None
        settings = ctx.settings.database
        self._attempts += 1
        db = await Database.open(settings, data_dir=ctx.settings.app.data_dir)
        try:
            if settings.migrate_on_start:
                await migrate.apply_async(db.dsn_for_yoyo(), settings.migrations_dir,
                                          connect_timeout=settings.connect_timeout)
        except BaseException:
            await db.close()
            raise
        self._durable.attach(db, PgStorage(db.pool.raw, settings.query_timeout))

    def _failed_attempt(self, err: DatabaseUnavailable, retry_in: float) -> None:
        assert self._durable is not None
        self._durable.waiting_for = f"not connected to the database yet ({err.message})"
        self._next_attempt_at = time.monotonic() + retry_in
        # One line per attempt, no traceback: the outage may last hours.
        logger.warning("database unavailable (attempt {}): {}; answering without history "
                       "and memory, queuing writes; next attempt in {:g}s",
                       self._attempts, err.message, retry_in)

    async def _connect_later(self, ctx: PluginContext) -> None:
        delay = _FIRST_RETRY
        while True:
            await asyncio.sleep(delay)
            try:
                await self._connect(ctx)
            except DatabaseUnavailable as err:
                delay = min(delay * 2, ctx.settings.database.retry_max_delay)
                self._failed_attempt(err, delay)
                continue
            except LibraError as err:
                self._gave_up = err
                logger.error("storage gave up on the database: {}", err)
                return
            logger.info("database connected after {} attempts", self._attempts)
            return

    async def stop(self) -> None:
        """Keep queued writes on disk, close the pool. Idempotent."""
        for subscription in self._subscriptions:
            subscription.unsubscribe()
        self._subscriptions = []
        connector, self._connector = self._connector, None
        if connector is not None:
            connector.cancel()
            await asyncio.gather(connector, return_exceptions=True)
        if self._health is not None:
            for name in _HEALTH_CHECKS:
                self._health.unregister(name)
            self._health = None
        durable, self._durable = self._durable, None
        if durable is not None:
            db = durable.database
            await durable.close()
            if db is not None:
                await db.close()

    async def _record_llm_call(self, event: LLMCallFinished) -> None:
        storage = self._durable
        if storage is None:
            return
        record = LLMCallRecord(
            model=event.model, language=event.language, prompt_tokens=event.prompt_tokens,
            completion_tokens=event.completion_tokens, first_token_ms=event.first_token_ms,
            latency_ms=event.latency_ms, cache_hit=event.cache_hit, error_code=event.error_code,
            guild_id=event.guild_id, user_id=event.user_id, created_at=datetime.now(UTC),
        )
        try:
            await storage.record_llm_call(record)
        except StorageError as err:
            # Losing one statistics row must never disturb the reply it describes.
            logger.warning("could not record LLM call ({}): {}", event.correlation_id, err)

    def _add_metrics(self) -> None:
        registry, self._metrics = self._metrics, None  # once: a family is registered once
        durable = self._durable
        if registry is None or durable is None:
            return
        queued = registry.gauge("libra_storage_queued_writes",
                                "Writes waiting for the database (write-behind queue).")
        refused = registry.counter("libra_storage_refused_writes_total",
                                   "Writes refused because the write-behind queue was full.")
        down = registry.gauge("libra_database_unavailable",
                              "1 while the database is not connected or known to be down.")

        def probe() -> None:
            queued.set(durable.queued)
            refused.set_total(durable.refused)
            db = durable.database
            down.set(1 if db is None or db.breaker.is_open else 0)

        registry.add_probe(probe)

    # -- health ----------------------------------------------------------------------

    def _queue_extra(self, durable: DurableStorage) -> dict[str, object]:
        return {"queued_writes": durable.queued, "refused_writes": durable.refused}

    async def _check_database(self) -> ComponentHealth:
        durable = self._durable
        if durable is None:
            return ComponentHealth(name="database", status=Status.DOWN, detail="not started")
        extra = self._queue_extra(durable)
        queued = f"{durable.queued} writes queued"
        if self._gave_up is not None:
            return ComponentHealth(name="database", status=Status.DOWN,
                                   detail=self._gave_up.message, fix=self._gave_up.hint,
                                   extra=extra)
        # Refusing writes loses data: that is down, not merely degraded.
        degraded = Status.DOWN if durable.refusing else Status.DEGRADED
        db = durable.database
        if db is None:
            wait = max(0.0, self._next_attempt_at - time.monotonic())
            return ComponentHealth(
                name="database", status=degraded,
                detail=f"{durable.waiting_for}; attempt {self._attempts + 1} in {wait:.0f}s; "
                f"answering without history and memory, {queued}",
                fix="check that PostgreSQL runs and DATABASE_URL is right", extra=extra)
        if db.breaker.is_open:
            return ComponentHealth(
                name="database", status=degraded,
                detail=f"unavailable for {db.breaker.down_seconds:.0f}s ({db.breaker.reason}); "
                f"answering without history and memory, {queued}",
                fix="check that PostgreSQL runs and its host is reachable", extra=extra)
        kind = "embedded" if db.is_embedded else "external"
        try:
            ms = await db.ping()
        except LibraError as err:
            return ComponentHealth(name="database", status=degraded, detail=err.message,
                                   fix=err.hint, extra=extra)
        detail = f"{kind} PostgreSQL, round trip {ms:.1f} ms"
        extra |= {"embedded": db.is_embedded, "ping_ms": round(ms, 2)}
        if durable.queued:
            return ComponentHealth(name="database", status=degraded,
                                   detail=f"{detail}; storing {queued}", extra=extra)
        return ComponentHealth(name="database", status=Status.OK, detail=detail, extra=extra)

    async def _check_migrations(self) -> ComponentHealth:
        durable = self._durable
        db = durable.database if durable is not None else None
        if durable is None:
            return ComponentHealth(name="migrations", status=Status.DOWN, detail="not started")
        if db is None:
            status = Status.DOWN if self._gave_up is not None else Status.DEGRADED
            return ComponentHealth(name="migrations", status=status,
                                   detail="applied once the database connects")
        try:
            applied = {row["migration_id"] for row in await db.pool.fetch(
                "SELECT migration_id FROM _yoyo_migration")}
        except asyncpg.UndefinedTableError:
            applied = set()
        except DatabaseUnavailable as err:
            return ComponentHealth(name="migrations", status=Status.DEGRADED,
                                   detail=f"cannot read the migration log: {err.message}")
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as err:
            return ComponentHealth(name="migrations", status=Status.DOWN,
                                   detail=f"cannot read the migration log: {err}")
        pending = [m for m in self._migration_ids if m not in applied]
        if pending:
            return ComponentHealth(
                name="migrations", status=Status.DEGRADED,
                detail=f"{len(pending)} pending: {', '.join(pending)}",
                fix="run `libra migrate`", extra={"pending": pending})
        return ComponentHealth(name="migrations", status=Status.OK,
                               detail=f"{len(self._migration_ids)} applied",
                               extra={"pending": []})
