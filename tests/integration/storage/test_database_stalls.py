"""A database that stops answering while Libra runs (a host gone dark, no RST)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from pydantic import SecretStr

from libra.app import LibraApp
from libra.config import DatabaseSettings, Settings
from libra.health import Status
from libra.storage.plugin import StoragePlugin

from .freezable_proxy import FreezableProxy, proxied_url


async def test_health_answers_in_time_when_the_database_stops_answering(
    pg_url: str, tmp_path: Path,
) -> None:
    proxy = FreezableProxy(pg_url)
    port = await proxy.start()
    settings = Settings(database=DatabaseSettings(
        url=SecretStr(proxied_url(pg_url, port)), connect_timeout=2))
    app = LibraApp(settings, [StoragePlugin()])
    await app.start()
    try:
        proxy.frozen.set()
        t0 = time.monotonic()
        # Readiness probes and `libra admin status` rely on this timeout: a check
        # stuck inside the driver must not hold the whole report hostage.
        results = await asyncio.wait_for(app.health.run(timeout=1.0), 10)
        assert time.monotonic() - t0 < 3
        by_name = {r.name: r for r in results}
        assert by_name["database"].status is Status.DOWN
        assert "1s" in by_name["database"].detail
    finally:
        proxy.thaw()
        await asyncio.wait_for(app.stop(), 15)
        await proxy.close()
