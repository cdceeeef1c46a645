"""Cold start: process spawn → "Libra ready", with the embedded database initialised.

Runs ``libra chat`` (every plugin but Discord) against a fake Ollama in its own
process: one run initialises the data directory, then each measured run spawns a
fresh interpreter and waits for the ready log line. Target: < 3 s.
Prints JSON. Run: .venv/bin/python bench/coldstart.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._fakes import fake_ollama_process  # noqa: E402


def one_start(env: dict[str, str]) -> tuple[float, float]:
    """Seconds to the ready line, and to a clean exit after it."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "libra", "chat", "--verbose"],
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    assert proc.stderr is not None and proc.stdin is not None
    ready = None
    for line in proc.stderr:
        if "Libra ready" in line:
            ready = time.perf_counter() - t0
            break
    proc.stdin.close()
    proc.wait(timeout=60)
    if ready is None:
        raise RuntimeError("Libra never logged that it was ready")
    return ready, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with fake_ollama_process() as url, \
            tempfile.TemporaryDirectory(prefix="libra-coldstart-") as tmp:
        env = {**os.environ, "LIBRA_DATA_DIR": tmp, "LIBRA_LLM__SERVERS": url,
               "LIBRA_APP__LOG_FORMAT": "json"}
        env.pop("DATABASE_URL", None)
        first, _ = one_start(env)  # initdb + migrations
        runs = [one_start(env) for _ in range(args.runs)]
    ready = [r for r, _ in runs]
    result = {
        "benchmark": "coldstart",
        "first_start_with_initdb_s": round(first, 2),
        "ready_s": {"p50": round(statistics.median(ready), 2), "max": round(max(ready), 2),
                    "runs": [round(r, 2) for r in ready]},
        "start_to_clean_exit_s": round(statistics.median([e for _, e in runs]), 2),
        "target": "ready < 3 s with the embedded database initialised",
        "pass": max(ready) < 3,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
