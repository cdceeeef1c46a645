"""The admin plugin: metrics collection and the admin HTTP server."""

from __future__ import annotations

from typing import ClassVar

from libra.cluster.api import InstanceDirectory
from libra.health import HealthRegistry
from libra.llm.api import LLMService
from libra.metrics import MetricsRegistry
from libra.plugin import Plugin, PluginContext
from libra.storage.api import UsageStats

from .api import TranslationStatsSource, VoiceDiagnosticsSource, VoiceLatencySource
from .collector import MetricsCollector
from .server import AdminServer


class AdminPlugin(Plugin):
    """Serves health, metrics, cache flush, stats and the operator page.

    Off unless ``admin.port`` is set. Critical when on: an admin port that was asked
    for but cannot start safely (no strong secret, port taken) stops Libra instead of
    leaving operators without their controls.
    """

    name = "admin"
    critical: ClassVar[bool] = True

    def __init__(self, *, metrics: MetricsRegistry | None = None,
                 health: HealthRegistry | None = None, llm: LLMService | None = None,
                 usage: UsageStats | None = None,
                 voice: VoiceDiagnosticsSource | None = None,
                 voice_turns: VoiceLatencySource | None = None,
                 translations: TranslationStatsSource | None = None,
                 instances: InstanceDirectory | None = None) -> None:
        """The ports admin reads; each absent one turns its endpoints to 503.

        ``metrics`` is the registry other parts add their families to (storage, the
        voice latency board); a fresh one without it. ``voice_turns`` adds the voice
        latency section to the status page and ``/api/stats`` (left out without it);
        ``instances`` lists the bot's live instances on the status page (several
        processes sharing Redis); ``None`` for a single process.
        """
        self.metrics = metrics if metrics is not None else MetricsRegistry()
        self._health = health
        self._llm = llm
        self._usage = usage
        self._voice = voice
        self._voice_turns = voice_turns
        self._translations = translations
        self._instances = instances
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
        collector = MetricsCollector(ctx.bus, self.metrics, usage=self._usage, voice=self._voice)
        redis_url = ctx.settings.redis.url
        server = AdminServer(settings, health=self._health, collector=collector, llm=self._llm,
                             usage=self._usage,
                             redis_url=redis_url.get_secret_value() if redis_url else None,
                             data_dir=ctx.settings.app.data_dir, voice_turns=self._voice_turns,
                             translations=self._translations,
                             instances=self._instances)
        collector.start()
        self._collector = collector
        await server.start()
        self._server = server

    async def stop(self) -> None:
        """Close the port and unsubscribe (tolerates a partial start)."""
        server, self._server = self._server, None
        if server is not None:
            await server.stop()
        if self._collector is not None:
            self._collector.stop()
            self._collector = None
