"""Voice turn latency: end of the user's speech → Libra's first synthesised audio.

The whole stack runs as in production (``build_graph``: storage on TEST_DATABASE_URL or
the embedded PostgreSQL, language, llm, chat, and the voice pipeline with its default
engines); a fake Ollama runs in its own process at 150 ms to the first token and 30
tokens/s. Each turn is Piper English speech (a different question each time) followed
by silence, fed *in real time* in 100 ms chunks to the live listener (VAD → turn
detector → Whisper tiny.en), then answered aloud (chat → sentences → Piper).

Reported: total p50/p95 with the breakdown per stage, and **Libra's own share** (total
minus the endpoint silence and the LLM's time to its first sentence; target p50 <
250 ms), plus the process RSS with the engines loaded. Each turn runs twice, with the
speculative final (Whisper transcribes on the pause, during the endpoint wait) and
without it (Whisper starts when the turn ends), alternating which goes first, so both
see the same machine; figures are reported per mode (``speculative`` / ``after_turn``).
``--korean`` runs the same over Vosk-ko + espeak-ng (espeak-ng Korean speech as input:
crude, so the transcript is poor, but the timings are the engines'; Vosk streams, so
both modes are the same there: its final is measured, not speculated).

Anchors: pipecat 500-800 ms voice-to-voice with cloud services; a hosted LiveKit stack
p50 1.2 s; Hermes Agent waits 1.5 s of silence to end a turn.
Prints JSON. Run: .venv/bin/python bench/voice_pipeline.py [--turns 8] [--korean]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from loguru import logger  # noqa: E402

from bench._fakes import fake_ollama_process  # noqa: E402
from bench._stats import pct  # noqa: E402
from libra.app import LibraApp, Mode, build_graph  # noqa: E402
from libra.config import Settings  # noqa: E402
from libra.events import VoiceTurnLatency  # noqa: E402
from libra.voice.api import SPEECH_RATE  # noqa: E402
from libra.voice.audio import stereo48k_to_mono16k  # noqa: E402
from libra.voice.listener import SpeakerListener, SpeculationStats  # noqa: E402
from tests.fakes.audio_fixtures import speech  # noqa: E402

QUESTIONS = {
    "en": ["What is the capital of France?", "How far away is the moon?",
           "Can you recommend a good book?", "What time does the sun set in winter?",
           "Why is the sky blue?", "How do I make a cup of tea?",
           "What is the tallest mountain in the world?", "Tell me a joke about cats.",
           "Who wrote the first computer program?", "How many legs does a spider have?"],
    "ko": ["프랑스의 수도는 어디입니까?", "달은 얼마나 멀리 있습니까?",
           "좋은 책을 추천해 주세요.", "하늘은 왜 파랗습니까?"],
}
CHUNK_MS = 100
SILENCE_S = 1.5


def rss_mb() -> float:
    """Resident memory of this process now."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


async def live(pcm: bytes) -> AsyncIterator[bytes]:
    """``pcm`` then silence, paced like a microphone: one chunk per ``CHUNK_MS``."""
    step = SPEECH_RATE * 2 * CHUNK_MS // 1000
    audio = pcm + bytes(int(SPEECH_RATE * 2 * SILENCE_S))
    start = time.perf_counter()
    for i, offset in enumerate(range(0, len(audio), step)):
        await asyncio.sleep(max(0.0, start + (i + 1) * CHUNK_MS / 1000 - time.perf_counter()))
        yield audio[offset:offset + step]


async def run(turns: int, language: str, url: str, data_dir: Path) -> dict[str, object]:
    db = os.environ.get("TEST_DATABASE_URL")
    settings = Settings.model_validate({
        "app": {"data_dir": str(data_dir)},
        "database": {"url": db} if db else {},
        "llm": {"servers": [url], "warmup": False, "cache_ttl": 0},
        "voice": {"languages": [language]},
    })
    graph = build_graph(settings, Mode.CHAT)
    pipeline = graph.speech
    assert pipeline is not None, "voice pipeline off: pip install 'libra[voice]'"
    app = LibraApp.of(graph)
    events: list[VoiceTurnLatency] = []
    by_mode: dict[str, list[VoiceTurnLatency]] = {"speculative": [], "after_turn": []}
    stats = SpeculationStats()

    async def on_latency(event: VoiceTurnLatency) -> None:
        events.append(event)

    app.bus.subscribe(VoiceTurnLatency, on_latency)
    await app.start()
    rss_before = rss_mb()
    questions = QUESTIONS[language]
    inputs = [stereo48k_to_mono16k(speech(q, language=language)) for q in questions]
    transcripts: list[str] = []
    try:
        t_load = time.perf_counter()
        await pipeline.engines.stt(language)
        await pipeline.engines.tts(language)
        load_s = time.perf_counter() - t_load
        for i in range(turns + 1):  # the first turn warms up (first inference is slower)
            modes = ("speculative", "after_turn") if i % 2 else ("after_turn", "speculative")
            for mode in modes:
                listener = SpeakerListener(pipeline.engines, settings.voice, language=language,
                                           speculate=mode == "speculative")
                async for utterance in listener.utterances(live(inputs[i % len(inputs)])):
                    reply = await pipeline.answer(utterance, user_id=1, channel_id=2,
                                                  guild_id=3)
                    async for _ in reply.audio():
                        pass
                    await reply.wait()
                    if i and mode == "speculative":
                        transcripts.append(utterance.text)
                await app.bus.drain(5)
                if i:
                    by_mode[mode].extend(events)
                    if mode == "speculative":
                        for name in ("started", "used", "wasted", "refused"):
                            setattr(stats, name, getattr(stats, name)
                                    + getattr(listener.speculation, name))
                events.clear()
    finally:
        await app.stop()
    loaded = pipeline.engines.loaded()
    return report(by_mode, stats, language=language, turns=turns, transcripts=transcripts,
                  load_s=load_s, rss_before=rss_before, loaded=loaded)


def p(values: list[float | None]) -> dict[str, float]:
    """p50/p95 of the values present."""
    clean = [v for v in values if v is not None]
    if not clean:
        return {}
    return {"p50": round(statistics.median(clean), 1), "p95": round(pct(clean, 95), 1)}


def figures(events: list[VoiceTurnLatency]) -> dict[str, object]:
    """One mode's latency: total, stages, Libra's share."""
    libra = p([e.libra_ms for e in events])
    return {
        "turns": len(events),
        "speech_end_to_first_audio_ms": p([e.total_ms for e in events]),
        "stage_ms": {name: p([getattr(e, name) for e in events]) for name in (
            "endpoint_ms", "stt_final_ms", "chat_ms", "llm_first_token_ms",
            "first_sentence_ms", "tts_first_audio_ms")},
        "libra_share_ms": libra,
        "pass": bool(libra) and libra["p50"] < 250,
    }


def report(by_mode: dict[str, list[VoiceTurnLatency]], stats: SpeculationStats, *,
           language: str, turns: int, transcripts: list[str], load_s: float,
           rss_before: float, loaded: list[str]) -> dict[str, object]:
    return {
        "benchmark": "voice_pipeline",
        "language": language,
        "requested_turns": turns,
        "engines": loaded,
        "fake_llm": {"first_token_ms": 150, "tokens_per_second": 30},
        "endpoint_silence_ms_setting": 500,
        "modes": {mode: figures(events) for mode, events in by_mode.items()},
        "speculation": {"started": stats.started, "used": stats.used,
                        "wasted": stats.wasted, "refused": stats.refused},
        "target": {"libra_share_p50_ms": 250},
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "model_load_s": round(load_s, 2),
        "rss_mb": {"app_started": rss_before, "engines_loaded": rss_mb(),
                   "peak": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)},
        "transcripts": transcripts[:3],
        "anchors_ms": {"pipecat_cloud_voice_to_voice": "500-800",
                       "livekit_hosted_p50": 1200, "hermes_agent_endpoint_silence": 1500},
        "cpus": os.cpu_count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=8)
    parser.add_argument("--korean", action="store_true",
                        help="also run Korean (Vosk-ko + espeak-ng)")
    args = parser.parse_args()
    logger.remove()  # figures only: start-up logs would pollute the JSON
    results = []
    with fake_ollama_process(150.0, 30.0) as url, \
            tempfile.TemporaryDirectory(prefix="libra-bench-") as tmp:
        results.append(asyncio.run(run(args.turns, "en", url, Path(tmp))))
        if args.korean:
            results.append(asyncio.run(run(max(2, args.turns // 2), "ko", url, Path(tmp))))
    print(json.dumps(results if len(results) > 1 else results[0], indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
