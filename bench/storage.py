"""Storage hot path: append one message, then load the session's last 20.

Runs on a fresh embedded server (Unix socket) and, when ``TEST_DATABASE_URL`` is set,
on a fresh database of that server too. Prints one JSON object.

    .venv/bin/python bench/storage.py [--iterations 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg
from loguru import logger
from pydantic import SecretStr

from libra.config import DatabaseSettings
from libra.storage import migrate
from libra.storage.api import Role
from libra.storage.db import Database
from libra.storage.repositories import PgStorage

WARMUP = 200


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered), 4),
        "p99_ms": round(ordered[int(len(ordered) * 0.99) - 1], 4),
        "mean_ms": round(statistics.fmean(ordered), 4),
    }


async def measure(db: Database, iterations: int) -> dict[str, object]:
    await migrate.apply_async(db.dsn_for_yoyo())
    storage = PgStorage(db.pool)
    user = await storage.ensure_user(123456789012345678)
    session = await storage.open_session(user.id, 987654321098765432, None)
    append: list[float] = []
    recent: list[float] = []
    both: list[float] = []
    for i in range(WARMUP + iterations):
        t0 = time.perf_counter()
        await storage.append_message(session_id=session, user_id=user.id,
                                     channel_id=987654321098765432,
                                     role=Role.USER if i % 2 == 0 else Role.ASSISTANT,
                                     content=f"message {i} " + "lorem ipsum " * 8,
                                     language="en")
        t1 = time.perf_counter()
        messages = await storage.recent_messages(session, 20)
        t2 = time.perf_counter()
        assert len(messages) == min(20, i + 1)
        if i >= WARMUP:
            append.append((t1 - t0) * 1000)
            recent.append((t2 - t1) * 1000)
            both.append((t2 - t0) * 1000)
    return {"append_and_last_20": percentiles(both), "append": percentiles(append),
            "last_20": percentiles(recent)}


async def run_embedded(iterations: int) -> dict[str, object]:
    root = Path(tempfile.mkdtemp(prefix="libra-bench-"))
    try:
        t0 = time.perf_counter()
        db = await Database.open(DatabaseSettings(), data_dir=root)
        start_s = time.perf_counter() - t0
        try:
            result = await measure(db, iterations)
        finally:
            await db.close()
        return {"server_start_s": round(start_s, 3), **result}
    finally:
        shutil.rmtree(root, ignore_errors=True)


async def run_external(server_url: str, iterations: int) -> dict[str, object]:
    name = f"libra_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        url = urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))
        db = await Database.open(DatabaseSettings(url=SecretStr(url)), data_dir=Path("."))
        try:
            return await measure(db, iterations)
        finally:
            await db.close()
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--iterations", type=int, default=2000)
    args = parser.parse_args()
    logger.remove()
    report: dict[str, object] = {"iterations": args.iterations, "warmup": WARMUP,
                                 "embedded_unix_socket": await run_embedded(args.iterations)}
    external = os.environ.get("TEST_DATABASE_URL")
    if external:
        report["test_database_url_tcp"] = await run_external(external, args.iterations)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
