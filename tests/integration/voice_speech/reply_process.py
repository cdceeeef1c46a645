"""Run ``libra voice reply`` as a real process, the way a user does."""

from __future__ import annotations

import asyncio
import os
import struct
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
"""The checkout under test: the child must import its code, not the venv's (a worktree)."""


@dataclass(frozen=True, slots=True)
class Run:
    code: int
    out: str
    err: str
    seconds: float


async def voice_reply(cwd: Path, *args: str, timeout: float = 90, **env: str) -> Run:
    """``libra voice reply ARGS`` in ``cwd`` with a fresh data dir; no model is downloaded."""
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
    return Run(proc.returncode, out.decode(), err.decode(), time.perf_counter() - started)


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
