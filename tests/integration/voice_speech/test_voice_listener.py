"""The live listener on real models: when turns end, and what happens to their work.

Real parts: Piper speaks the test audio, the configured VAD finds the turns, the
packaged Whisper tiny.en transcribes them. Models load once per module.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterable, AsyncIterator, Iterator

import numpy as np
import pytest

from libra.config import Settings
from libra.voice.api import SpeechToText, Transcript, VoiceActivityDetector
from libra.voice.engines import LocalSpeechEngines
from libra.voice.listener import AUDIO_BACKLOG, FINISHING, SPECULATING, SpeakerListener
from libra.voice.models.store import ModelStore
from tests.fakes import noise

QUESTION = "What is the capital of France?"


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSpeechEngines]:
    """One engines object for the module: Whisper loads once."""
    settings = Settings.model_validate({"voice": {"languages": ["en"]}})
    yield LocalSpeechEngines(settings.voice, ModelStore(tmp_path_factory.mktemp("models")))


def trimmed(text: str) -> np.ndarray:
    """Piper speech without its own leading and trailing silence."""
    samples = noise.speech16k(text)
    blocks = samples[: samples.size // 160 * 160].reshape(-1, 160)
    power = 10 * np.log10(np.mean(blocks**2, axis=1) + 1e-9)
    active = np.flatnonzero(power > power.max() - 45)
    return samples[active[0] * 160 : (active[-1] + 1) * 160]


class Talker:
    """A transport like Discord: 100 ms chunks paced like a microphone while someone
    talks, a few silent frames after the talk spurt, then nothing (the stream stays open).
    """

    def __init__(self, *parts: np.ndarray) -> None:
        self.pcm = noise.to_pcm(np.concatenate(parts))
        self.last_sent = 0.0
        self.close = asyncio.Event()
        self.sent = asyncio.Event()

    async def stream(self) -> AsyncIterator[bytes]:
        step, start = 3200, time.perf_counter()
        for i, offset in enumerate(range(0, len(self.pcm), step)):
            await asyncio.sleep(max(0.0, start + (i + 1) * 0.1 - time.perf_counter()))
            self.last_sent = time.perf_counter()
            yield self.pcm[offset:offset + step]
        self.sent.set()
        await self.close.wait()  # silence on the wire: no packets at all


async def test_a_turn_ends_when_the_transport_goes_quiet(engines: LocalSpeechEngines) -> None:
    """Discord sends ~100 ms of silence after speech, then nothing: the turn still ends."""
    settings = Settings.model_validate({"voice": {"languages": ["en"]}}).voice
    await engines.stt("en")  # loaded, as for every turn after the process's first
    listener = SpeakerListener(engines, settings, language="en")
    talker = Talker(noise.silence(0.3), trimmed(QUESTION), noise.silence(0.1))
    said = aiter(listener.utterances(talker.stream()))
    try:
        utterance = await asyncio.wait_for(anext(said), 6)
        waited = time.perf_counter() - talker.last_sent
    finally:
        talker.close.set()
        await said.aclose()  # type: ignore[attr-defined]

    assert "capital of france" in utterance.text.lower(), utterance.text
    # The 500 ms endpoint minus the 100 ms of silence sent (and a tick of slack).
    ended = utterance.clock.turn_end - talker.last_sent
    assert 0.3 < ended < 0.7, f"the turn ended {ended:.2f} s after the last packet"
    # ... and the speech ended ~100 ms before that packet, by the wall clock too.
    assert abs(utterance.clock.speech_end - (talker.last_sent - 0.1)) < 0.1
    assert waited < 3, f"the transcript came {waited:.2f} s after the last packet"


class SlowWhisper:
    """:class:`SpeechEngines` whose recogniser is the packaged Whisper on a busy machine
    (each result 1.5 s late), noting which transcriptions ran to their end."""

    def __init__(self, engines: LocalSpeechEngines, recogniser: SpeechToText) -> None:
        self._engines = engines
        self._recogniser = recogniser
        self.engine, self.model = recogniser.engine, recogniser.model
        self.languages = recogniser.languages
        self.fed = 0
        """Streams whose audio ended (a turn's final or a pause's job under way)."""
        self.finished = 0

    def new_vad(self) -> VoiceActivityDetector:
        return self._engines.new_vad()

    async def stt(self, language: str | None, *, engine: str | None = None) -> SlowWhisper:
        return self

    async def stream(self, pcm: AsyncIterable[bytes], *,
                     language: str | None = None) -> AsyncIterator[Transcript]:
        async def counted() -> AsyncIterator[bytes]:
            async for chunk in pcm:
                yield chunk
            self.fed += 1

        async for result in self._recogniser.stream(counted(), language=language):
            await asyncio.sleep(1.5)
            yield result
        self.finished += 1


async def test_closing_the_listener_stops_the_transcriptions_of_ended_turns(
        engines: LocalSpeechEngines) -> None:
    """A speaker who leaves right after a turn ended leaves no transcription running."""
    settings = Settings.model_validate({"voice": {"languages": ["en"]}}).voice
    slow = SlowWhisper(engines, await engines.stt("en"))
    listener = SpeakerListener(slow, settings, language="en")  # type: ignore[arg-type]
    talker = Talker(noise.silence(0.3), trimmed(QUESTION), noise.silence(0.8))
    heard: list[str] = []

    async def listen() -> None:
        async for utterance in listener.utterances(talker.stream()):
            heard.append(utterance.text)

    listening = asyncio.create_task(listen(), name="test-listen")
    try:
        # The turn ends 500 ms into the 800 ms of silence; its final is 1.5 s away.
        await asyncio.wait_for(talker.sent.wait(), 10)
    finally:
        listening.cancel()  # the speaker left: the listener is cancelled
        await asyncio.gather(listening, return_exceptions=True)
        talker.close.set()
    assert slow.fed, "no transcription started"
    closed = slow.finished
    await asyncio.sleep(2.5)  # longer than one slow result

    assert heard == []
    assert slow.finished == closed == 0, "a transcription ran on for nobody"
    # ... and the model is not left looking busy (which would stop speculating for good).
    assert listener.load.busy(slow, FINISHING) == listener.load.busy(slow, SPECULATING) == 0  # type: ignore[arg-type]


async def test_a_listener_that_falls_behind_holds_the_audio_back(
        engines: LocalSpeechEngines) -> None:
    """While nobody takes the listener's turns, it stops reading audio (the link then
    drops its oldest chunks) instead of queueing all of it in memory."""
    settings = Settings.model_validate({"voice": {"languages": ["en"]}}).voice
    await engines.stt("en")
    listener = SpeakerListener(engines, settings, language="en")
    pcm = noise.to_pcm(np.concatenate([noise.silence(0.3), trimmed(QUESTION),
                                       noise.silence(60)]))
    sent = 0

    async def fast() -> AsyncIterator[bytes]:  # ten times real time
        nonlocal sent
        for offset in range(0, len(pcm), 3200):
            await asyncio.sleep(0.01)
            sent += 1
            yield pcm[offset:offset + 3200]

    said = aiter(listener.utterances(fast()))
    try:
        first = await asyncio.wait_for(anext(said), 20)
        at_first = sent
        await asyncio.sleep(1.0)  # the caller is busy: nobody asks for the next turn
        behind = sent - at_first
    finally:
        await said.aclose()  # type: ignore[attr-defined]

    assert "capital of france" in first.text.lower()
    assert behind <= AUDIO_BACKLOG + 2, f"{behind} chunks read while nobody listened"
