"""What ``libra`` commands print, as real processes: never a password, never a key.

The local PostgreSQL trusts every connection, so any password is accepted by the
server: the tests see how Libra's two drivers handle the URL, not the server's check.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from tests.fakes.fake_openai import FakeOpenAI


async def libra(tmp_path: Path, *args: str, stdin: bytes = b"",
                **env: str) -> tuple[int, str, str]:
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path),
            "LIBRA_DATA_DIR": str(tmp_path / "data")}
    if "PYTHONPATH" in os.environ:  # a worktree's checkout, not the installed package
        base["PYTHONPATH"] = os.environ["PYTHONPATH"]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "libra", *args, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=tmp_path,
        env={**base, **env})
    out, err = await asyncio.wait_for(proc.communicate(stdin), 120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def with_password(url: str, password: str) -> str:
    scheme, _, rest = url.partition("://")
    userinfo, _, host = rest.partition("@")
    return f"{scheme}://{userinfo.split(':')[0]}:{password}@{host}"


@pytest.mark.parametrize("log_format", ["json", "human"])
@pytest.mark.parametrize("password", ["my secret pass-7c1f", "pct%word-9e2b"])
async def test_migrate_and_doctor_work_with_a_password_holding_a_space_or_percent(
    tmp_path: Path, pg_url: str, password: str, log_format: str
) -> None:
    # asyncpg took such a URL and psycopg (yoyo) refused it, quoting the password.
    url = with_password(pg_url, password)
    code, out, err = await libra(tmp_path, "migrate", DATABASE_URL=url,
                                 LIBRA_APP__LOG_FORMAT=log_format)
    assert password not in out + err
    assert code == 0, err
    assert "applied  0001_schema" in out
    _, out, err = await libra(tmp_path, "doctor", DATABASE_URL=url,
                              LIBRA_LLM__SERVERS="http://127.0.0.1:9")
    assert password not in out + err
    rows = {line.split()[1]: line for line in out.splitlines() if line[:4].strip()}
    assert rows["database"].startswith("ok"), out
    assert rows["migrations"].startswith("ok"), out


async def test_a_redis_password_that_breaks_the_url_is_a_config_error(
    tmp_path: Path, pg_url: str
) -> None:
    # It used to start, log a piece of the password as a "port" with a traceback, and
    # run without the LLM and the chat.
    code, out, err = await libra(tmp_path, "chat", stdin=b"hello\n", DATABASE_URL=pg_url,
                                 REDIS_URL="redis://:pw0rd1/s3cret2@127.0.0.1:6379/0",
                                 LIBRA_LLM__SERVERS="http://127.0.0.1:9")
    assert code == 2, err
    assert out == ""
    assert err.startswith("libra: configuration error: ")
    assert "redis.url" in err and "REDIS_URL" in err and "percent-encode" in err
    assert "Traceback" not in err and "cast to integer" not in err
    assert "pw0rd1" not in err and "s3cret2" not in err


async def test_the_chat_fallback_notice_hides_the_proxy_password(
    tmp_path: Path, pg_url: str
) -> None:
    pytest.importorskip("xllamacpp")
    code, out, err = await libra(
        tmp_path, "chat", DATABASE_URL=pg_url,
        LIBRA_LLM__SERVERS="http://proxyuser:Pr0xy-Pass-77@127.0.0.1:9")
    assert "No Ollama answered at http://proxyuser:" in err, err
    assert "Pr0xy-Pass-77" not in out + err
    assert code == 0, err


async def test_the_console_hides_an_api_key_the_server_echoes(
    tmp_path: Path, pg_url: str
) -> None:
    key = "sk-live-ECHOED-0123456789abcdef"
    server = FakeOpenAI()
    server.fail_status = 401
    server.fail_message = f"Incorrect API key provided: {key}"
    await server.start()
    try:
        code, out, err = await libra(
            tmp_path, "chat", stdin=b"hello there\n", DATABASE_URL=pg_url,
            LIBRA_LLM__BACKEND="openai", LIBRA_LLM__API_KEY=key,
            LIBRA_LLM__SERVERS=server.url, LIBRA_LLM__WARMUP="false")
    finally:
        await server.stop()
    assert code == 1
    assert "answered 401" in err and "Incorrect API key provided: ***" in err
    assert key not in out + err


async def test_a_configuration_error_never_prints_a_password(tmp_path: Path) -> None:
    # A server list holding an object: the error shows the value it refused.
    code, out, err = await libra(
        tmp_path, "doctor",
        LIBRA_LLM__SERVERS='[{"main": "https://libra:Hunter2-Proxy@ollama.example"}]')
    assert code == 2 and out == ""
    assert "invalid setting llm.servers" in err
    assert "Hunter2-Proxy" not in err


async def test_doctor_never_prints_a_password_in_what_it_could_not_parse(
    tmp_path: Path, pg_url: str
) -> None:
    # Not a JSON list, so one comma-separated "server" that is no URL at all: the row
    # named after it printed the proxy password.
    _, out, err = await libra(
        tmp_path, "doctor", DATABASE_URL=pg_url,
        LIBRA_LLM__SERVERS='{"main": "https://libra:Hunter2-Proxy@ollama.example"}')
    assert "https://libra:" in out, out
    assert "Hunter2-Proxy" not in out + err


async def test_the_console_shows_a_memory_as_written_but_never_a_secret(
    tmp_path: Path, pg_url: str
) -> None:
    # Memories are the user's data, like a reply: the secret *shapes* turned "key: C minor"
    # into "key: *** minor" (Discord's /memory showed it right). Configured secrets stay
    # masked.
    key = "sk-memory-0123456789"
    script = (f"/memory remember my favourite key: C minor\n"
              f"/memory remember the token: {key}\n/memory\n").encode()
    code, out, err = await libra(
        tmp_path, "chat", stdin=script, DATABASE_URL=pg_url, LIBRA_LLM__API_KEY=key,
        LIBRA_LLM__SERVERS="http://127.0.0.1:9", LIBRA_LLM__WARMUP="false")
    assert code == 0, err
    assert "my favourite key: C minor" in err, err
    assert "the token: ***" in err and key not in out + err
