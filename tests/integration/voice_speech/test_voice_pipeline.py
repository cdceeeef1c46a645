"""The voice pipeline end to end: a spoken question in, a spoken answer out.

Real parts throughout: Piper (the packaged English voice) speaks the question,
Whisper tiny.en (packaged) transcribes it, the chat service answers through a fake
Ollama into a real PostgreSQL, Piper speaks the answer, and Whisper listens to that
answer to find its words. Models load once per module (a shared engines object, as
the composition root shares one per process).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from libra.app import LibraApp, Mode, build_graph
from libra.chat.api import ChatTurn
from libra.config import Settings
from libra.errors import SpeechModelMissing
from libra.events import Event, MessageReceived, MessageSource, VoiceTurnLatency
from libra.voice.audio import stereo48k_to_mono16k
from libra.voice.engines import LocalSpeechEngines, models_root
from libra.voice.models.store import ModelStore
from libra.voice.pipeline import VoicePipeline, transcribe
from tests.fakes.audio_fixtures import speech
from tests.fakes.fake_ollama import FakeOllama

QUESTION = "What is the capital of France?"
ANSWER = ("The capital of France is Paris. Paris has been the capital for a very long time, "
          "and it sits on the river Seine in the north of the country. Many millions of "
          "people visit it every year to see its museums, its old churches and its parks.")


def settings_for(pg_url: str, ollama: FakeOllama, data_dir: Path, **voice: Any) -> Settings:
    return Settings.model_validate({
        "app": {"data_dir": str(data_dir)},
        "database": {"url": pg_url},
        "llm": {"servers": [ollama.url], "warmup": False, "coalesce_ms": 0,
                "coalesce_chars": 1, "cache_ttl": 0},
        "voice": {"languages": ["en"], **voice},
    })


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSpeechEngines]:
    """One engines object for the module: Whisper and Piper load once."""
    settings = Settings.model_validate({"voice": {"languages": ["en"]}})
    store = ModelStore(tmp_path_factory.mktemp("models"))  # packaged models only
    yield LocalSpeechEngines(settings.voice, store)


class Stack:
    def __init__(self, app: LibraApp, pipeline: VoicePipeline) -> None:
        self.app = app
        self.pipeline = pipeline
        self.events: list[Event] = []
        app.bus.subscribe(Event, self._record)

    async def _record(self, event: Event) -> None:
        self.events.append(event)

    def of(self, kind: type[Event]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]


@pytest_asyncio.fixture
async def stack(pg_url: str, fake_ollama: FakeOllama, tmp_path: Path,
                engines: LocalSpeechEngines) -> AsyncIterator[Stack]:
    """The app as ``build_graph`` makes it, its voice pipeline on the module's engines."""
    graph = build_graph(settings_for(pg_url, fake_ollama, tmp_path), Mode.CHAT)
    assert graph.speech is not None  # voice is on by default and its extra is installed
    pipeline = VoicePipeline(engines=engines, chat=graph.chat.service, bus=graph.bus,
                             settings=graph.settings.voice)
    app = LibraApp.of(graph)
    await app.start()
    yield Stack(app, pipeline)
    await app.stop()


async def heard(engines: LocalSpeechEngines, pcm48: bytes) -> str:
    """What Whisper hears in 48 kHz stereo audio."""
    recogniser = await engines.stt("en")

    async def pieces() -> AsyncIterator[bytes]:
        yield stereo48k_to_mono16k(pcm48)

    return (await transcribe(recogniser, pieces(), language="en")).text


async def test_a_spoken_question_gets_a_spoken_answer_in_the_shared_history(
        stack: Stack, fake_ollama: FakeOllama, engines: LocalSpeechEngines) -> None:
    fake_ollama.answer_fn = lambda body: (
        "The capital of France is Paris." if QUESTION.lower().rstrip("?") in str(
            body["messages"][-1]["content"]).lower() else "You asked about France.")
    question = stereo48k_to_mono16k(speech(QUESTION))

    reply = await stack.pipeline.reply_to(question, user_id=41, channel_id=42, guild_id=43)
    audio = b"".join([chunk async for chunk in reply.audio()])
    text = await reply.wait()

    assert "capital of france" in reply.transcript.lower()
    assert reply.language == "en"
    assert text == "The capital of France is Paris."
    assert reply.spoken_text == text  # every sentence was handed out
    assert len(audio) > 48_000 * 4  # more than a second of 48 kHz stereo
    assert "paris" in (await heard(engines, audio)).lower()

    # Stored like a text turn, in the same conversation: a text follow-up sees it.
    await stack.app.graph.chat.service.drain()  # type: ignore[union-attr]
    await stack.app.bus.drain(5)
    received = stack.of(MessageReceived)
    assert [e.source for e in received] == [MessageSource.VOICE]
    follow_up = await stack.app.graph.chat.service.reply(  # type: ignore[union-attr]
        ChatTurn(user_id=41, channel_id=42, guild_id=43, text="And what river is there?"))
    async for _ in follow_up:
        pass
    prompt = [m["content"] for m in fake_ollama.requests[-1].body["messages"]]
    assert any("capital of france" in m.lower() for m in prompt[:-1]), prompt
    assert "The capital of France is Paris." in prompt
    pool = stack.app.graph.storage.database.pool  # type: ignore[union-attr]
    rows = await pool.fetch("SELECT role, content FROM messages WHERE channel_id = 42 "
                            "ORDER BY id")
    assert [r["role"] for r in rows[:2]] == ["user", "assistant"]
    assert "capital of france" in rows[0]["content"].lower()

    latency = stack.of(VoiceTurnLatency)
    assert len(latency) == 1
    assert latency[0].stt == "whisper:whisper-tiny.en"
    assert latency[0].tts == "piper:en_US-joe-medium"
    assert latency[0].total_ms is not None and latency[0].libra_ms is not None


async def test_speech_starts_before_the_llm_has_finished(
        stack: Stack, fake_ollama: FakeOllama) -> None:
    fake_ollama.default_answer = ANSWER
    fake_ollama.first_token_delay = 0.15
    fake_ollama.tokens_per_second = 30  # ~60 tokens: the answer takes ~2 s to write
    question = stereo48k_to_mono16k(speech(QUESTION))

    reply = await stack.pipeline.reply_to(question, user_id=51, channel_id=52, guild_id=53)
    finished_when_first_heard: int | None = None
    async for _ in reply.audio():
        if finished_when_first_heard is None:
            finished_when_first_heard = fake_ollama.completed
    await reply.wait()

    assert finished_when_first_heard == 0, "the first sentence waited for the whole answer"
    assert fake_ollama.completed == 1
    assert reply.clock.first_audio is not None and reply.clock.first_sentence is not None
    assert reply.text.startswith("The capital of France is Paris.")


async def test_a_dead_llm_is_a_clear_error_not_silence(
        stack: Stack, fake_ollama: FakeOllama) -> None:
    await fake_ollama.kill()
    question = stereo48k_to_mono16k(speech(QUESTION))

    reply = await stack.pipeline.reply_to(question, user_id=61, channel_id=62, guild_id=63)
    audio = [chunk async for chunk in reply.audio()]
    with pytest.raises(Exception) as caught:
        await reply.wait()

    assert audio == []
    assert getattr(caught.value, "code", "").startswith("llm_"), caught.value
    await stack.app.bus.drain(5)
    assert stack.of(VoiceTurnLatency)[-1].error_code == caught.value.code  # type: ignore[attr-defined]


async def test_a_language_without_a_model_names_the_pull_command(tmp_path: Path) -> None:
    settings = Settings.model_validate({"voice": {"languages": ["fr"],
                                                  "stt_engine": "vosk"}})
    engines = LocalSpeechEngines(settings.voice,
                                 ModelStore(models_root(settings.voice, tmp_path)))

    with pytest.raises(SpeechModelMissing) as caught:
        await asyncio.wait_for(engines.stt("fr"), 5)

    assert caught.value.hint == "libra models pull vosk-model-small-fr-0.22"
