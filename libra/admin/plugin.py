"""The admin plugin: metrics collection and the admin HTTP server."""

from __future__ import annotations

from typing import ClassVar

from libra.health import HealthRegistry
from libra.metrics import MetricsRegistry
from libra.plugin import Plugin, PluginContext

from .collector import MetricsCollector
from .server import AdminServer


class AdminPlugin(Plugin):
    """Serves health, metrics, cache flush, stats and the operator page.

    Off unless ``admin.port`` is set. Critical when on: an admin port that was asked
    for but cannot start safely (no strong secret, port taken) stops Libra instead of
    leaving operators without their controls.
    """

    name = "admin"
    wants: ClassVar[tuple[str, ...]] = ("storage", "llm")
    critical: ClassVar[bool] = True

    def __init__(self) -> None:
        self._collector: MetricsCollector | None = None
        self._server: AdminServer | None = None

    @property
    def server(self) -> AdminServer | None:
        """The running server (``None`` before start or when the port is off)."""
        return self._server

    @property
    def collector(self) -> MetricsCollector | None:
        """The metrics collector (``None`` before start)."""
        return self._collector

    async def start(self, ctx: PluginContext) -> None:
        """Validate settings, subscribe the collector and bind the port.

        Raises:
            AdminSecretInvalid: the port is set without a secret of 32+ bytes.
            AdminError: the port cannot be bound.
        """
        settings = ctx.settings.admin
        if settings.port is None:
            return
        collector = MetricsCollector(ctx.bus, ctx.services, MetricsRegistry())
        redis_url = ctx.settings.redis.url
        server = AdminServer(settings, services=ctx.services,
                             health=ctx.services.find(HealthRegistry), collector=collector,
                             redis_url=redis_url.get_secret_value() if redis_url else None,
                             data_dir=ctx.settings.app.data_dir)
        collector.start()
        self._collector = collector
        await server.start()
        self._server = server
        ctx.services.register(MetricsRegistry, collector.registry)

    async def stop(self) -> None:
        """Close the port and unsubscribe (tolerates a partial start)."""
        server, self._server = self._server, None
        if server is not None:
            await server.stop()
        if self._collector is not None:
            self._collector.stop()
            self._collector = None
