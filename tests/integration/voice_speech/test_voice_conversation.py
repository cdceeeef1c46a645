"""A spoken conversation on a voice link: failures of one turn, of one playback.

Real parts: the link's received audio is Libra's own :class:`ReceivedAudio` (the
bounded per-speaker streams the Discord connection feeds), Piper speaks the users'
questions, the VAD finds their turns, the packaged Whisper tiny.en transcribes them,
the chat service answers through a fake Ollama into a real PostgreSQL, Piper speaks
the answers. :class:`PortEngines` implements the :class:`SpeechEngines` port over the
real engines, to count what is synthesised and, where a test needs an engine to fail
once mid-turn, to make it do so (no real engine fails on demand).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from libra.app import LibraApp, Mode, build_graph
from libra.config import Settings
from libra.errors import LibraError, SpeechEngineFailed
from libra.voice.api import (
    AudioChunk,
    EngineChoice,
    SpeechAudio,
    SpeechToText,
    TextToSpeech,
    Transcript,
    VoiceActivityDetector,
)
from libra.voice.conversation import Conversation
from libra.voice.engines import LocalSpeechEngines
from libra.voice.latency import TurnClock
from libra.voice.models.store import ModelStore
from libra.voice.pipeline import VoicePipeline, VoiceReply
from libra.voice.streams import ReceivedAudio
from libra.voice.utterance import Utterance
from tests.fakes.audio_fixtures import speech
from tests.fakes.fake_ollama import FakeOllama

GUILD, CHANNEL, USER = 7, 8, 41
CHUNK = 48_000 * 4 // 10
"""100 ms of 48 kHz stereo s16le, what the Discord receiver delivers per chunk."""
QUESTION = "What is the capital of France?"
LONG_ANSWER = " ".join(f"Sentence number {i} of a long answer about Paris." for i in range(40))


@pytest.fixture(scope="module")
def real_engines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSpeechEngines]:
    """One engines object for the module: Whisper and Piper load once."""
    settings = Settings.model_validate({"voice": {"languages": ["en"]}})
    yield LocalSpeechEngines(settings.voice, ModelStore(tmp_path_factory.mktemp("models")))


class FailingStream:
    """The real recogniser, except that its streams crash while ``failing`` is set."""

    def __init__(self, real: SpeechToText, failing: bool) -> None:
        self._real = real
        self.failing = failing
        self.engine, self.model, self.languages = real.engine, real.model, real.languages

    async def stream(self, pcm: AsyncIterable[bytes], *,
                     language: str | None = None) -> AsyncIterator[Transcript]:
        if self.failing:
            async for _ in pcm:
                pass
            raise RuntimeError("decoder crashed")
        async for result in self._real.stream(pcm, language=language):
            yield result


class CountingVoice:
    """The real voice, counting the sentences it is asked to say."""

    def __init__(self, real: TextToSpeech, said: list[str]) -> None:
        self._real = real
        self._said = said
        self.engine, self.voice, self.language = real.engine, real.voice, real.language

    async def synthesize(self, text: str) -> AsyncIterator[SpeechAudio]:
        self._said.append(text)
        async for audio in self._real.synthesize(text):
            yield audio


class PortEngines:
    """:class:`SpeechEngines` over the real ones; see the module docstring."""

    def __init__(self, real: LocalSpeechEngines, *, stt_failing: bool = False) -> None:
        self._real = real
        self._stt_failing = stt_failing
        self.recogniser: FailingStream | None = None
        self.said: list[str] = []

    def new_vad(self) -> VoiceActivityDetector:
        return self._real.new_vad()

    async def stt(self, language: str | None, *, engine: str | None = None) -> SpeechToText:
        if self.recogniser is None:
            self.recogniser = FailingStream(await self._real.stt(language, engine=engine),
                                            self._stt_failing)
        return self.recogniser

    async def tts(self, language: str, *, voice: str | None = None) -> TextToSpeech:
        return CountingVoice(await self._real.tts(language, voice=voice), self.said)

    def choices(self, languages: Iterable[str]) -> list[EngineChoice]:
        return self._real.choices(languages)


class Played:
    """A playback that reads its source to the end, as fast as it comes."""

    def __init__(self, source: AsyncIterable[bytes], sink: bytearray) -> None:
        self._task = asyncio.create_task(self._drain(source, sink), name="test-playback")

    @staticmethod
    async def _drain(source: AsyncIterable[bytes], sink: bytearray) -> None:
        async for pcm in source:
            sink += pcm

    @property
    def done(self) -> bool:
        return self._task.done()

    def stop(self) -> None:
        self._task.cancel()

    async def wait(self) -> None:
        await asyncio.gather(self._task, return_exceptions=True)


class Link:
    """A :class:`VoiceLink` whose received audio is Libra's :class:`ReceivedAudio`."""

    def __init__(self, *, play_error: BaseException | None = None,
                 play_delay: float = 0.0) -> None:
        self.received = ReceivedAudio(GUILD, capacity=50)
        self.guild_id, self.channel_id, self.is_alive = GUILD, CHANNEL, True
        self.play_error = play_error
        self.play_delay = play_delay
        """How long :meth:`play` takes to fail (waiting for media that never comes)."""
        self.played = bytearray()
        self._sequence = 0

    def speakers(self) -> AsyncIterator[int]:
        return self.received.speakers()

    def audio(self, user_id: int) -> AsyncIterator[AudioChunk]:
        return self.received.audio(user_id)

    async def play(self, source: AsyncIterable[bytes], timeout: float = 10.0) -> Played:
        if self.play_error is not None:
            await asyncio.sleep(self.play_delay)
            raise self.play_error
        return Played(source, self.played)

    async def talk(self, user_id: int, pcm48: bytes) -> None:
        """Deliver ``pcm48`` as the receiver would: 100 ms chunks, paced, then no packets."""
        start = time.perf_counter()
        for i, offset in enumerate(range(0, len(pcm48), CHUNK)):
            await asyncio.sleep(max(0.0, start + i * 0.1 - time.perf_counter()))
            self.received.deliver(AudioChunk(guild_id=GUILD, user_id=user_id,
                                             pcm=pcm48[offset:offset + CHUNK],
                                             sequence=self._sequence))
            self._sequence = (self._sequence + 5) & 0xFFFF


class Recorder:
    """What the conversation reported: errors per speaker, answers as they start."""

    def __init__(self) -> None:
        self.errors: list[tuple[int, LibraError]] = []
        self.replies: list[VoiceReply] = []
        self.changed = asyncio.Event()

    async def on_error(self, user_id: int, err: LibraError) -> None:
        self.errors.append((user_id, err))
        self.changed.set()

    async def on_reply(self, reply: VoiceReply) -> None:
        self.replies.append(reply)
        self.changed.set()

    async def until(self, what: str, check: Any, timeout: float = 20) -> None:
        deadline = time.perf_counter() + timeout
        while not check():
            self.changed.clear()
            left = deadline - time.perf_counter()
            if left <= 0:
                raise AssertionError(f"timed out waiting for {what}: errors {self.errors}, "
                                     f"replies {[r.transcript for r in self.replies]}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), min(left, 0.2))


@pytest_asyncio.fixture
async def app(pg_url: str, fake_ollama: FakeOllama, tmp_path: Path) -> AsyncIterator[LibraApp]:
    settings = Settings.model_validate({
        "app": {"data_dir": str(tmp_path)},
        "database": {"url": pg_url},
        "llm": {"servers": [fake_ollama.url], "warmup": False, "coalesce_ms": 0,
                "coalesce_chars": 1, "cache_ttl": 0},
        "voice": {"languages": ["en"]},
    })
    app = LibraApp.of(build_graph(settings, Mode.CHAT))
    await app.start()
    yield app
    await app.stop()


def pipeline_of(app: LibraApp, engines: PortEngines) -> VoicePipeline:
    graph = app.graph
    assert graph.chat is not None
    return VoicePipeline(engines=engines, chat=graph.chat.service, bus=graph.bus,  # type: ignore[arg-type]
                         settings=graph.settings.voice)


async def running(conversation: Conversation) -> asyncio.Task[None]:
    task = asyncio.create_task(conversation.run(), name="test-conversation")
    await asyncio.sleep(0.05)  # its speakers() watcher is registered
    return task


async def stopped(task: asyncio.Task[None], link: Link) -> None:
    link.received.close()
    try:
        await asyncio.wait_for(task, 10)
    finally:
        task.cancel()


async def test_a_speaker_whose_turn_failed_is_heard_again(
        app: LibraApp, fake_ollama: FakeOllama, real_engines: LocalSpeechEngines) -> None:
    """One crashed transcription is reported, and the speaker's next question answered."""
    fake_ollama.answer_fn = lambda body: "Paris."
    engines = PortEngines(real_engines, stt_failing=True)
    link, seen = Link(), Recorder()
    conversation = Conversation(pipeline_of(app, engines), link,  # type: ignore[arg-type]
                                on_error=seen.on_error, on_reply=seen.on_reply)
    task = await running(conversation)
    try:
        await link.talk(USER, speech("Hello there."))
        await seen.until("the failed turn's report", lambda: seen.errors)
        assert engines.recogniser is not None
        engines.recogniser.failing = False  # the engine recovered
        await link.talk(USER, speech(QUESTION))
        await seen.until("an answer to the next question", lambda: seen.replies)
    finally:
        await stopped(task, link)

    [(user_id, err)] = seen.errors
    assert user_id == USER and isinstance(err, SpeechEngineFailed), err
    assert "capital of france" in seen.replies[0].transcript.lower()


async def test_a_failed_playback_stops_the_answer(
        app: LibraApp, fake_ollama: FakeOllama, real_engines: LocalSpeechEngines) -> None:
    """Nobody can hear it: the LLM stops writing and nothing is synthesised for nobody."""
    fake_ollama.answer_fn = lambda body: LONG_ANSWER
    fake_ollama.tokens_per_second = 250  # ~500 tokens: written in ~2 s if nobody stops it
    engines = PortEngines(real_engines)
    await real_engines.tts("en")  # loaded, as for every turn after the process's first
    link = Link(play_error=RuntimeError("the voice connection went away"), play_delay=0.5)
    seen = Recorder()
    conversation = Conversation(pipeline_of(app, engines), link,  # type: ignore[arg-type]
                                on_error=seen.on_error, on_reply=seen.on_reply)
    task = await running(conversation)
    try:
        await link.talk(USER, speech(QUESTION))
        await seen.until("the playback failure's report", lambda: seen.errors)
        said = len(engines.said)
        await asyncio.sleep(3.0)  # the whole answer would have been written by now
    finally:
        await stopped(task, link)

    assert [r.path for r in fake_ollama.requests].count("/api/chat") == 1
    assert fake_ollama.completed == 0, "the whole answer was written for nobody"
    assert fake_ollama.disconnects == 1, "the LLM was not stopped mid-answer"
    assert len(engines.said) == said, "sentences were synthesised after the failure"
    assert len(seen.errors) == 1 and "went away" in str(seen.errors[0][1])


async def test_each_channel_language_is_heard_by_its_own_model(
        pg_url: str, fake_ollama: FakeOllama, tmp_path: Path) -> None:
    """English and Korean with the packaged models only (no multilingual Whisper).

    The channel's reply language picks the recogniser: Whisper tiny.en while it is
    English, Vosk's Korean model once it is pinned to Korean.
    """
    fake_ollama.answer_fn = lambda body: "OK."
    settings = Settings.model_validate({
        "app": {"data_dir": str(tmp_path)},
        "database": {"url": pg_url},
        "llm": {"servers": [fake_ollama.url], "warmup": False, "coalesce_ms": 0,
                "coalesce_chars": 1, "cache_ttl": 0},
        "voice": {"languages": ["en", "ko"]},
    })
    app = LibraApp.of(build_graph(settings, Mode.CHAT))
    await app.start()
    pipeline = app.graph.speech
    assert pipeline is not None
    link, seen = Link(), Recorder()
    task = asyncio.create_task(pipeline.converse(link, on_error=seen.on_error,  # type: ignore[arg-type]
                                                 on_reply=seen.on_reply), name="test-converse")
    await asyncio.sleep(0.05)
    try:
        await link.talk(USER, speech(QUESTION))
        await seen.until("the English answer", lambda: seen.errors or seen.replies, 30)
        await app.graph.language.service.pin(CHANNEL, "ko")
        engines = pipeline.engines
        assert isinstance(engines, LocalSpeechEngines)
        await seen.until("the Korean model loaded (the listener follows the channel)",
                         lambda: "vosk:vosk-model-small-ko-0.22" in engines.loaded(), 20)
        await link.talk(USER, speech("안녕하세요. 오늘 날씨가 좋네요.", language="ko"))
        await seen.until("the Korean answer",
                         lambda: seen.errors or len(seen.replies) == 2, 30)
    finally:
        await stopped(task, link)
        await app.stop()

    assert seen.errors == []
    english, korean = seen.replies
    assert english.clock.stt == "whisper:whisper-tiny.en"
    assert "capital of france" in english.transcript.lower()
    assert korean.clock.stt == "vosk:vosk-model-small-ko-0.22"
    assert korean.language == "ko" and korean.transcript  # (espeak's Korean: words vary)


async def test_stopping_the_app_closes_the_loaded_speech_models(app: LibraApp) -> None:
    """Shutdown releases the models' threads: nothing transcribes for a stopped app."""
    pipeline = app.graph.speech
    assert pipeline is not None
    engines = pipeline.engines
    assert isinstance(engines, LocalSpeechEngines)
    recogniser = await engines.stt("en")
    assert engines.loaded() == ["whisper:whisper-tiny.en"]

    await app.stop()

    assert engines.loaded() == []

    async def one_second() -> AsyncIterator[bytes]:
        yield bytes(32_000)

    with pytest.raises(SpeechEngineFailed):
        async for _ in recogniser.stream(one_second(), language="en"):
            pass


MEDIUM_ANSWER = " ".join(f"Point number {i}." for i in range(8))


async def test_speech_is_made_only_a_little_ahead_of_playback(
        app: LibraApp, fake_ollama: FakeOllama, real_engines: LocalSpeechEngines) -> None:
    """An answer nobody is playing yet is written, but not all synthesised in advance."""
    fake_ollama.answer_fn = lambda body: MEDIUM_ANSWER
    engines = PortEngines(real_engines)
    await real_engines.tts("en")
    utterance = Utterance(text=QUESTION, language="en", audio_ms=2000.0,
                          clock=TurnClock.now())
    reply = await pipeline_of(app, engines).answer(utterance, user_id=USER,
                                                   channel_id=CHANNEL, guild_id=GUILD)
    try:
        # The fake writes at once; time to synthesise every sentence, were it allowed.
        await asyncio.sleep(3.0)
        written, ahead = fake_ollama.completed, len(engines.said)
        pieces = [pcm async for pcm in reply.audio()]
        text = await reply.wait()
    finally:
        await reply.cancel()

    assert written == 1
    assert ahead <= 3, f"{ahead} of 8 sentences synthesised before any was played"
    assert text == MEDIUM_ANSWER and len(engines.said) == 8
    assert len(b"".join(pieces)) > 48_000 * 4 * 4  # all of it (~1 s each), when played

