"""The composition root: settings → the object graph → plugins, and the process lifecycle."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from loguru import logger

from libra.bus import EventBus
from libra.chat.api import ChatService
from libra.chat.plugin import ChatPlugin
from libra.chat.service import ChatServiceImpl
from libra.config import Settings
from libra.errors import LibraError, PluginError
from libra.events import AppReady, AppStopping, CriticalFailure
from libra.health import HealthRegistry
from libra.heartbeat import HeartbeatPlugin
from libra.language.api import LanguageService
from libra.language.plugin import LanguagePlugin
from libra.language.service import ChannelLanguageService
from libra.llm.api import LLMBackend
from libra.llm.plugin import LLMPlugin, build_llm
from libra.llm.service import PooledLLMService
from libra.metrics import MetricsRegistry
from libra.plugin import Plugin, PluginManager
from libra.storage.api import TranslationStore
from libra.storage.plugin import StoragePlugin
from libra.translate.api import TranslationFeature
from libra.translate.glossary import GuildGlossary
from libra.translate.records import TranslationRecords
from libra.translate.service import LLMTranslator
from libra.voice.latency_board import LatencyBoard

if TYPE_CHECKING:
    import hikari

    from libra.admin.api import VoiceDiagnosticsSource
    from libra.admin.plugin import AdminPlugin
    from libra.cluster.plugin import Cluster, ClusterPlugin
    from libra.discord.deps import DiscordDeps
    from libra.discord.plugin import ConversationsFactory, DiscordPlugin
    from libra.voice.api import SpeechEngines
    from libra.voice.pipeline import VoicePipeline


class Mode(StrEnum):
    """What the process is for; it decides which plugins are built."""

    RUN = "run"
    """The Discord bot."""
    CHAT = "chat"
    """The local console: no Discord."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Graph:
    """The object graph of one process, named part by part (see docs/architecture.md)."""

    settings: Settings
    bus: EventBus
    health: HealthRegistry
    storage: StoragePlugin
    language: LanguagePlugin
    llm: LLMPlugin
    chat: ChatPlugin
    translation: TranslationFeature
    """No plugin: nothing to start (its parts only call the LLM and the stores)."""
    admin: AdminPlugin | None
    """``None`` unless ``admin.port`` is set."""
    discord: DiscordPlugin | None
    """``None`` in ``libra chat``."""
    speech: VoicePipeline | None = None
    """Speech in and out over chat (``None`` when voice is disabled or its extra is not
    installed); models load on the first turn that needs them."""
    heartbeat: HeartbeatPlugin | None = None
    """``libra run`` only: the file ``libra health`` reads; last, so it beats once all is up."""
    voice_turns: LatencyBoard | None = None
    """Recent voice turns' latency (``/voice status``, ``/stats``, ``/metrics``, the
    operator page); ``None`` when voice is disabled."""
    cluster: ClusterPlugin | None = None
    """What this instance shares with the others through Redis (``libra run`` with
    ``redis.url``); ``None`` otherwise."""

    @property
    def plugins(self) -> list[Plugin]:
        """The lifecycle holders, in start order."""
        parts: list[Plugin | None] = [self.cluster, self.storage, self.language, self.llm,
                                      self.chat, self.admin, self.discord, self.heartbeat]
        return [p for p in parts if p is not None]


def build_graph(settings: Settings, mode: Mode, *,
                llm_backends: list[LLMBackend] | None = None,
                speech_engines: SpeechEngines | None = None) -> Graph:
    """Build every part by constructor, in start order, handing each the ports it needs.

    No I/O happens here: each plugin acquires its resources in ``start``. This is
    the one place where implementations are chosen: in-process ``LLMSlots``,
    ``RateLimiter`` and Discord gates, or, in ``libra run`` with ``redis.url`` set,
    the ones every instance shares (``libra/cluster/``, docs/scale-out.md).
    ``llm_backends`` replaces the configured model servers (tests, benchmarks);
    ``speech_engines`` the speech engines (tests share loaded models between apps).

    Raises:
        ConfigError: several instances are configured without Redis or with the
            embedded database.
    """
    bus = EventBus()
    health = HealthRegistry()
    admin_on = settings.admin.port is not None
    metrics = MetricsRegistry() if admin_on else None
    cluster = _cluster(settings, bus, mode)
    storage = StoragePlugin(settings, health=health, metrics=metrics)
    stores = storage.stores
    language = LanguagePlugin(ChannelLanguageService(settings, bus, stores), health=health)
    llm_service = build_llm(settings, bus, llm_backends,
                            share=cluster.share_slots if cluster is not None else None)
    llm = LLMPlugin(llm_service, health=health)
    if cluster is not None:
        llm_service.broadcast = cluster
        cluster.on_remote_flush(llm_service.flushed_elsewhere)
    cluster_plugin: ClusterPlugin | None = None
    if cluster is not None:
        from libra.cluster import plugin as cluster_parts  # noqa: PLC0415 (redis: run only)

        cluster_plugin = cluster_parts.ClusterPlugin(cluster, health=health)
    chat_service = ChatServiceImpl(
        settings=settings.chat, bus=bus, language=language.service, llm=llm.service,
        storage=stores,
        prompt_window=max(settings.llm.num_ctx - settings.llm.num_predict,
                          settings.llm.num_ctx // 2),
    )
    chat = ChatPlugin(chat_service, needs=(language, llm))
    translation = build_translation(settings, llm=llm, language=language, stores=stores)
    speech = build_speech(settings, bus, chat_service, engines=speech_engines,
                          language=language.service)
    voice_turns = LatencyBoard(bus, metrics=metrics) if settings.voice.enabled else None
    voice: VoiceDiagnosticsSource | None = None
    discord: DiscordPlugin | None = None
    if mode is Mode.RUN:
        # Imported here: ``libra chat`` never loads hikari (start-up time).
        from libra.discord.permissions import UsageLimiter  # noqa: PLC0415
        from libra.discord.plugin import DiscordPlugin  # noqa: PLC0415
        from libra.discord.voice.registry import VoiceConnectionRegistry  # noqa: PLC0415
        from libra.storage.voice import DatabaseVoiceStore  # noqa: PLC0415
        from libra.translate.links_store import PgLinkStore  # noqa: PLC0415

        voice = registry = VoiceConnectionRegistry()
        limiter = UsageLimiter(settings.discord,
                               shared=cluster.user_buckets if cluster is not None else None)
        # Several instances without their shared limits would break Discord's: the bot
        # does not connect unless the cluster plugin (Redis) started.
        scaled_out = cluster_plugin is not None and cluster_plugin.cluster.topology.scaled_out
        discord = DiscordPlugin(chat=chat_service, language=language.service, llm=llm.service,
                                limiter=limiter, voice=registry,
                                health=health, usage=storage.usage, translation=translation,
                                voice_store=DatabaseVoiceStore(
                                    lambda: storage.database,
                                    timeout=settings.database.query_timeout),
                                links=PgLinkStore(lambda: storage.database),
                                voice_turns=voice_turns,
                                conversations=voice_conversations(speech, voice_turns),
                                shared=cluster, instances=cluster,
                                needs=(chat, language, llm,
                                       *((cluster_plugin,) if scaled_out and cluster_plugin
                                         else ())))
        if cluster is not None:
            cluster.figures = _figures(discord, llm_service)
    admin: AdminPlugin | None = None
    if admin_on:
        from libra.admin.plugin import AdminPlugin  # noqa: PLC0415

        admin = AdminPlugin(metrics=metrics, health=health, llm=llm.service,
                            usage=storage.usage, voice=voice, voice_turns=voice_turns,
                            translations=stores, instances=cluster)
    heartbeat = HeartbeatPlugin(health) if mode is Mode.RUN else None
    return Graph(settings=settings, bus=bus, health=health, storage=storage,
                 language=language, llm=llm, chat=chat, translation=translation, admin=admin,
                 discord=discord, speech=speech, heartbeat=heartbeat, voice_turns=voice_turns,
                 cluster=cluster_plugin)


def build_translation(settings: Settings, *, llm: LLMPlugin, language: LanguagePlugin,
                      stores: TranslationStore | None) -> TranslationFeature:
    """The translator, glossary, history and opt-ins over the LLM, language and stores."""
    glossary = GuildGlossary(stores, max_entries=settings.translate.glossary_max_entries)
    records = TranslationRecords(stores)
    translator = LLMTranslator(settings.translate, settings.language, llm=llm.service,
                               language=language.service, store=stores, glossary=glossary)
    return TranslationFeature(translator=translator, glossary=glossary, history=records,
                              opt_in=records)


def voice_conversations(speech: VoicePipeline | None,
                        board: LatencyBoard | None = None) -> ConversationsFactory | None:
    """What answers aloud in the voice channels Libra joins (``None`` without a pipeline).

    ``board`` adds the recent turns' latency to ``/voice status``.
    """
    if speech is None:
        return None
    from libra.discord.voice_conversation import DiscordVoiceConversations  # noqa: PLC0415

    def build(bot: hikari.GatewayBot, deps: DiscordDeps) -> DiscordVoiceConversations:
        return DiscordVoiceConversations(pipeline=speech, bot=bot, deps=deps, board=board)

    return build


def build_speech(settings: Settings, bus: EventBus, chat: ChatService, *,
                 engines: SpeechEngines | None = None,
                 language: LanguageService | None = None) -> VoicePipeline | None:
    """The voice pipeline over ``chat``, or None when voice is off or cannot run here.

    A live speaker is heard in the channel's reply language (``language``), so each
    configured language's own model serves it: no multilingual model is needed.

    Cheap: nothing is loaded until a turn needs it (a Vosk model is hundreds of MB and
    seconds to load), so start-up time does not depend on the voice models.
    ``engines`` replaces the engines built from the settings (tests, benchmarks).
    """
    if not settings.voice.enabled:
        return None
    try:
        # Imported here: the pipeline needs numpy (the voice extra); ``libra chat``
        # without voice never pays for it.
        from libra.voice.backends.language import TranscriptLanguage  # noqa: PLC0415
        from libra.voice.engines import LocalSpeechEngines, models_root  # noqa: PLC0415
        from libra.voice.models.store import ModelStore  # noqa: PLC0415
        from libra.voice.pipeline import VoicePipeline  # noqa: PLC0415
    except ImportError as err:
        logger.info("voice pipeline off: {} (pip install 'libra[voice]')", err)
        return None
    if engines is None:
        store = ModelStore(models_root(settings.voice, settings.app.data_dir))
        engines = LocalSpeechEngines(settings.voice, store)
    # One transcript-language rule for every engine: the one Whisper settles with,
    # here for transcripts whose engine names no language.
    languages = TranscriptLanguage(settings.voice.languages, default=settings.language.default,
                                   zh_default=settings.language.zh_default)
    listen_language = None
    if language is not None:
        service = language

        async def listen_language(channel_id: int, user_id: int) -> str | None:
            # The channel's reply language: an empty message never moves it.
            return await service.message_language(channel_id, "")

    return VoicePipeline(engines=engines, chat=chat, bus=bus, settings=settings.voice,
                         guess=languages.settle, listen_language=listen_language)


def _cluster(settings: Settings, bus: EventBus, mode: Mode) -> Cluster | None:
    """The shared parts, in ``libra run`` with Redis; otherwise check nothing is missing."""
    if mode is not Mode.RUN:
        return None  # the console is one local process whatever the bot's topology
    from libra.cluster.topology import check_topology  # noqa: PLC0415

    check_topology(settings)  # several instances need Redis and an external database
    if settings.redis.url is None:
        return None
    from libra.cluster.plugin import Cluster  # noqa: PLC0415

    return Cluster(settings, bus)


def _figures(discord: DiscordPlugin, llm: PooledLLMService) -> Callable[[], dict[str, int]]:
    """This instance's live figures for its heartbeat record."""

    def figures() -> dict[str, int]:
        bot = discord.bot
        guilds = len(bot.cache.get_guilds_view()) if bot is not None else 0
        return {"guilds": guilds, "llm_active": sum(s.active for s in llm.server_states())}

    return figures


class LibraApp:
    """Owns the bus, the health registry and the plugin manager of one process."""

    @classmethod
    def of(cls, graph: Graph) -> LibraApp:
        """The app running ``graph``'s plugins."""
        app = cls(graph.settings, graph.plugins, bus=graph.bus, health=graph.health)
        app.graph = graph
        return app

    def __init__(self, settings: Settings, plugins: list[Plugin], *,
                 bus: EventBus | None = None, health: HealthRegistry | None = None) -> None:
        """``plugins`` in start order; ``bus`` and ``health`` those the parts were built with."""
        self.settings = settings
        self.bus = bus if bus is not None else EventBus()
        self.health = health if health is not None else HealthRegistry()
        self.manager = PluginManager(plugins, settings, self.bus)
        self.graph: Graph | None = None
        """The object graph the plugins belong to (``None`` for a hand-made list)."""
        self._stopping = asyncio.Event()
        self._started = False
        self.failure: str | None = None
        """Why a critical plugin gave up while running (``CriticalFailure``), if it did."""
        self.bus.subscribe(CriticalFailure, self._on_critical_failure)

    async def start(self) -> float:
        """Start every plugin; return the seconds it took.

        Raises:
            PluginError: a critical plugin failed (the others are stopped again).
        """
        t0 = time.perf_counter()
        self._started = True
        await self.manager.start_all()
        critical = [p.name for p in self.manager.plugins
                    if p.critical and p.name in self.manager.failed]
        if critical:
            await self.stop("critical plugin failed")
            raise PluginError(f"cannot run without: {', '.join(critical)}",
                              hint="see the errors above")
        if self.manager.aborted:  # a stop was requested; the caller stops the rest
            return time.perf_counter() - t0
        seconds = time.perf_counter() - t0
        failed = tuple(self.manager.failed)
        self.bus.publish(AppReady(seconds=seconds, failed=failed))
        if failed:
            logger.warning("Libra ready in {:.2f}s without: {}", seconds, ", ".join(failed))
        else:
            logger.info("Libra ready in {:.2f}s", seconds)
        return seconds

    async def stop(self, reason: str = "shutdown") -> None:
        """Stop plugins in reverse order and close the bus; safe to call twice."""
        if not self._started:
            return
        self._started = False
        self.bus.publish(AppStopping(reason=reason))
        await self.manager.stop_all()
        speech = self.graph.speech if self.graph is not None else None
        if speech is not None:
            # Not a plugin (it starts nothing; models load on use), but its loaded
            # models own threads: released once the plugins that used it stopped.
            try:
                speech.close()
            except Exception as err:  # the bus must still close
                logger.opt(exception=err).error("closing the voice pipeline failed")
        await self.bus.close(timeout=self.settings.app.shutdown_timeout)

    async def _on_critical_failure(self, event: CriticalFailure) -> None:
        logger.error("stopping: {} can no longer work ({})", event.name, event.message)
        self.failure = f"{event.name}: {event.message}"
        self.request_stop()

    def request_stop(self) -> None:
        """Ask ``run_until_stopped`` to return (signal handlers call this)."""
        if self._stopping.is_set():
            logger.warning("already stopping; waiting for plugins to finish "
                           "(SIGKILL forces it, but the embedded database may then linger "
                           "until the next start)")
        self._stopping.set()

    async def _start_unless_stopped(self) -> None:
        """Start, but give up when a stop is requested first (Ctrl-C while connecting)."""
        starting = asyncio.ensure_future(self.start())
        stop_requested = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({starting, stop_requested}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop_requested.cancel()
            if not starting.done():
                logger.info("stop requested while {} was starting; stopping what has started",
                            self.manager.starting or "Libra")
                # Cancels only a plugin's start, never a stop already under way.
                self.manager.abort_start()
                # The cancelled start then gets its (bounded) stop; one that ignores
                # the cancellation must not hold the process for ever.
                budget = 3 * self.settings.app.shutdown_timeout
                if not (await asyncio.wait({starting}, timeout=budget))[0]:
                    starting.cancel()
                    await asyncio.wait({starting}, timeout=budget)
        if starting.done() and not starting.cancelled():
            starting.result()  # re-raise a critical failure

    async def run_until_stopped(self) -> None:
        """Start, wait for SIGINT/SIGTERM (or ``request_stop``), then stop cleanly."""
        loop = asyncio.get_running_loop()
        installed: list[signal.Signals] = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, self.request_stop)
                installed.append(sig)
            except (NotImplementedError, RuntimeError):  # not the main thread / platform
                pass
        try:
            await self._start_unless_stopped()
            await self._stopping.wait()
        finally:
            # Handlers stay installed while stopping: a second SIGTERM or Ctrl-C must
            # not kill the process half-way and leave the embedded database running.
            try:
                await self.stop("signal")
            finally:
                for sig in installed:
                    loop.remove_signal_handler(sig)


async def run_app(settings: Settings, mode: Mode) -> int:
    """Run Libra in ``mode`` until a signal arrives; return the exit code."""
    app = LibraApp.of(build_graph(settings, mode))
    try:
        await app.run_until_stopped()
    except LibraError as err:
        logger.error("{}", err)
        return 1
    return 1 if app.failure else 0
