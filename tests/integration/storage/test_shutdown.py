"""Shutdown keeps what bus handlers are still writing."""

from __future__ import annotations

import asyncio
from pathlib import Path

from libra.config import Settings
from libra.events import LLMCallFinished

from .outage import count_rows, storage_app


async def test_bus_handlers_still_running_at_shutdown_store_their_rows(
    pg_url: str, tmp_path: Path,
) -> None:
    # One connection: the handlers queue for it, so most are still running when the
    # process is told to stop (a burst of replies ending at shutdown).
    settings = Settings.model_validate({"app": {"data_dir": str(tmp_path)},
                                        "database": {"url": pg_url, "pool_max": 1}})
    app, _ = storage_app(settings)
    await app.start()
    for n in range(20):
        app.bus.publish(LLMCallFinished(model="llama3", language="en", prompt_tokens=n,
                                        completion_tokens=34, first_token_ms=50.0,
                                        latency_ms=400.0 + n, cache_hit=False))
    await asyncio.wait_for(app.stop(), 30)
    assert await count_rows(pg_url, "llm_calls") == 20
