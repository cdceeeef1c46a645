"""The Discord plugin: a hikari ``GatewayBot`` with lightbulb slash commands and chat triggers."""

from __future__ import annotations

import math
from collections.abc import Callable

import hikari
import lightbulb
from loguru import logger

from libra.bus import EventBus
from libra.chat.answer import failure_message
from libra.chat.api import ChatService
from libra.cluster.api import InstanceDirectory
from libra.config import Settings
from libra.discord.api import (
    RateLimiter,
    SharedDiscordLimits,
    VoiceConversations,
    VoiceTurnFigures,
)
from libra.discord.commands import extensions
from libra.discord.commands.deferral import defer_if_slow
from libra.discord.conversation import Responder
from libra.discord.deps import DiscordDeps
from libra.discord.gates import (
    GatewayLimits,
    IdentifyGate,
    LocalIdentifyGate,
    LocalRestGate,
    RestGate,
)
from libra.discord.onboarding import (
    AUTHENTICATION_FAILED_CLOSE_CODE,
    commands_refused,
    disallowed_intents_explanation,
    intents_for,
    is_disallowed_intents,
)
from libra.discord.pacing import EditPacer
from libra.discord.permissions import AccessPolicy
from libra.discord.ratelimits import RateLimitWatcher
from libra.discord.sharding import GatedGatewayBot, shard_plan
from libra.discord.stage_stats import StageStats
from libra.discord.translate_relay import TranslationRelay
from libra.discord.triggers import MessageTriggers
from libra.discord.voice.registry import VoiceConnectionRegistry
from libra.discord.voice_sessions import VoiceSessions
from libra.errors import ConfigError, LibraError, PluginError
from libra.events import CriticalFailure, DiscordReady, ReplyFinished, new_correlation_id
from libra.health import ComponentHealth, HealthRegistry, Status
from libra.language.api import LanguageService
from libra.llm.api import LLMService
from libra.plugin import Plugin, PluginContext
from libra.storage.api import UsageStats, VoiceChannelStore
from libra.tasks import TaskGroup
from libra.translate.api import TranslationFeature
from libra.translate.links import LinkStore

ConversationsFactory = Callable[[hikari.GatewayBot, DiscordDeps], VoiceConversations]
"""Builds what holds the spoken conversations once the bot exists (it posts, reads the
cache and shares the edit pacer)."""


class DiscordPlugin(Plugin):
    """Connects to Discord, syncs slash commands and answers conversations."""

    name = "discord"
    critical = True

    def __init__(self, *, chat: ChatService, language: LanguageService, llm: LLMService,
                 limiter: RateLimiter, voice: VoiceConnectionRegistry,
                 health: HealthRegistry | None = None, usage: UsageStats | None = None,
                 voice_store: VoiceChannelStore | None = None,
                 conversations: ConversationsFactory | None = None,
                 translation: TranslationFeature | None = None,
                 links: LinkStore | None = None,
                 voice_turns: VoiceTurnFigures | None = None,
                 shared: SharedDiscordLimits | None = None,
                 instances: InstanceDirectory | None = None,
                 needs: tuple[Plugin, ...] = ()) -> None:
        """The parts the bot answers with, handed in by the composition root.

        ``voice`` is where voice connections list themselves (admin reads it);
        ``voice_store`` remembers the voice channels Libra is in (rejoined at start)
        and guild voice preferences; ``conversations`` builds what holds the spoken
        conversation in each joined channel (``None``: Libra joins, nothing more);
        ``shared`` paces identifies and REST together with the other instances of the
        bot (``None``: this process alone) and ``instances`` lists them for ``/stats``;
        ``needs`` are the plugins of ``chat``, ``language`` and ``llm`` (and the
        cluster's when several instances run). With both a ``translation`` and ``links``
        (the linked-channel store), linked and auto-translated channels work.
        ``voice_turns`` gives ``/stats`` its voice line.
        """
        self._links = links
        self._chat = chat
        self._language = language
        self._llm = llm
        self._limiter = limiter
        self.voice = voice
        self._health = health
        self._usage = usage
        self._voice_store = voice_store
        self._conversations = conversations
        self._voice_turns = voice_turns
        self.conversations: VoiceConversations | None = None
        """The spoken conversations, once started (tests and benchmarks read them)."""
        self.voice_sessions: VoiceSessions | None = None
        self._translation = translation
        self._shared = shared
        self._instances = instances
        self.needs = needs
        self.bot: GatedGatewayBot | None = None
        self.client: lightbulb.Client | None = None
        self.deps: DiscordDeps | None = None
        self._ctx: PluginContext | None = None
        self._watcher: RateLimitWatcher | None = None
        self._lost: str | None = None
        """Why the gateway closed for good while running (hikari does not reconnect)."""

    async def start(self, ctx: PluginContext) -> None:
        """Build the bot, sync commands (fatal if that fails), connect, publish ``DiscordReady``.

        Raises:
            ConfigError: no token is configured.
            PluginError: Discord refused the token or the intents, or lightbulb failed.
        """
        settings = ctx.settings.discord
        if settings.token is None:
            raise ConfigError("no Discord bot token", hint="run `libra run` for the setup steps")
        self._ctx = ctx
        deps = self.deps = self._build_deps(ctx.settings, ctx.bus, ctx.tasks)
        try:
            # The optimisation-level warning is about asserts in hikari itself: nothing
            # an operator of Libra can or should act on at every start.
            identify, rest = self._gates(settings.rest_global_limit)
            bot = self.bot = GatedGatewayBot(
                settings.token.get_secret_value(), identify_gate=identify, rest_gate=rest,
                rest_url=settings.rest_url, banner=None, logs=None,
                intents=intents_for(settings), suppress_optimization_warning=True)
        except ValueError as malformed:  # hikari cannot read the application id in it
            raise ConfigError("the Discord bot token is malformed",
                              hint="copy the bot token again from the Bot page of your "
                              "application into DISCORD_TOKEN") from malformed
        client = self.client = lightbulb.client_from_app(
            bot, default_enabled_guilds=settings.guild_ids)
        client.di.registry_for(lightbulb.di.Contexts.DEFAULT).register_value(DiscordDeps, deps)
        for loader in extensions():
            await loader.add_to_client(client)
        client.error_handler(self._on_command_error)
        start_errors: list[Exception] = []

        async def start_client(_: hikari.StartingEvent) -> None:
            # hikari only logs a failure here and connects anyway; remember it instead.
            try:
                await client.start()
            except Exception as err:
                start_errors.append(err)

        bot.subscribe(hikari.StartingEvent, start_client)
        bot.subscribe(hikari.MessageCreateEvent, MessageTriggers(bot, deps).on_message)
        if self._conversations is not None and ctx.settings.voice.enabled:
            self.conversations = self._conversations(bot, deps)
        sessions = self.voice_sessions = deps.voice = VoiceSessions(
            bot=bot, bus=ctx.bus, settings=ctx.settings, registry=self.voice, tasks=ctx.tasks,
            language=deps.responder.channel_language, store=self._voice_store,
            conversations=self.conversations)
        sessions.install()
        relay = self._build_relay(bot, deps, ctx.tasks)
        ctx.bus.subscribe(ReplyFinished, deps.stage_stats.on_reply_finished,
                          name="discord:stage-stats")
        self._watcher = RateLimitWatcher(ctx.bus)
        self._watcher.install()
        await self._connect(bot)
        if start_errors:
            err = start_errors[0]
            if isinstance(err, hikari.ForbiddenError):
                # The usual cause is an invite without the commands scope: say which guild.
                me = bot.get_me()
                raise commands_refused(err, int(me.id) if me else None) from err
            logger.opt(exception=err).error("lightbulb failed to start: {}", err)
            raise PluginError(f"slash commands could not be set up: {err}",
                              hint="see the traceback above") from err
        me = bot.get_me()
        if relay is not None and me is not None:
            relay.webhooks.application_id = int(me.id)
        guilds = len(bot.cache.get_guilds_view())
        # Voice connections add themselves to ``self.voice`` (connect_to(...,
        # registry=...)); the admin metrics collector reads their diagnostics from it.
        if self._health is not None:
            self._health.register("discord", self._check_health)
        ctx.tasks.spawn(self._watch_gateway(bot), name="discord:gateway")
        if ctx.settings.voice.enabled:
            ctx.tasks.spawn(sessions.restore(), name="discord:voice-rejoin")
        logger.info("Discord connected as {} in {} guild(s)", me.username if me else "?", guilds)
        ctx.bus.publish(DiscordReady(user_id=int(me.id) if me else 0, guild_count=guilds))

    def _gates(self, rest_limit: int) -> tuple[IdentifyGate, RestGate]:
        """Identify turns and the REST budget: shared with other instances, or this one's."""

        async def limits() -> GatewayLimits:
            assert self.bot is not None  # asked only once the bot is connecting
            return await self.bot.gateway_limits()

        if self._shared is not None:
            return self._shared.identify_gate(limits), self._shared.rest_gate
        return LocalIdentifyGate(limits), LocalRestGate(rest_limit)

    async def _connect(self, bot: hikari.GatewayBot) -> None:
        assert self._ctx is not None
        settings = self._ctx.settings.discord
        plan = shard_plan(settings.shard_ids, settings.shard_count)
        # Said before the wait: when Discord does not answer, this is the last line.
        logger.info("connecting to Discord at {}{}…", settings.rest_url,
                    f" as shards {plan['shard_ids']} of {plan['shard_count']}" if plan else "")
        try:
            await bot.start(check_for_updates=False, **plan)
        except hikari.UnauthorizedError as err:
            raise PluginError("Discord rejected the bot token",
                              hint="copy a fresh token into DISCORD_TOKEN") from err
        except hikari.GatewayServerClosedConnectionError as err:
            if is_disallowed_intents(err):
                logger.error(disallowed_intents_explanation())
                raise PluginError("Discord refused the Message Content intent",
                                  hint="see the explanation above") from err
            raise PluginError(f"Discord closed the gateway: {err}") from err

    async def _watch_gateway(self, bot: hikari.GatewayBot) -> None:
        """Notice the gateway closing for good, which hikari only logs at INFO level.

        A reset token (close 4004) or an intent withdrawn in the portal (4014) ends
        the shard while ``bot.is_alive`` stays true: without this the bot would sit
        deaf while its health check still said OK.
        """
        try:
            await bot.join()
        except hikari.GatewayServerClosedConnectionError as err:
            self._lost = f"gateway closed with code {err.code}: {err.reason}"
            if is_disallowed_intents(err):
                logger.error("Discord closed the gateway for good: {}",
                             disallowed_intents_explanation())
            elif err.code == AUTHENTICATION_FAILED_CLOSE_CODE:
                logger.error("Discord closed the gateway for good: the bot token was reset or "
                             "revoked (close code 4004). Copy a fresh token into DISCORD_TOKEN "
                             "and restart Libra.")
            else:
                logger.error("Discord closed the gateway for good: {}", self._lost)
        except hikari.GatewayError as err:
            self._lost = f"gateway failed: {err}"
            logger.error("Discord gateway failed for good: {}", err)
        else:
            return
        if self._ctx is not None:
            # Running on deaf helps nobody: exit so a supervisor (or the operator) sees it.
            self._ctx.bus.publish(CriticalFailure(name=self.name, message=self._lost))

    def _build_relay(self, bot: hikari.GatewayBot, deps: DiscordDeps,
                     tasks: TaskGroup) -> TranslationRelay | None:
        """The linked-channel relay, subscribed to message events (needs both parts)."""
        if self._translation is None or self._links is None:
            return None

        def me() -> int | None:
            user = bot.get_me()
            return int(user.id) if user is not None else None

        relay = deps.relay = TranslationRelay(
            rest=bot.rest, me=me, translator=self._translation.translator,
            language=self._language,
            store=self._links, edit_pacer=deps.pacer, tasks=tasks)
        bot.subscribe(hikari.GuildMessageCreateEvent, relay.on_create)
        bot.subscribe(hikari.GuildMessageUpdateEvent, relay.on_update)
        bot.subscribe(hikari.GuildMessageDeleteEvent, relay.on_delete)
        bot.subscribe(hikari.GuildBulkMessageDeleteEvent, relay.on_bulk_delete)
        return relay

    def _build_deps(self, settings: Settings, bus: EventBus, tasks: TaskGroup) -> DiscordDeps:
        chat, language, llm = self._chat, self._language, self._llm
        pacer = EditPacer(limit=settings.discord.edit_limit, window=settings.discord.edit_window)
        return DiscordDeps(
            settings=settings, bus=bus, chat=chat, language=language, llm=llm, pacer=pacer,
            policy=AccessPolicy(settings.discord), limiter=self._limiter,
            responder=Responder(chat=chat, language=language, pacer=pacer, bus=bus, llm=llm),
            stage_stats=StageStats(), tasks=tasks, usage=self._usage,
            translation=self._translation, voice_turns=self._voice_turns,
            instances=self._instances,
        )

    async def _on_command_error(
        self, failure: lightbulb.exceptions.ExecutionPipelineFailedException
    ) -> bool:
        """An exception no command handled: log it and answer the user.

        Libra's own errors (a database that went away, a model server failing) get
        their short, specific message; anything else the generic one with a reference.
        """
        ref = new_correlation_id()
        context = failure.context
        cause = failure.causes[0] if failure.causes else failure
        if isinstance(cause, LibraError):
            logger.warning("/{} failed: {} ({}) [{}]", context.command_data.name, cause.code,
                           cause, ref)
        else:
            logger.opt(exception=cause).error("/{} failed [{}]", context.command_data.name, ref)
        try:
            # The language lookup may wait on the database: answer in time regardless.
            async with defer_if_slow(context, ephemeral=True):
                language = "en"
                if self.deps is not None:
                    language = await self.deps.responder.channel_language(context.channel_id)
                await context.respond(failure_message(cause, language, ref=ref), ephemeral=True)
        except hikari.HTTPError as err:
            logger.warning("could not report the failure of /{}: {} [{}]",
                           context.command_data.name, err, ref)
        return True

    async def _check_health(self) -> ComponentHealth:
        bot = self.bot
        if self._lost is not None:
            return ComponentHealth(name="discord", status=Status.DOWN, detail=self._lost,
                                   fix="see the error in the log, then restart Libra")
        if bot is None or not bot.is_alive:
            return ComponentHealth(name="discord", status=Status.DOWN, detail="not connected",
                                   fix="check the token and the network; see the log")
        latency = bot.heartbeat_latency
        detail = (f"heartbeat {latency * 1000:.0f} ms" if math.isfinite(latency)
                  else "waiting for the first heartbeat")
        return ComponentHealth(name="discord", status=Status.OK, detail=detail,
                               extra={"guilds": len(bot.cache.get_guilds_view())})

    async def stop(self) -> None:
        """Close the lightbulb client and the gateway; tolerates a partial start."""
        ctx, self._ctx = self._ctx, None
        if self.voice_sessions is not None:
            # First, while the gateway and the bus still work: the channels stay
            # remembered, so the next start rejoins them.
            await self.voice_sessions.shutdown()
            self.voice_sessions = None
        if ctx is not None:
            if self._health is not None:
                self._health.unregister("discord")
            if self.deps is not None and self.deps.relay is not None:
                # Translations still queued are posted (for a few seconds at most) while
                # the gateway, the database and the model are still there.
                await self.deps.relay.drain()
            # Replies still streaming end now, before the connection they write to.
            await ctx.tasks.close()
        if self.client is not None:
            await self.client.stop()
            self.client = None
        if self.bot is not None:
            if self.bot.is_alive:
                await self.bot.close()
            self.bot = None
        if self._watcher is not None:
            self._watcher.uninstall()
            self._watcher = None
        self.deps = None
        self.conversations = None
        self._lost = None
