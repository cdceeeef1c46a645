"""The voice pipeline: a spoken question in, a spoken answer out, with its latency.

:class:`VoicePipeline` joins the speech engines (:class:`~libra.voice.api.SpeechEngines`)
to the chat service, the same one text chat uses, so a voice turn lands in the same
conversation memory (``source`` voice) and the reply language follows the channel like
a text message does.

Entry points:

- :meth:`VoicePipeline.reply_to`: a whole utterance given at once (16 kHz mono PCM),
  e.g. ``libra voice reply --in q.wav``;
- :meth:`VoicePipeline.answer`: an utterance that the live listener
  (:mod:`libra.voice.listener`) already transcribed;
- :meth:`VoicePipeline.converse`: listen to every speaker of a
  :class:`~libra.voice.api.VoiceLink` and answer aloud, one at a time.

Each returns or drives a :class:`VoiceReply`: the transcript, the spoken answer as
48 kHz stereo PCM for :meth:`VoiceLink.play`, and the latency breakdown, published as
:class:`~libra.events.VoiceTurnLatency` when the turn is over.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from loguru import logger

from libra.bus import EventBus
from libra.chat.api import ChatService, ChatTurn
from libra.config import VoiceSettings
from libra.errors import AudioInvalid, LibraError
from libra.events import MessageSource
from libra.voice.api import SPEECH_RATE, SpeechEngines, VoiceLink
from libra.voice.latency import TurnClock, breakdown
from libra.voice.speaker import SpokenAnswer
from libra.voice.transcription import ModelLoad, transcribe
from libra.voice.utterance import LanguageGuess, Utterance, no_guess

if TYPE_CHECKING:
    from libra.voice.conversation import ErrorHandler, ListenLanguage, ReplyHandler

FEED_MS = 100
"""Audio handed to speech-to-text per chunk (what Vosk is measured with)."""


class VoiceReply:
    """One spoken answer to one utterance; see the module docstring.

    Iterate :meth:`audio` (give it to ``VoiceLink.play``), then ``await`` :meth:`wait`
    for the answer's text; a failure of the LLM or of a speech engine ends the audio
    early and is raised by :meth:`wait`.
    """

    def __init__(self, *, utterance: Utterance, answer: SpokenAnswer, turn: ChatTurn,
                 bus: EventBus) -> None:
        self.utterance = utterance
        self.turn = turn
        self._answer = answer
        self._bus = bus
        self._published = False

    @property
    def transcript(self) -> str:
        """What the user said."""
        return self.utterance.text

    @property
    def language(self) -> str | None:
        """The transcript's language."""
        return self.utterance.language

    @property
    def reply_language(self) -> str:
        """The language of the answer (the channel's reply language, as for text)."""
        return self._answer.stream.language

    @property
    def clock(self) -> TurnClock:
        """The turn's marks; the transport calls ``clock.first_packet()``."""
        return self.utterance.clock

    @property
    def text(self) -> str:
        """The answer written so far (whole sentences)."""
        return self._answer.text

    @property
    def spoken_text(self) -> str:
        """What was handed to the transport so far (for a barge-in's stored turn)."""
        return self._answer.spoken_text

    @property
    def error(self) -> LibraError | None:
        """Why the answer failed, once it did."""
        return self._answer.error

    def audio(self) -> AsyncIterator[bytes]:
        """The spoken answer as 48 kHz stereo s16le PCM (see :class:`SpokenAnswer`)."""
        return self._answer.audio()

    async def wait(self) -> str:
        """Wait for the whole answer; return its text and publish the latency.

        Raises:
            LibraError: the LLM or a speech engine failed.
        """
        try:
            return await self._answer.wait()
        finally:
            self.publish_latency()

    async def cancel(self) -> None:
        """Barge-in: stop generating and speaking now."""
        await self._answer.cancel()
        self.publish_latency()

    def settle(self, *, interrupted: bool) -> None:
        """Say how much of a held answer (``answer(..., hold=True)``) was heard.

        ``interrupted``: only :attr:`spoken_text` was, and that is what the
        conversation remembers (marked stopped); otherwise the whole answer.
        """
        self._answer.stream.settle(self.spoken_text if interrupted else None)

    def publish_latency(self) -> None:
        """Publish (once) and log the turn's :class:`VoiceTurnLatency`."""
        if self._published:
            return
        self._published = True
        error = self._answer.error
        event = self.clock.event(user_id=self.turn.user_id, channel_id=self.turn.channel_id,
                                 guild_id=self.turn.guild_id,
                                 correlation_id=self.turn.correlation_id,
                                 error_code=error.code if error else None)
        logger.info("voice turn {}: {}", self.turn.correlation_id, breakdown(event))
        self._bus.publish(event)


class VoicePipeline:
    """Speech in, chat, speech out; see the module docstring."""

    def __init__(self, *, engines: SpeechEngines, chat: ChatService, bus: EventBus,
                 settings: VoiceSettings, guess: LanguageGuess = no_guess,
                 listen_language: ListenLanguage | None = None) -> None:
        """No I/O: models load on the first turn that needs them.

        ``guess`` names a transcript's language when the engine does not (Libra's
        detector); the reply language is the chat service's, as for a text message.
        ``listen_language`` is the language a live speaker is heard in (the channel's
        reply language, see :class:`~libra.voice.conversation.Conversation`).
        """
        self.engines = engines
        self.settings = settings
        self._chat = chat
        self._bus = bus
        self.guess = guess
        self.listen_language = listen_language
        self.load = ModelLoad()
        """What each loaded model is busy with, for every live listener of this pipeline."""

    def close(self) -> None:
        """Release the loaded speech models (app shutdown; idempotent)."""
        close = getattr(self.engines, "close", None)  # not part of the engines port
        if callable(close):
            close()

    async def reply_to(self, pcm: bytes, *, user_id: int, channel_id: int,
                       guild_id: int | None, language: str | None = None,
                       stt: str | None = None, voice: str | None = None) -> VoiceReply:
        """Answer a whole utterance, given as 16 kHz mono s16le PCM.

        ``language`` is the spoken language if known (``None`` = detect), ``stt`` forces
        an engine (``vosk`` | ``whisper``), ``voice`` a Piper voice for the answer.

        Raises:
            SpeechModelMissing: no model to recognise the language (or to speak the answer).
            SpeechEngineFailed: an engine would not load or failed.
            AudioInvalid: no words were recognised in the audio.
            EmptyInput, InputTooLong: the chat service refused the transcript.
        """
        clock = TurnClock.now()
        recogniser = await self.engines.stt(language, engine=stt)
        clock.stt = f"{recogniser.engine}:{recogniser.model}"
        final = await transcribe(recogniser, _pieces(pcm), language=language)
        clock.mark("stt_final")
        if not final.text.strip():
            raise AudioInvalid("no words were recognised in the audio",
                               hint="speak closer to the microphone, or check the language "
                                    "(--language) and the engine (--stt)")
        text = final.text.strip()
        utterance = Utterance(text=text, language=final.language or self.guess(text),
                              audio_ms=len(pcm) / 2 / SPEECH_RATE * 1000, clock=clock)
        return await self.answer(utterance, user_id=user_id, channel_id=channel_id,
                                 guild_id=guild_id, voice=voice)

    async def answer(self, utterance: Utterance, *, user_id: int, channel_id: int,
                     guild_id: int | None, voice: str | None = None,
                     text: str | None = None, hold: bool = False) -> VoiceReply:
        """Start answering ``utterance`` aloud through the chat service.

        ``text`` replaces the transcript as the chat turn (a wake word taken off);
        ``hold``: the answer is remembered only once :meth:`VoiceReply.settle` says how
        much of it was heard (a live conversation, where a barge-in can cut it short).

        Raises:
            EmptyInput, InputTooLong: the chat service refused the transcript.
        """
        turn = ChatTurn(user_id=user_id, channel_id=channel_id, guild_id=guild_id,
                        text=utterance.text if text is None else text,
                        source=MessageSource.VOICE)
        stream = await self._chat.reply(turn)
        if hold:
            stream.hold()
        utterance.clock.mark("reply_started")
        answer = SpokenAnswer(stream, self.engines.tts(stream.language, voice=voice),
                              utterance.clock, name=f"voice:{turn.correlation_id}")
        return VoiceReply(utterance=utterance, answer=answer, turn=turn, bus=self._bus)

    async def converse(self, link: VoiceLink, *, channel_id: int | None = None,
                       voice: str | None = None, on_error: ErrorHandler | None = None,
                       on_reply: ReplyHandler | None = None) -> None:
        """Listen to every speaker of ``link`` and answer aloud, one at a time, until it closes.

        Failures go to ``on_error`` (speaker, error) and never stop the others.
        """
        from libra.voice.conversation import Conversation  # noqa: PLC0415 - a cycle

        await Conversation(self, link, channel_id=channel_id, voice=voice, on_error=on_error,
                           on_reply=on_reply, listen_language=self.listen_language).run()


async def _pieces(pcm: bytes) -> AsyncIterator[bytes]:
    step = SPEECH_RATE * 2 * FEED_MS // 1000
    for start in range(0, len(pcm), step):
        yield pcm[start:start + step]
