"""The ``libra`` command line as a new user meets it: messages, not tracebacks."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path


async def libra(tmp_path: Path, *args: str, **env: str) -> tuple[int, str, str]:
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path),
            "LIBRA_DATA_DIR": str(tmp_path / "data")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "libra", *args, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=tmp_path,
        env={**base, **env})
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def _unusable_data_dir(tmp_path: Path) -> str:
    # A data dir below a regular file cannot be created, even by root.
    (tmp_path / "not-a-dir").write_text("x")
    return str(tmp_path / "not-a-dir" / "data")


async def test_doctor_reports_an_unusable_data_dir_instead_of_crashing(
    tmp_path: Path
) -> None:
    code, out, err = await libra(tmp_path, "doctor",
                                 LIBRA_DATA_DIR=_unusable_data_dir(tmp_path))
    assert "Traceback" not in err, err
    assert code == 1
    database = next(line for line in out.splitlines() if "  database" in line)
    assert database.startswith("FAIL") and "not-a-dir" in database
    assert "fix: set LIBRA_DATA_DIR" in out
    assert out.rstrip().endswith("problem(s) found")


async def test_migrate_with_an_unusable_data_dir_is_a_message(tmp_path: Path) -> None:
    code, _, err = await libra(tmp_path, "migrate", "status",
                                 LIBRA_DATA_DIR=_unusable_data_dir(tmp_path))
    assert "Traceback" not in err, err
    assert code == 1
    assert err.startswith("libra: ") and "not-a-dir" in err


async def test_admin_status_without_a_port_says_the_port_is_off(tmp_path: Path) -> None:
    # The admin port is off by default; asking for its status must say so, not
    # complain about a missing secret and suggest unsetting the port that is unset.
    code, out, err = await libra(tmp_path, "admin", "status")
    assert code == 2 and out == ""
    assert "admin.port is not set" in err
    assert "admin.secret" not in err and "unset admin.port" not in err


async def test_migrate_logs_in_the_configured_format(tmp_path: Path, pg_url: str) -> None:
    # `docker compose exec libra libra migrate` must log JSON lines like the bot,
    # through the redacting sink, not loguru's default handler.
    code, _, err = await libra(tmp_path, "migrate", DATABASE_URL=pg_url,
                                 LIBRA_APP__LOG_FORMAT="json")
    assert code == 0, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines and all(line.startswith("{") for line in lines), err


async def test_a_non_numeric_rollback_count_is_explained_in_words(tmp_path: Path) -> None:
    code, out, err = await libra(tmp_path, "migrate", "rollback", "--count", "x")
    assert code == 2 and out == ""
    assert "argument --count: must be a whole number, not 'x'" in err
    assert "_positive" not in err


async def test_lang_detect_reads_lines_that_are_not_utf8(tmp_path: Path) -> None:
    # A Latin-1 file piped in under a UTF-8 locale: one answer per line, no traceback.
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "libra", "lang", "detect", stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=tmp_path,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path),
             "PYTHONIOENCODING": "utf-8:strict"})
    out, err = await asyncio.wait_for(
        proc.communicate(b"caf\xe9 au lait, s'il vous pla\xeet\nbonjour tout le monde\n"), 60)
    assert "Traceback" not in err.decode(), err.decode()
    assert proc.returncode == 0
    assert [line.split("\t")[0] for line in out.decode().splitlines()] == ["fr", "fr"]


async def test_doctor_reports_a_redis_url_with_the_wrong_scheme(tmp_path: Path,
                                                                 pg_url: str) -> None:
    _, out, err = await libra(tmp_path, "doctor", DATABASE_URL=pg_url,
                              REDIS_URL="http://127.0.0.1:6379/0")
    assert "Traceback" not in err, err
    redis = next(line for line in out.splitlines() if "  redis" in line)
    assert redis.startswith("FAIL") and "redis://" in redis


async def test_chat_with_an_invalid_setting_exits_2_and_names_it(tmp_path: Path,
                                                                 pg_url: str) -> None:
    # The LLM plugin refuses the Redis URL; the console cannot chat without it.
    code, out, err = await libra(tmp_path, "chat", DATABASE_URL=pg_url,
                                 REDIS_URL="http://127.0.0.1:6379/0",
                                 LIBRA_LLM__SERVERS="http://127.0.0.1:9",
                                 LIBRA_LLM__BACKEND="openai", LIBRA_APP__LOG_FORMAT="human")
    assert code == 2, err
    assert out == ""
    assert "redis.url must start with redis://" in err
    assert "ChatService is not available" not in err


async def test_output_cut_short_by_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    # `libra lang detect < big.txt | head -1`: the reader leaving is not an error to print.
    read_end, write_end = os.pipe()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "libra", "lang", "detect", stdin=asyncio.subprocess.PIPE,
        stdout=write_end, stderr=asyncio.subprocess.PIPE, cwd=tmp_path,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path)})
    os.close(write_end)
    os.close(read_end)  # nobody reads: every write fails with EPIPE
    _, err = await asyncio.wait_for(proc.communicate(b"hello there\n" * 5000), 60)
    assert err.decode() == ""
    assert proc.returncode == 141  # 128 + SIGPIPE, as the shell reports it for C tools
