"""No secret ever reaches a log line: a whole Libra process, driven into failures."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import socket
import sys
import time
from pathlib import Path

import aiohttp

from tests.fakes.fake_ollama import FakeOllama

DB_PASSWORD = "Db-Pa55word-7c1f0e"
DISCORD_TOKEN = "MTA5ODc2NTQzMjEwOTg3NjU0.GhIjKl.Zx9yW8vU7tS6rQ5pO4nM3lK2jI1hG0fEdCbA"
ADMIN_SECRET = "admin-secret-" + "q" * 40
API_KEY = "sk-live-0123456789abcdef0123456789abcdef"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_secrets_never_appear_in_any_log_line(
    tmp_path: Path, fake_openai_for_redaction: FakeOllama
) -> None:
    port = free_port()
    secret_file = tmp_path / "admin_secret"
    secret_file.write_text(ADMIN_SECRET, encoding="utf-8")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path),
        "LIBRA_DATA_DIR": str(tmp_path / "data"),
        # An unreachable database whose URL carries a password: storage fails loudly.
        "DATABASE_URL": f"postgresql://libra:{DB_PASSWORD}@127.0.0.1:1/libra",
        "LIBRA_DATABASE__CONNECT_TIMEOUT": "1",
        "DISCORD_TOKEN": DISCORD_TOKEN,
        "LIBRA_ADMIN__PORT": str(port), "LIBRA_ADMIN__SECRET_FILE": str(secret_file),
        "LIBRA_ADMIN__AUTH_MODE": "simple",
        # An OpenAI-compatible server that rejects the key, then a dead one.
        "LIBRA_LLM__BACKEND": "openai", "LIBRA_LLM__API_KEY": API_KEY,
        "LIBRA_LLM__SERVERS": f'["{fake_openai_for_redaction.url}", "http://127.0.0.1:9"]',
        "LIBRA_LLM__WARMUP": "true", "LIBRA_APP__LOG_FORMAT": "json",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "libra", "chat", "--verbose", stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=tmp_path, env=env)
    assert proc.stdin is not None
    proc.stdin.write(b"hello, are you there?\n")
    await proc.stdin.drain()
    # Drive the admin port into auth failures while Libra runs.
    async with aiohttp.ClientSession() as http:
        for _ in range(50):
            try:
                async with http.get(f"http://127.0.0.1:{port}/api/health"):
                    break
            except aiohttp.ClientError:
                await asyncio.sleep(0.2)
        for header in ({"X-Shared-Secret": ADMIN_SECRET[:-1] + "x"},
                       {"X-Shared-Secret": API_KEY}, {"Authorization": f"Bot {DISCORD_TOKEN}"}):
            async with http.post(f"http://127.0.0.1:{port}/api/cache/flush",
                                 headers=header) as response:
                assert response.status in (401, 429)
        ts = str(int(time.time()))
        signature = hmac.new(ADMIN_SECRET.encode(), f"GET|/metrics|{ts}".encode(),
                             hashlib.sha256).hexdigest()
        async with http.get(f"http://127.0.0.1:{port}/metrics",
                            headers={"X-Shared-Secret": ADMIN_SECRET,
                                     "X-Signature": signature}) as response:
            assert response.status == 200
    proc.stdin.write(b"/memory\nsecond question, please?\n")
    proc.stdin.close()
    out, err = await asyncio.wait_for(proc.communicate(), 90)
    logs = out.decode() + err.decode()
    # The run really exercised the failure paths we are checking.
    assert "storage" in logs and "llm" in logs
    assert len(logs.splitlines()) > 10
    for secret in (DB_PASSWORD, DISCORD_TOKEN, ADMIN_SECRET, API_KEY,
                   DISCORD_TOKEN.split(".")[2], ADMIN_SECRET[:-1] + "x"):
        assert secret not in logs, f"secret leaked: {secret[:6]}…"
    assert fake_openai_for_redaction.requests, "the LLM server was never called"
