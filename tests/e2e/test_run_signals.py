"""`libra run` as a real process: a signal while Discord is still connecting."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path


async def test_sigterm_while_discord_is_connecting_exits_promptly(
    pg_url: str, tmp_path: Path
) -> None:
    # A Discord API that accepts connections and never answers: start() hangs there.
    accepted: list[asyncio.StreamWriter] = []

    async def silent(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path),
        "LIBRA_DATA_DIR": str(tmp_path / "data"), "DATABASE_URL": pg_url,
        "DISCORD_TOKEN": "MTA5ODc2NTQzMjEwOTg3NjU0.GhIjKl.abcdefghijklmnopqrstuvwxyz0123456789",
        "LIBRA_DISCORD__REST_URL": f"http://127.0.0.1:{port}/api/v10",
        "LIBRA_LLM__SERVERS": "http://127.0.0.1:9", "LIBRA_APP__LOG_FORMAT": "json",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "libra", "run", stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT, cwd=tmp_path, env=env)
    try:
        for _ in range(300):  # Discord's start is now waiting on the silent server
            if accepted:
                break
            await asyncio.sleep(0.1)
        assert accepted, "libra never reached the Discord API"
        proc.send_signal(signal.SIGTERM)
        out, _ = await asyncio.wait_for(proc.communicate(), 20)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()
    logs = out.decode()
    assert proc.returncode == 0, logs
    assert "while discord was starting" in logs
    assert "Traceback" not in logs
