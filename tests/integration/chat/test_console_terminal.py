"""``libra chat`` on a real terminal (a pty): model output cannot drive the terminal."""

from __future__ import annotations

import asyncio
import os
import pty
import sys
from pathlib import Path

from tests.fakes.fake_ollama import FakeOllama

# A hostile or confused model: clear screen, colours, a window title split over two
# streamed tokens, a clipboard write (OSC 52), an 8-bit CSI, carriage return, backspace.
HOSTILE = ("Hello \x1b[2J\x1b[31mworld\x1b[0m \x1b]0;pwned title\x07and "
           "\x1b]52;c;ZXZpbA==\x07bye\x9b31m!\r\x08")


async def read_until(master: int, buffer: bytearray, marker: bytes, count: int) -> None:
    """Read the terminal until ``marker`` was shown ``count`` times."""
    loop = asyncio.get_running_loop()
    while buffer.count(marker) < count:
        readable = asyncio.Event()
        loop.add_reader(master, readable.set)
        try:
            await readable.wait()
        finally:
            loop.remove_reader(master)
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the console closed the terminal
            return
        if not chunk:
            return
        buffer += chunk


async def test_terminal_control_sequences_from_the_model_are_not_shown(
    fake_ollama: FakeOllama, pg_url: str, tmp_path: Path
) -> None:
    fake_ollama.default_answer = HOSTILE
    master, slave = pty.openpty()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path),
           "LIBRA_DATA_DIR": str(tmp_path / "data"), "LIBRA_LLM__WARMUP": "false",
           "LIBRA_LLM__COALESCE_CHARS": "1", "LIBRA_LLM__COALESCE_MS": "0",
           "DATABASE_URL": pg_url, "LIBRA_LLM__SERVERS": fake_ollama.url,
           "TERM": "xterm-256color"}
    if "PYTHONPATH" in os.environ:  # a worktree's checkout, not the installed package
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "libra", "chat", stdin=slave, stdout=slave,
        stderr=asyncio.subprocess.PIPE, cwd=tmp_path, env=env)
    os.close(slave)
    shown = bytearray()
    try:
        async with asyncio.timeout(60):
            await read_until(master, shown, b"you> ", 1)
            os.write(master, b"hello there\n")
            await read_until(master, shown, b"you> ", 2)
            os.write(master, b"/quit\n")
            await read_until(master, shown, b"\x00never", 1)  # to the end of output
            _, err = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        os.close(master)
    text = shown.decode("utf-8", "replace")
    assert proc.returncode == 0, err.decode()
    assert "libra> Hello world and bye!\r\n" in text, repr(text)
    assert "\x1b" not in text and "\x9b" not in text and "\x07" not in text
    assert "pwned" not in text and "title" not in text and "ZXZpbA" not in text
    assert "\x08" not in text
