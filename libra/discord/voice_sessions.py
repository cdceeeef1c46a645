"""The lifecycle of Libra's voice sessions: join, leave, follow moves, leave when alone, rejoin.

One :class:`VoiceSessions` per running bot. ``/voice`` commands call :meth:`join` and
:meth:`leave`; hikari's voice-state events tell it about moves, kicks and company; a
watcher per connection notices the end of each one and says why in the voice
channel's text chat (Discord voice channels have one), in the language of the channel
``/voice join`` was run from. The channels Libra is in are kept in PostgreSQL
(:class:`~libra.storage.api.VoiceChannelStore`), so :meth:`restore` rejoins them after
a restart. What is said and heard in the channel is a :class:`VoiceConversations`'s
business; this module only tells it when a session starts, moves and ends.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum

import hikari
from loguru import logger

from libra.bus import EventBus, Subscription
from libra.chat.messages import has_message, user_message
from libra.config import Settings
from libra.discord.api import VoiceConversations, VoiceSessionInfo
from libra.discord.channel_permissions import missing_for_voice, permissions_in
from libra.discord.sharding import shard_of
from libra.discord.voice.connection import LibraVoiceConnection
from libra.discord.voice.registry import VoiceConnectionRegistry
from libra.errors import (
    LibraError,
    StorageError,
    VoiceChannelInvalid,
    VoiceError,
    VoiceJoinFailed,
    VoicePermissionMissing,
)
from libra.events import VoiceFailed
from libra.storage.api import RememberedVoiceChannel, VoiceChannelStore, VoicePreferences
from libra.tasks import TaskGroup

LanguageOf = Callable[[int], Awaitable[str]]
"""A channel id → the language Libra answers in there."""

FAILURE_SETTLE_S = 0.3
"""How long a ``VoiceFailed`` waits to see whether its connection closes: a fatal
failure is reported once, with the disconnect, rather than twice."""
GUILD_WAIT_S = 15.0
"""How long :meth:`VoiceSessions.restore` waits for a guild to arrive from the gateway."""
_VOICE_TYPES = frozenset({hikari.ChannelType.GUILD_VOICE, hikari.ChannelType.GUILD_STAGE})


class LeaveReason(StrEnum):
    """Why a voice session ended."""

    COMMAND = "command"
    """``/voice leave``."""
    ALONE = "alone"
    """Nobody but bots for ``voice.leave_when_alone_s``."""
    KICKED = "kicked"
    """An admin disconnected Libra."""
    LOST = "lost"
    """The connection broke and could not be resumed."""
    SHUTDOWN = "shutdown"
    """Libra is stopping: the channel stays remembered and is rejoined at start."""


class JoinOutcome(StrEnum):
    """What :meth:`VoiceSessions.join` did."""

    JOINED = "joined"
    MOVED = "moved"
    ALREADY = "already"


@dataclass(slots=True, eq=False)
class VoiceSession:
    """One guild's voice session (read-only for callers)."""

    guild_id: int
    channel_id: int
    text_channel_id: int | None
    link: LibraVoiceConnection
    leaving: LeaveReason | None = None
    failure: VoiceFailed | None = None
    """A failure reported while the connection was closing (said with the disconnect)."""
    closed: bool = False
    ended: asyncio.Event = field(default_factory=asyncio.Event, repr=False)
    """Set once the watcher has tidied up after the connection closed."""
    alone_timer: asyncio.Task[None] | None = field(default=None, repr=False)


class VoiceSessions:
    """See the module docstring."""

    def __init__(self, *, bot: hikari.GatewayBot, bus: EventBus, settings: Settings,
                 registry: VoiceConnectionRegistry, tasks: TaskGroup, language: LanguageOf,
                 store: VoiceChannelStore | None = None,
                 conversations: VoiceConversations | None = None) -> None:
        """Handed in by the Discord plugin once the bot exists; nothing starts here."""
        self._bot = bot
        self._bus = bus
        self._settings = settings
        self._registry = registry
        self._tasks = tasks
        self._language = language
        self._store = store
        self.conversations = conversations
        self._sessions: dict[int, VoiceSession] = {}
        self._locks: dict[int, asyncio.Lock] = {}
        self._preferences: dict[int, VoicePreferences] = {}
        """Preferences that could not be stored (database down): they last until restart."""
        self._subscription: Subscription | None = None

    # --- wiring -----------------------------------------------------------------------

    def install(self) -> None:
        """Listen to voice states (hikari) and voice failures (bus)."""
        if self._subscription is not None:
            return
        self._bot.subscribe(hikari.VoiceStateUpdateEvent, self._on_voice_state)
        self._subscription = self._bus.subscribe(VoiceFailed, self._on_failed,
                                                 name="discord:voice-sessions")

    async def shutdown(self, timeout: float = 5.0) -> None:
        """Leave every channel for the stop, keeping them remembered for the next start."""
        for session in self._sessions.values():
            session.leaving = LeaveReason.SHUTDOWN
            if session.alone_timer is not None:
                session.alone_timer.cancel()
        links = [s.link for s in self._sessions.values()]
        if links:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*(link.disconnect() for link in links),
                                                      return_exceptions=True), timeout)
        if self._subscription is not None:
            self._subscription.unsubscribe()
            self._subscription = None
            with contextlib.suppress(LookupError, ValueError):
                self._bot.unsubscribe(hikari.VoiceStateUpdateEvent, self._on_voice_state)

    # --- queries ----------------------------------------------------------------------

    def get(self, guild_id: int) -> VoiceSession | None:
        """The guild's live voice session, if any."""
        return self._sessions.get(guild_id)

    def voice_channel_of(self, guild_id: int, user_id: int) -> int | None:
        """The voice channel ``user_id`` is in (from the gateway's voice states), if any."""
        state = self._bot.cache.get_voice_state(guild_id, user_id)
        return int(state.channel_id) if state is not None and state.channel_id else None

    async def preferences(self, guild_id: int) -> VoicePreferences:
        """The guild's voice mode and voice (defaults when the database cannot say)."""
        if guild_id in self._preferences:
            return self._preferences[guild_id]
        if self._store is None:
            return VoicePreferences()
        try:
            return await self._store.voice_preferences(guild_id)
        except StorageError as err:
            logger.warning("voice preferences of guild {} unavailable: {}", guild_id, err)
            return VoicePreferences()

    async def set_preferences(self, guild_id: int, preferences: VoicePreferences) -> bool:
        """Store the guild's preferences; ``False`` when they could only be kept in memory."""
        saved = False
        if self._store is not None:
            try:
                await self._store.set_voice_preferences(guild_id, preferences)
                saved = True
            except StorageError as err:
                logger.warning("could not store voice preferences of guild {}: {}", guild_id, err)
        if saved:
            self._preferences.pop(guild_id, None)
        else:
            self._preferences[guild_id] = preferences
        if self.conversations is not None:
            await self._tell("preferences_changed", self.conversations.preferences_changed(
                guild_id, preferences))
        return saved

    # --- join and leave ---------------------------------------------------------------

    def check_channel(self, guild_id: int, channel_id: int) -> str:
        """Raise unless Libra may join and speak in ``channel_id``; return its mention.

        Raises:
            VoiceChannelInvalid: not a voice channel of this guild.
            VoicePermissionMissing: Libra lacks View Channel, Connect or Speak there.
        """
        mention = f"<#{channel_id}>"
        channel = self._bot.cache.get_guild_channel(channel_id)
        if channel is None or int(channel.guild_id) != guild_id or channel.type not in _VOICE_TYPES:
            raise VoiceChannelInvalid(f"channel {channel_id} is not a voice channel of guild "
                                      f"{guild_id}", hint="name a voice channel")
        me = self._bot.get_me()
        permissions = (permissions_in(self._bot.cache, guild_id, channel_id, int(me.id))
                       if me is not None else None)
        if permissions is not None and (missing := missing_for_voice(permissions)):
            raise VoicePermissionMissing(
                f"missing {', '.join(missing)} in voice channel {channel.name}",
                channel=mention, missing=missing,
                hint="grant them to Libra's role in the channel's Permissions settings")
        return mention

    async def join(self, guild_id: int, channel_id: int, *, text_channel_id: int | None,
                   rejoin: bool = False, announce: bool = True) -> JoinOutcome:
        """Join (or move to) ``channel_id`` and announce it in the channel's text chat.

        ``announce`` False: the caller says it (a command run from that very chat).

        Raises:
            VoiceChannelInvalid: not a voice channel of this guild.
            VoicePermissionMissing: Libra may not connect or speak there.
            VoiceJoinFailed: Discord did not let Libra in within its timeout.
            VoiceError: the voice connection failed (e.g. ``VoiceDaveRequired``).
        """
        lock = self._locks.setdefault(guild_id, asyncio.Lock())
        async with lock:
            mention = self.check_channel(guild_id, channel_id)
            session = self._sessions.get(guild_id)
            if session is not None and session.link.is_alive:
                if session.channel_id == channel_id:
                    return JoinOutcome.ALREADY
                # Moving ourselves is what an admin's move is: the connection follows
                # the voice-state update, and so does the remembered channel.
                session.text_channel_id = text_channel_id or session.text_channel_id
                await self._bot.update_voice_state(guild_id, channel_id)
                return JoinOutcome.MOVED
            try:
                link = await self._bot.voice.connect_to(
                    guild_id, channel_id, LibraVoiceConnection, bus=self._bus,
                    settings=self._settings, registry=self._registry)
            except hikari.errors.VoiceError as err:
                raise VoiceJoinFailed(f"could not join {mention}: {err}",
                                      hint="try again; check Libra's Connect permission") from err
            session = VoiceSession(guild_id=guild_id, channel_id=int(link.channel_id),
                                   text_channel_id=text_channel_id, link=link)
            self._sessions[guild_id] = session
            self._tasks.spawn(self._watch(session), name=f"voice-session-{guild_id}")
        logger.info("joined voice channel {} in guild {}", channel_id, guild_id)
        await self._remember(session)
        if announce:
            language = await self._language_of(session)
            notice = "voice_rejoined" if rejoin else "voice_listening"
            await self.say(session, user_message(notice, language, channel=mention))
        self._check_alone(session)
        if self.conversations is not None:
            info = VoiceSessionInfo(guild_id=guild_id, channel_id=session.channel_id,
                                    text_channel_id=text_channel_id, link=link,
                                    preferences=await self.preferences(guild_id))
            await self._tell("started", self.conversations.started(info))
        return JoinOutcome.JOINED

    async def leave(self, guild_id: int, reason: LeaveReason = LeaveReason.COMMAND) -> int | None:
        """Leave the guild's voice channel; return it (``None`` when Libra was in none)."""
        session = self._sessions.get(guild_id)
        if session is None:
            return None
        if session.leaving is None:
            session.leaving = reason
        await self._forget(guild_id)
        await session.link.disconnect()
        # The watcher has the last word (notices, conversation end); wait for it here
        # so that a /voice join right after finds the guild free.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(session.ended.wait(), 10.0)
        return session.channel_id

    async def restore(self) -> None:
        """Rejoin the channels Libra was in before it stopped (a start-up task)."""
        if self._store is None:
            return
        try:
            remembered = await self._store.remembered_voice_channels()
        except StorageError as err:
            logger.warning("cannot rejoin voice channels: {}", err)
            return
        for row in remembered:
            if not self._owns(row.guild_id):
                continue  # another instance runs that guild's shard and rejoins it
            if not await self._wait_for_guild(row.guild_id):
                logger.warning("not rejoining voice in guild {}: Libra is no longer in it",
                               row.guild_id)
                await self._forget(row.guild_id)
                continue
            try:
                await self.join(row.guild_id, row.channel_id, text_channel_id=row.text_channel_id,
                                rejoin=True)
            except VoiceError as err:
                logger.warning("could not rejoin voice channel {} in guild {}: {} ({})",
                               row.channel_id, row.guild_id, err, err.code)
                await self._forget(row.guild_id)
                if row.text_channel_id is not None:
                    language = await self._language(row.text_channel_id)
                    await self._post(row.text_channel_id,
                                     failure_text(err, language, f"<#{row.channel_id}>"))

    def _owns(self, guild_id: int) -> bool:
        """Whether this process runs the shard of ``guild_id``.

        Several instances share ``voice_channels``: each rejoins only its own guilds,
        and never forgets another's.
        """
        count = self._bot.shard_count
        return count <= 1 or shard_of(guild_id, count) in self._bot.shards

    async def _wait_for_guild(self, guild_id: int) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + GUILD_WAIT_S
        while self._bot.cache.get_guild(guild_id) is None:
            if loop.time() > deadline:
                return False
            await asyncio.sleep(0.1)
        return True

    # --- events -----------------------------------------------------------------------

    async def _on_voice_state(self, event: hikari.VoiceStateUpdateEvent) -> None:
        """Moves and kicks of Libra itself; company coming and going for the others."""
        session = self._sessions.get(int(event.guild_id))
        if session is None:
            return
        state = event.state
        me = self._bot.get_me()
        if me is not None and state.user_id == me.id:
            if state.channel_id is None:
                # Nobody asked Libra to leave: an admin disconnected it. Said before
                # any await, so the watcher (woken by the connection closing) sees it.
                if session.leaving is None:
                    session.leaving = LeaveReason.KICKED
                return
            if int(state.channel_id) != session.channel_id:
                session.channel_id = int(state.channel_id)
                logger.info("moved to voice channel {} in guild {}", session.channel_id,
                            session.guild_id)
                await self._remember(session)
                if self.conversations is not None:
                    await self._tell("moved", self.conversations.moved(session.guild_id,
                                                                       session.channel_id))
        self._check_alone(session)

    async def _on_failed(self, event: VoiceFailed) -> None:
        """Say a voice failure in the channel's text chat (a fatal one with the disconnect)."""
        session = self._sessions.get(event.guild_id)
        if session is None:  # failures while joining are the command's to answer
            return
        session.failure = event
        await asyncio.sleep(FAILURE_SETTLE_S)
        if session.closed:
            return
        session.failure = None
        language = await self._language_of(session)
        await self.say(session, failure_text_for(event.code, event.message, language,
                                                 f"<#{session.channel_id}>"))

    async def _watch(self, session: VoiceSession) -> None:
        """Wait for the connection to end, then tidy up and say why."""
        try:
            await session.link.join()
            await self._ended(session)
        finally:
            session.ended.set()

    async def _ended(self, session: VoiceSession) -> None:
        session.closed = True
        if session.alone_timer is not None:
            session.alone_timer.cancel()
        if self._sessions.get(session.guild_id) is session:
            del self._sessions[session.guild_id]
        reason = session.leaving
        if reason is None:
            reason = LeaveReason.LOST
        logger.info("voice session in guild {} ended: {}", session.guild_id, reason)
        if self.conversations is not None:
            await self._tell("ended", self.conversations.ended(session.guild_id))
        if reason is LeaveReason.SHUTDOWN:
            return
        if reason is not LeaveReason.COMMAND:
            await self._forget(session.guild_id)
        mention = f"<#{session.channel_id}>"
        language = await self._language_of(session)
        if reason is LeaveReason.KICKED:
            text = user_message("voice_kicked", language, channel=mention)
        elif reason is LeaveReason.ALONE:
            seconds = f"{self._settings.voice.leave_when_alone_s:g}"
            text = user_message("voice_left_alone", language, channel=mention, seconds=seconds)
        elif reason is LeaveReason.LOST:
            failure = session.failure
            detail = failure.message if failure is not None else "the connection closed"
            text = user_message("voice_lost", language, channel=mention, detail=detail)
            if failure is not None and has_message(failure.code):
                text = failure_text_for(failure.code, failure.message, language, mention)
        else:
            return
        await self.say(session, text)

    # --- leaving when alone -----------------------------------------------------------

    def _company(self, session: VoiceSession) -> int:
        """Humans in the session's channel besides Libra (bots are no company)."""
        me = self._bot.get_me()
        states = self._bot.cache.get_voice_states_view_for_channel(session.guild_id,
                                                                   session.channel_id)
        humans = 0
        for user_id, state in states.items():
            if me is not None and user_id == me.id:
                continue
            member = state.member
            user = member.user if member is not None else self._bot.cache.get_user(user_id)
            if user is None or not user.is_bot:
                humans += 1
        return humans

    def _check_alone(self, session: VoiceSession) -> None:
        if session.closed:
            return
        alone = self._company(session) == 0
        timer = session.alone_timer
        if alone and (timer is None or timer.done()):
            session.alone_timer = self._tasks.spawn(
                self._leave_when_still_alone(session), name=f"voice-alone-{session.guild_id}")
        elif not alone and timer is not None and not timer.done():
            timer.cancel()
            session.alone_timer = None

    async def _leave_when_still_alone(self, session: VoiceSession) -> None:
        await asyncio.sleep(self._settings.voice.leave_when_alone_s)
        if session.closed or self._company(session) > 0:
            return
        logger.info("leaving voice channel {} in guild {}: alone for {:g} s",
                    session.channel_id, session.guild_id, self._settings.voice.leave_when_alone_s)
        session.alone_timer = None  # leave() must not cancel the task it runs in
        await self.leave(session.guild_id, LeaveReason.ALONE)

    # --- storage and text chat ----------------------------------------------------------

    async def _remember(self, session: VoiceSession) -> None:
        if self._store is None:
            return
        try:
            await self._store.remember_voice_channel(RememberedVoiceChannel(
                guild_id=session.guild_id, channel_id=session.channel_id,
                text_channel_id=session.text_channel_id))
        except StorageError as err:
            logger.warning("voice channel {} not remembered (no rejoin after a restart): {}",
                           session.channel_id, err)

    async def _forget(self, guild_id: int) -> None:
        if self._store is None:
            return
        try:
            await self._store.forget_voice_channel(guild_id)
        except StorageError as err:
            logger.warning("voice channel of guild {} not forgotten (a restart may rejoin "
                           "it): {}", guild_id, err)

    async def _language_of(self, session: VoiceSession) -> str:
        return await self._language(session.text_channel_id or session.channel_id)

    async def say(self, session: VoiceSession, text: str) -> None:
        """Post ``text`` in the voice channel's text chat (or where ``/voice join`` ran)."""
        targets = [session.channel_id]
        if session.text_channel_id is not None and session.text_channel_id != session.channel_id:
            targets.append(session.text_channel_id)
        for channel_id in targets:
            if await self._post(channel_id, text):
                return

    async def _post(self, channel_id: int, text: str) -> bool:
        try:
            await self._bot.rest.create_message(channel_id, text)
        except hikari.HTTPError as err:
            logger.warning("could not post a voice notice in channel {}: {}", channel_id, err)
            return False
        return True

    async def _tell(self, what: str, call: Awaitable[None]) -> None:
        try:
            await call
        except Exception:
            logger.exception("voice conversations hook {} failed", what)


def failure_text_for(code: str, message: str, language: str, channel: str) -> str:
    """A voice failure in ``language``: its own message with the fix, or the generic one."""
    if has_message(code):
        return user_message(code, language, channel=channel)
    return user_message("voice_problem", language, channel=channel, detail=message)


def failure_text(err: LibraError, language: str, channel: str) -> str:
    """:func:`failure_text_for` an exception (permission errors name what is missing)."""
    if isinstance(err, VoicePermissionMissing):
        return user_message(err.code, language, channel=err.channel,
                            missing=" / ".join(err.missing))
    return failure_text_for(err.code, str(err), language, channel)
