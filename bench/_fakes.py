"""The fake Ollama in its own process, so its CPU never counts as Libra's."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def fake_ollama_process(first_token_delay_ms: float = 0.0,
                        tokens_per_second: float = 0.0) -> Iterator[str]:
    """Start ``tests.fakes.fake_ollama`` and yield its base URL; stop it afterwards."""
    fake = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.fake_ollama",
         "--first-token-delay", str(first_token_delay_ms / 1000),
         "--tokens-per-second", str(tokens_per_second)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert fake.stdout is not None
        yield fake.stdout.readline().strip()
    finally:
        fake.terminate()
        fake.wait(timeout=10)
