"""``libra chat`` fed bytes a terminal or a pipe can really carry."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from tests.fakes.fake_ollama import FakeOllama


@pytest.mark.parametrize("io_encoding", [None, "utf-8:strict"],
                         ids=["c-locale", "utf-8-locale"])
async def test_a_line_that_is_not_utf8_does_not_crash_or_hang_the_console(
    fake_ollama: FakeOllama, pg_url: str, tmp_path: Path, io_encoding: str | None
) -> None:
    # A Latin-1 "café" piped in from an old file. In the C locale Python hands the
    # console lone surrogates; in a UTF-8 locale decoding fails in the reader thread.
    fake_ollama.answers = {"What is 2 + 2?": "2 + 2 is 4."}
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path),
           "LIBRA_DATA_DIR": str(tmp_path / "data"), "LIBRA_LLM__WARMUP": "false",
           "DATABASE_URL": pg_url, "LIBRA_LLM__SERVERS": fake_ollama.url}
    if io_encoding:
        env["PYTHONIOENCODING"] = io_encoding
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "libra", "chat", stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=tmp_path,
        env=env)
    try:
        out, err = await asyncio.wait_for(
            proc.communicate(b"caf\xe9 au lait?\nWhat is 2 + 2?\n"), 60)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert "Traceback" not in err.decode(), err.decode()
    assert proc.returncode == 0, err.decode()
    # The undecodable byte became U+FFFD; both lines were answered, in order.
    assert out.decode().splitlines() == [fake_ollama.default_answer, "2 + 2 is 4."]
    first = next(r for r in fake_ollama.requests if r.path == "/api/chat")
    assert "caf\ufffd au lait?" in first.body["messages"][-1]["content"]


async def test_command_errors_are_specific_and_never_show_unfilled_placeholders(
    fake_ollama: FakeOllama, pg_url: str, tmp_path: Path
) -> None:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path),
           "LIBRA_DATA_DIR": str(tmp_path / "data"), "LIBRA_LLM__WARMUP": "false",
           "DATABASE_URL": pg_url, "LIBRA_LLM__SERVERS": fake_ollama.url}
    lines = ["/memory remember", "/memory forget 99999999999999999999999",
             "/memory remember " + "a" * 5000, "/memory"]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "libra", "chat", stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=tmp_path,
        env=env)
    _, raw_err = await asyncio.wait_for(
        proc.communicate("".join(f"{line}\n" for line in lines).encode()), 60)
    err = raw_err.decode()
    assert proc.returncode == 1 and "Traceback" not in err
    # Not the chat's "say something" hint, and not "ref ?" / "is ? characters".
    assert "usage: /memory remember TEXT" in err
    assert "What's a good name for a cat" not in err
    assert " ?" not in err, err
    assert "5000 characters; the limit is 4000" in err
    assert "I don't remember anything about you yet." in err
