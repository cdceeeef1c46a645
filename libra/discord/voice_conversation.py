"""The spoken conversation in each voice channel Libra is in, and its text mirror.

:class:`DiscordVoiceConversations` implements the
:class:`~libra.discord.api.VoiceConversations` port that
:class:`~libra.discord.voice_sessions.VoiceSessions` calls: when a session starts it
runs a :class:`~libra.voice.conversation.Conversation` over the session's link (a held
task; the hook returns at once) in the guild's mode and voice, and warms the speech
engines in the background so the first question does not wait for models to load.

What Discord adds to the transport-free conversation:

* **who is heard**: never Libra itself nor another bot (hikari's cache knows), nor a
  user Libra's allow/block lists exclude (:class:`~libra.discord.permissions.AccessPolicy`);
* **the text mirror**: every exchange is written in the voice channel's own text chat
  as it is spoken ("🎙️ **alice**: …" then Libra's words, sentence by sentence, paced by
  the channel's :class:`~libra.discord.pacing.EditPacer` like any streamed reply, and
  marked when someone interrupted). The turns are stored under that same channel id,
  so a text message there (a mention, or a reply to the mirrored exchange) continues
  the conversation with the voice turns in its history;
* **failures said aloud in text**: a missing speech model, a failing engine or a dead
  LLM is posted in the channel's language with its fix (once a minute per kind, so a
  room full of speakers does not repeat it), logged, and never stops other speakers.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass, field
from typing import Protocol

import hikari
from loguru import logger

from libra.chat.answer import failure_message
from libra.chat.messages import user_message
from libra.discord.api import VoiceSessionInfo
from libra.discord.deps import DiscordDeps
from libra.discord.pacing import StreamRenderer
from libra.discord.permissions import Caller
from libra.errors import LibraError, SpeechEngineFailed, SpeechModelMissing
from libra.events import new_correlation_id
from libra.storage.api import VoicePreferences
from libra.voice.conversation import BargeIn, Conversation
from libra.voice.pipeline import VoicePipeline, VoiceReply
from libra.voice.utterance import Utterance

REPEAT_FAILURE_S = 60.0
"""A failure of the same kind is said at most once per this many seconds per guild."""
MIRROR_POLL_S = 0.15
"""How often the mirror looks for newly spoken sentences (the pacer decides the edits)."""
WARMUP_TEXT = "Hello."


class StatusSource(Protocol):
    """Extra ``/voice status`` lines (the latency board, when one is wired)."""

    def status_lines(self, guild_id: int, language: str) -> list[str]:
        """Lines for the guild, in ``language``."""
        ...


@dataclass(slots=True, eq=False)
class _Running:
    """One guild's conversation."""

    info: VoiceSessionInfo
    conversation: Conversation
    task: asyncio.Task[None] | None = None
    warmup: asyncio.Task[None] | None = None
    mirrors: dict[int, _Mirror] = field(default_factory=dict)
    """Mirror of each answer being spoken, by ``id(reply)``."""
    last_latency: str | None = None


@dataclass(slots=True, eq=False)
class _Mirror:
    reply: VoiceReply
    done: asyncio.Event = field(default_factory=asyncio.Event)
    interrupted: bool = False
    task: asyncio.Task[None] | None = None


class DiscordVoiceConversations:
    """See the module docstring."""

    def __init__(self, *, pipeline: VoicePipeline, bot: hikari.GatewayBot, deps: DiscordDeps,
                 board: StatusSource | None = None) -> None:
        """Built by the Discord plugin once the bot exists (see ``app.py``)."""
        self._pipeline = pipeline
        self._bot = bot
        self._deps = deps
        self._board = board
        self._running: dict[int, _Running] = {}
        self._said: dict[tuple[int, str], float] = {}

    # --- the VoiceConversations port --------------------------------------------------

    async def started(self, session: VoiceSessionInfo) -> None:
        """Start listening and answering on the session's link; returns at once."""
        await self.ended(session.guild_id)
        running = self._start(session)
        running.warmup = self._deps.tasks.spawn(
            self._warm(running), name=f"voice-warmup-{session.guild_id}")

    async def ended(self, guild_id: int) -> None:
        """Stop the guild's conversation (and its mirrors) and wait for it."""
        running = self._running.pop(guild_id, None)
        if running is None:
            return
        tasks = [t for t in (running.task, running.warmup) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for mirror in list(running.mirrors.values()):
            mirror.interrupted = True
            mirror.done.set()

    async def moved(self, guild_id: int, channel_id: int) -> None:
        """Follow a move: the same link, the turns now stored and mirrored in the new channel."""
        running = self._running.get(guild_id)
        if running is None:
            return
        info = VoiceSessionInfo(guild_id=guild_id, channel_id=channel_id,
                                text_channel_id=running.info.text_channel_id,
                                link=running.info.link, preferences=running.info.preferences)
        await self.ended(guild_id)
        self._start(info)

    async def preferences_changed(self, guild_id: int, preferences: VoicePreferences) -> None:
        """``/voice mode`` and ``/voice voice`` take effect from the next turn."""
        running = self._running.get(guild_id)
        if running is None:
            return
        voice_changed = running.conversation.voice != preferences.voice
        running.info = VoiceSessionInfo(
            guild_id=guild_id, channel_id=running.info.channel_id,
            text_channel_id=running.info.text_channel_id, link=running.info.link,
            preferences=preferences)
        running.conversation.mode = preferences.mode
        running.conversation.voice = preferences.voice
        if voice_changed:
            running.warmup = self._deps.tasks.spawn(self._warm(running),
                                                    name=f"voice-warmup-{guild_id}")

    def known_voices(self) -> Collection[str] | None:
        """Any name is accepted; a voice that is not installed is said when first used."""
        return None

    def status_lines(self, guild_id: int, language: str) -> list[str]:
        """Engines in use, barge-ins, and the last turn's latency (the board's when wired)."""
        lines: list[str] = []
        loaded = getattr(self._pipeline.engines, "loaded", None)
        if callable(loaded):
            models = loaded()
            lines.append(f"speech engines: {', '.join(models) if models else 'none loaded yet'}")
        running = self._running.get(guild_id)
        if running is not None:
            barge_ins = running.conversation.barge_ins
            if barge_ins:
                lines.append(f"barge-ins: {len(barge_ins)}, last stopped playback in "
                             f"{barge_ins[-1].stop_ms:.0f} ms")
        if self._board is not None:
            lines.extend(self._board.status_lines(guild_id, language))
        elif running is not None and running.last_latency:
            lines.append(f"last turn: {running.last_latency}")
        return lines

    # --- queries (tests, benchmarks) ----------------------------------------------------

    def conversation(self, guild_id: int) -> Conversation | None:
        """The guild's running conversation, if any."""
        running = self._running.get(guild_id)
        return running.conversation if running is not None else None

    async def warmed(self, guild_id: int) -> None:
        """Wait until the guild's engines are loaded and warm (tests, benchmarks)."""
        running = self._running.get(guild_id)
        if running is not None and running.warmup is not None:
            await asyncio.gather(running.warmup, return_exceptions=True)

    def barge_ins(self, guild_id: int) -> list[BargeIn]:
        """The guild's interruptions so far."""
        conversation = self.conversation(guild_id)
        return list(conversation.barge_ins) if conversation is not None else []

    # --- running ------------------------------------------------------------------------

    def _start(self, session: VoiceSessionInfo) -> _Running:
        guild_id = session.guild_id
        holder: list[_Running] = []

        async def on_error(user_id: int, err: LibraError) -> None:
            await self._failed(holder[0], user_id, err)

        async def on_reply(reply: VoiceReply) -> None:
            self._mirror_start(holder[0], reply)

        async def on_answered(reply: VoiceReply, interrupted: bool) -> None:
            self._mirror_end(holder[0], reply, interrupted)

        async def on_heard(user_id: int, utterance: Utterance) -> None:
            await self._post(holder[0], self._said_line(holder[0], user_id, utterance.text))

        conversation = Conversation(
            self._pipeline, session.link, channel_id=session.channel_id,
            voice=session.preferences.voice, mode=session.preferences.mode,
            on_error=on_error, on_reply=on_reply, on_answered=on_answered,
            on_heard=on_heard, admit=lambda user_id: self._admit(session, user_id),
            listen_language=self._pipeline.listen_language)
        running = _Running(info=session, conversation=conversation)
        holder.append(running)
        self._running[guild_id] = running
        running.task = self._deps.tasks.spawn(self._converse(running),
                                              name=f"voice-conversation-{guild_id}")
        logger.info("voice conversation started in channel {} of guild {} (mode {})",
                    session.channel_id, guild_id, session.preferences.mode.value)
        return running

    async def _converse(self, running: _Running) -> None:
        try:
            await running.conversation.run()
        except Exception:  # a bug here must not take the voice session with it
            logger.exception("voice conversation in guild {} failed", running.info.guild_id)

    def _admit(self, session: VoiceSessionInfo, user_id: int) -> bool:
        """Never Libra itself or another bot; never users the allow/block lists exclude."""
        me = self._bot.get_me()
        if me is not None and int(me.id) == user_id:
            return False
        member = self._bot.cache.get_member(session.guild_id, user_id)
        user = member.user if member is not None else self._bot.cache.get_user(user_id)
        if user is not None and user.is_bot:
            return False
        caller = Caller(user_id=user_id, channel_id=session.channel_id,
                        guild_id=session.guild_id,
                        role_ids=[int(r) for r in member.role_ids] if member is not None else ())
        refusal = self._deps.policy.refusal(caller)
        if refusal is not None and session.text_channel_id is not None:
            # Allow-listed text channels: ``/voice join`` run from one admits its users.
            alternative = Caller(user_id=caller.user_id, channel_id=session.text_channel_id,
                                 guild_id=caller.guild_id, role_ids=caller.role_ids)
            refusal = refusal if refusal.silent else self._deps.policy.refusal(alternative)
        if refusal is not None:
            logger.debug("voice: not listening to {}: {}", user_id, refusal)
        return refusal is None

    async def _warm(self, running: _Running) -> None:
        """Load the listener's recogniser and the channel's voice, and speak once unheard."""
        engines = self._pipeline.engines
        started = time.perf_counter()
        try:
            await engines.stt(None)
            language = await self._language(running)
            voice = await engines.tts(language, voice=running.conversation.voice)
            async for _ in voice.synthesize(WARMUP_TEXT):
                pass
        except LibraError as err:
            await self._failed(running, None, err)
            return
        logger.info("voice engines warm for guild {} in {:.1f} s", running.info.guild_id,
                    time.perf_counter() - started)

    # --- failures -------------------------------------------------------------------------

    async def _failed(self, running: _Running, user_id: int | None, err: LibraError) -> None:
        guild_id = running.info.guild_id
        logger.warning("voice in guild {} (speaker {}): {} ({})", guild_id, user_id, err,
                       err.code)
        now = time.monotonic()
        key = (guild_id, err.code)
        if now - self._said.get(key, -REPEAT_FAILURE_S) < REPEAT_FAILURE_S:
            return
        self._said[key] = now
        language = await self._language(running)
        await self._post(running, self._failure_text(running, err, language))

    def _failure_text(self, running: _Running, err: LibraError, language: str) -> str:
        channel = f"<#{running.conversation.channel_id}>"
        if isinstance(err, SpeechModelMissing):
            return user_message(err.code, language, channel=channel, spoken=err.language,
                                fix=err.hint or "libra doctor")
        if isinstance(err, SpeechEngineFailed):
            return user_message(err.code, language, channel=channel, detail=err.message)
        return failure_message(err, language, ref=new_correlation_id())

    # --- the text mirror --------------------------------------------------------------------

    def _said_line(self, running: _Running, user_id: int, text: str) -> str:
        member = self._bot.cache.get_member(running.info.guild_id, user_id)
        name = member.display_name if member is not None else f"<@{user_id}>"
        return f"🎙️ **{name}**: {text}"

    def _mirror_start(self, running: _Running, reply: VoiceReply) -> None:
        mirror = _Mirror(reply=reply)
        running.mirrors[id(reply)] = mirror
        mirror.task = self._deps.tasks.spawn(
            self._mirror(running, mirror), name=f"voice-mirror-{reply.turn.correlation_id}")

    def _mirror_end(self, running: _Running, reply: VoiceReply, interrupted: bool) -> None:
        mirror = running.mirrors.get(id(reply))
        if mirror is not None:
            mirror.interrupted = interrupted
            mirror.done.set()
        event = reply.clock
        if event.total_ms is not None:
            running.last_latency = (f"end of speech → first audio {event.total_ms:.0f} ms "
                                    f"(Libra {event.libra_ms or 0:.0f} ms)")

    async def _mirror(self, running: _Running, mirror: _Mirror) -> None:
        """Write the exchange in the channel as it is spoken, paced like a streamed reply."""
        channel_id = running.conversation.channel_id
        reply = mirror.reply
        language = reply.reply_language
        renderer: StreamRenderer[hikari.Message] = StreamRenderer(
            send=lambda content: self._send(channel_id, content),
            edit=self._edit,
            pacer=self._deps.pacer, channel=channel_id,
            stopped_marker=" *" + user_message("voice_interrupted", language) + "*")
        head = self._said_line(running, reply.turn.user_id, reply.transcript) + "\n**Libra**: "

        async def deltas() -> AsyncIterator[str]:
            yield head
            shown = ""
            while True:
                finished = mirror.done.is_set()
                spoken = reply.spoken_text
                if spoken.startswith(shown) and len(spoken) > len(shown):
                    yield spoken[len(shown):]
                    shown = spoken
                if finished:
                    if mirror.interrupted:
                        renderer.stop()
                    return
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(mirror.done.wait(), MIRROR_POLL_S)

        try:
            rendered = await renderer.run(deltas())
            if rendered.error is not None:
                logger.warning("voice mirror in channel {} failed: {}", channel_id,
                               rendered.error)
        except hikari.HTTPError as err:
            logger.warning("voice mirror in channel {} failed: {}", channel_id, err)
        finally:
            running.mirrors.pop(id(reply), None)

    async def _send(self, channel_id: int, content: str) -> hikari.Message:
        return await self._bot.rest.create_message(channel_id, content, user_mentions=False,
                                                   role_mentions=False, mentions_everyone=False)

    async def _edit(self, message: hikari.Message, content: str) -> None:
        await self._bot.rest.edit_message(message.channel_id, message.id, content,
                                          user_mentions=False, role_mentions=False,
                                          mentions_everyone=False)

    async def _post(self, running: _Running, text: str) -> None:
        channel_id = running.conversation.channel_id
        targets = [channel_id]
        if running.info.text_channel_id not in (None, channel_id):
            targets.append(running.info.text_channel_id)
        for target in targets:
            try:
                await self._send(target, text)
                return
            except hikari.HTTPError as err:
                logger.warning("could not post in channel {}: {}", target, err)

    async def _language(self, running: _Running) -> str:
        return await self._deps.responder.channel_language(running.conversation.channel_id)
