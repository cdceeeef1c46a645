"""The storage plugin: database, migrations, the ``Storage`` service, ``llm_calls``."""

from __future__ import annotations

from typing import Any, ClassVar, cast

import asyncpg
from loguru import logger

from libra.bus import Subscription
from libra.errors import LibraError
from libra.events import LLMCallFinished
from libra.health import ComponentHealth, HealthRegistry, Status
from libra.plugin import Plugin, PluginContext, Services
from libra.storage import migrate
from libra.storage.api import LLMCallRecord, Storage
from libra.storage.db import Database
from libra.storage.repositories import PgStorage

_HEALTH_CHECKS = ("database", "migrations")


class StoragePlugin(Plugin):
    """Opens PostgreSQL, applies migrations and publishes ``Storage`` and ``Database``."""

    name: ClassVar[str] = "storage"

    def __init__(self) -> None:
        self._db: Database | None = None
        self._storage: PgStorage | None = None
        self._services: Services | None = None
        self._health: HealthRegistry | None = None
        self._subscription: Subscription | None = None
        self._migration_ids: list[str] = []

    @property
    def database(self) -> Database | None:
        """The open database (``None`` before start and after stop)."""
        return self._db

    async def start(self, ctx: PluginContext) -> None:
        """Connect, migrate, publish services and health checks, record LLM calls."""
        settings = ctx.settings.database
        self._db = await Database.open(settings, data_dir=ctx.settings.app.data_dir)
        self._migration_ids = migrate.migration_ids(settings.migrations_dir)
        if settings.migrate_on_start:
            await migrate.apply_async(self._db.dsn_for_yoyo(), settings.migrations_dir,
                                      connect_timeout=settings.connect_timeout)
        self._storage = PgStorage(self._db.pool, settings.query_timeout)
        self._services = ctx.services
        # Storage is a Protocol: mypy only accepts concrete classes for type[...] keys.
        ctx.services.register(cast(type[Any], Storage), self._storage)
        ctx.services.register(Database, self._db)
        self._health = ctx.services.find(HealthRegistry)
        if self._health is not None:
            self._health.register("database", self._check_database)
            self._health.register("migrations", self._check_migrations)
        self._subscription = ctx.bus.subscribe(LLMCallFinished, self._record_llm_call,
                                               name="storage.record_llm_call")

    async def stop(self) -> None:
        """Withdraw services, close the pool, stop the embedded server. Idempotent."""
        if self._subscription is not None:
            self._subscription.unsubscribe()
            self._subscription = None
        if self._health is not None:
            for name in _HEALTH_CHECKS:
                self._health.unregister(name)
            self._health = None
        if self._services is not None:
            self._services.unregister(cast(type[Any], Storage))
            self._services.unregister(Database)
            self._services = None
        self._storage = None
        db, self._db = self._db, None
        if db is not None:
            await db.close()

    async def _record_llm_call(self, event: LLMCallFinished) -> None:
        storage = self._storage
        if storage is None:
            return
        record = LLMCallRecord(
            model=event.model, language=event.language, prompt_tokens=event.prompt_tokens,
            completion_tokens=event.completion_tokens, first_token_ms=event.first_token_ms,
            latency_ms=event.latency_ms, cache_hit=event.cache_hit, error_code=event.error_code,
            guild_id=event.guild_id, user_id=event.user_id,
        )
        try:
            await storage.record_llm_call(record)
        except Exception as err:
            # Losing one statistics row must never disturb the reply it describes.
            logger.warning("could not record LLM call ({}): {}", event.correlation_id, err)

    async def _check_database(self) -> ComponentHealth:
        db = self._db
        if db is None:
            return ComponentHealth(name="database", status=Status.DOWN, detail="not started")
        kind = "embedded" if db.is_embedded else "external"
        try:
            ms = await db.ping()
        except LibraError as err:
            return ComponentHealth(name="database", status=Status.DOWN, detail=err.message,
                                   fix=err.hint)
        return ComponentHealth(name="database", status=Status.OK,
                               detail=f"{kind} PostgreSQL, round trip {ms:.1f} ms",
                               extra={"embedded": db.is_embedded, "ping_ms": round(ms, 2)})

    async def _check_migrations(self) -> ComponentHealth:
        db = self._db
        if db is None:
            return ComponentHealth(name="migrations", status=Status.DOWN, detail="not started")
        try:
            applied = {row["migration_id"] for row in await db.pool.fetch(
                "SELECT migration_id FROM _yoyo_migration")}
        except asyncpg.UndefinedTableError:
            applied = set()
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
