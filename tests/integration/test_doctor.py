"""``libra doctor`` as a real process: a table, a fix per failure, a truthful exit code."""

from __future__ import annotations

import asyncio
import base64
import os
import sys
from pathlib import Path

from tests.fakes.fake_ollama import FakeOllama

GOOD_TOKEN = base64.urlsafe_b64encode(b"123456789012345678").decode().rstrip("=") + \
    ".GhIjKl.abcdefghijklmnopqrstuvwxyz0123456789AB"


async def doctor(tmp_path: Path, **env: str) -> tuple[int, str]:
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path),
            "LIBRA_DATA_DIR": str(tmp_path / "data")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "libra", "doctor", stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT, cwd=tmp_path, env={**base, **env})
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


def row(output: str, name: str) -> str:
    return next(line for line in output.splitlines() if f"  {name}" in line)


async def test_healthy_setup_passes(tmp_path: Path, pg_url: str,
                                    fake_ollama: FakeOllama) -> None:
    code, out = await doctor(tmp_path, DATABASE_URL=pg_url,
                             LIBRA_LLM__SERVERS=fake_ollama.url, DISCORD_TOKEN=GOOD_TOKEN)
    assert code == 0, out
    assert row(out, "database").startswith("ok")
    assert row(out, "migrations").startswith("WARN")  # a fresh database: not migrated yet
    assert "fix: run `libra migrate`" in out
    assert row(out, "discord token").startswith("ok")
    assert "application 123456789012345678" in out
    assert out.rstrip().endswith("all checks passed")
    assert GOOD_TOKEN not in out


async def test_each_failure_has_a_fix_and_fails_the_exit_code(
    tmp_path: Path, fake_ollama: FakeOllama
) -> None:
    fake_ollama.models = {"llama3:8b-instruct-q4_K_M"}
    code, out = await doctor(
        tmp_path, DATABASE_URL="postgresql://libra:pw@127.0.0.1:1/libra",
        LIBRA_DATABASE__CONNECT_TIMEOUT="1", LIBRA_LLM__SERVERS=fake_ollama.url,
        DISCORD_TOKEN="this-is-not-a-token", LIBRA_ADMIN__PORT="8080",
        LIBRA_ADMIN__SECRET="too-short")
    assert code == 1
    assert row(out, "database").startswith("FAIL")
    assert row(out, "migrations").startswith("-")
    assert "fix: ollama pull qwen2.5:7b-instruct" in out
    assert row(out, "discord token").startswith("FAIL")
    assert "fix: copy the token again" in out
    assert row(out, "admin http").startswith("FAIL")
    assert "at least 32 bytes" in out
    assert "4 problem(s) found" in out
    assert ":pw@" not in out and "too-short" not in out


async def test_unreachable_llm_explains_how_to_start_it(tmp_path: Path, pg_url: str) -> None:
    code, out = await doctor(tmp_path, DATABASE_URL=pg_url,
                             LIBRA_LLM__SERVERS="http://127.0.0.1:9")
    assert code == 1
    assert "fix: start Ollama (`ollama serve`)" in out


async def test_a_password_in_an_llm_server_url_is_not_printed(tmp_path: Path,
                                                               pg_url: str) -> None:
    code, out = await doctor(tmp_path, DATABASE_URL=pg_url,
                             LIBRA_LLM__SERVERS="http://libra:s3cret-llm@127.0.0.1:9")
    assert code == 1
    assert "llm http://" in out and "127.0.0.1:9" in out
    assert "s3cret-llm" not in out


async def test_invalid_config_exits_2(tmp_path: Path) -> None:
    code, out = await doctor(tmp_path, LIBRA_LLM__NUM_CTX="lots")
    assert code == 2
    assert "llm.num_ctx" in out and "LIBRA_LLM__NUM_CTX" in out
