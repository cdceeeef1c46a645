"""Chat turn overhead: user message → first token delivered, minus the model's delay.

The whole stack runs as in production (embedded PostgreSQL or TEST_DATABASE_URL,
language, llm and chat plugins); a fake Ollama runs in its own process with a fixed
first-token delay. Each turn detects the language, loads memories and history,
stores the user's message, streams, and stores the answer. Then a cache hit is
timed end to end: a new user asking an already answered first question.

Targets: added p50 < 5 ms, p99 < 20 ms; cache hit full reply p50 < 2 ms (the LLM
service alone; the chat-level figure includes the database writes of a turn).
Prints JSON. Run: .venv/bin/python bench/chat.py [--turns 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from loguru import logger  # noqa: E402

from bench._fakes import fake_ollama_process  # noqa: E402
from bench._stats import summary  # noqa: E402
from libra.app import LibraApp, Mode, build_graph  # noqa: E402
from libra.chat.api import ChatService, ChatTurn  # noqa: E402
from libra.config import Settings  # noqa: E402
from libra.events import ReplyFinished  # noqa: E402


async def turn_ms(chat: ChatService, turn: ChatTurn) -> tuple[float, float]:
    """(ms to the first delta, ms to the end of the reply)."""
    t0 = time.perf_counter()
    first = None
    stream = await chat.reply(turn)
    async for delta in stream:
        if first is None and delta:
            first = time.perf_counter()
    end = time.perf_counter()
    assert first is not None
    return (first - t0) * 1000, (end - t0) * 1000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def run(turns: int, delay_ms: float, url: str, data_dir: Path,
              admin: bool = False) -> dict[str, object]:
    db = os.environ.get("TEST_DATABASE_URL")
    data: dict[str, object] = {
        "app": {"data_dir": str(data_dir)},
        "database": {"url": db} if db else {},
        "llm": {"servers": [url], "warmup": False},
    }
    if admin:
        # The admin port on, with its metrics collector subscribed to the bus.
        data["admin"] = {"port": free_port(), "secret": secrets.token_hex(32)}
    settings = Settings.model_validate(data)
    graph = build_graph(settings, Mode.CHAT)
    app = LibraApp.of(graph)
    await app.start()
    chat = graph.chat.service
    stages: dict[str, list[float]] = {}

    async def on_finished(event: ReplyFinished) -> None:
        for name, ms in event.stages.items():
            stages.setdefault(name, []).append(ms)

    app.bus.subscribe(ReplyFinished, on_finished)
    try:
        for i in range(20):
            await turn_ms(chat, ChatTurn(user_id=1, channel_id=1, guild_id=None,
                                         text=f"warming up number {i}"))
        added: list[float] = []
        for i in range(turns):
            first, _ = await turn_ms(chat, ChatTurn(
                user_id=2, channel_id=2, guild_id=5, text=f"what is the weather like {i}?"))
            added.append(first - delay_ms)
        hits: list[float] = []
        await turn_ms(chat, ChatTurn(user_id=10_000, channel_id=3, guild_id=None,
                                     text="Tell me a fun fact about octopuses."))
        for i in range(turns):
            _, total = await turn_ms(chat, ChatTurn(
                user_id=10_001 + i, channel_id=3, guild_id=None,
                text="Tell me a fun fact about octopuses."))
            hits.append(total)
    finally:
        await app.stop()
    added_s, hits_s = summary(added), summary(hits)
    return {
        "benchmark": "chat",
        "database": "TEST_DATABASE_URL" if db else "embedded",
        "turns": turns,
        "fake_first_token_delay_ms": delay_ms,
        "added_first_token_ms": added_s,
        "stage_p50_ms": {k: summary(v)["p50"] for k, v in stages.items()},
        "cache_hit_full_turn_ms": hits_s,
        "targets": {"added_p50_ms": 5, "added_p99_ms": 20},
        "pass": added_s["p50"] < 5 and added_s["p99"] < 20,
    }


async def compare_admin(turns: int, delay_ms: float, url: str,
                        data_dir: Path) -> dict[str, object]:
    """Added first-token latency with the admin port off vs on, interleaved runs."""
    p50: dict[str, list[float]] = {"off": [], "on": []}
    for admin in (False, True, False, True):
        result = await run(turns, delay_ms, url, data_dir, admin=admin)
        added = result["added_first_token_ms"]
        assert isinstance(added, dict)
        p50["on" if admin else "off"].append(added["p50"])
    off, on = statistics.median(p50["off"]), statistics.median(p50["on"])
    return {"benchmark": "chat-admin-port", "turns_per_run": turns,
            "added_first_token_p50_ms": {"admin_off": p50["off"], "admin_on": p50["on"]},
            "ratio_on_over_off": round(on / off, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--first-token-delay-ms", type=float, default=20.0)
    parser.add_argument("--compare-admin", action="store_true",
                        help="alternate runs with the admin port off and on (2 each)")
    args = parser.parse_args()
    logger.remove()  # figures only: plugin start-up logs would pollute the JSON
    with fake_ollama_process(args.first_token_delay_ms) as url, \
            tempfile.TemporaryDirectory(prefix="libra-bench-") as tmp:
        if args.compare_admin:
            result = asyncio.run(compare_admin(args.turns, args.first_token_delay_ms, url,
                                               Path(tmp)))
        else:
            result = asyncio.run(run(args.turns, args.first_token_delay_ms, url, Path(tmp)))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
