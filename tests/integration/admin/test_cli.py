"""``libra admin ...`` as an operator runs it: a separate process against the live port."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import bcrypt
import pytest

from .conftest import StartAdmin
from .harness import AdminHarness, ok_check


async def _libra(*args: str, config: Path | None = None, secret: bytes | None = None,
                 stdin: bytes = b"") -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIBRA_")}
    if secret is not None:
        env["LIBRA_ADMIN__SECRET"] = secret.decode()
    argv = [sys.executable, "-m", "libra"]
    if config is not None:
        argv += ["--config", str(config)]
    proc = await asyncio.create_subprocess_exec(
        *argv, *args, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=env)
    out, err = await asyncio.wait_for(proc.communicate(stdin), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def _config(tmp_path: Path, h: AdminHarness) -> Path:
    path = tmp_path / "libra.toml"
    path.write_text(f'[admin]\nport = {h.port}\nauth_mode = "{h.settings.admin.auth_mode}"\n')
    return path


async def test_hash_password_reads_stdin_and_prints_a_bcrypt_hash() -> None:
    code, out, err = await _libra("admin", "hash-password", "--rounds", "10",
                                  stdin=b"correct horse battery staple\n")
    assert code == 0, err
    hashed = out.strip()
    assert hashed.startswith("$2b$10$")
    assert bcrypt.checkpw(b"correct horse battery staple", hashed.encode())
    assert "correct horse" not in out


async def test_hash_password_refuses_an_empty_password() -> None:
    code, out, err = await _libra("admin", "hash-password", stdin=b"\n")
    assert code == 2 and out == ""
    assert "the password is empty" in err


@pytest.mark.parametrize("mode", ["simple", "hmac"])
async def test_status_and_flush_sign_requests(start_admin: StartAdmin, tmp_path: Path,
                                              mode: str) -> None:
    h = await start_admin(parts=("llm",), auth_mode=mode)
    h.health.register("database", ok_check("database"))
    h.health.register("migrations", ok_check("migrations"))
    config = _config(tmp_path, h)

    code, out, err = await _libra("admin", "status", config=config, secret=h.secret)
    assert code == 1, err  # the llm check cannot reach a model server here
    assert out.splitlines()[0] == "NOT READY"
    assert any(line.split()[:3] == ["*", "database", "ok"] for line in out.splitlines())

    code, out, err = await _libra("admin", "flush-cache", "--namespace", "llama3", config=config,
                                  secret=h.secret)
    assert (code, out.strip()) == (0, "flushed 0 entries from namespace 'llama3'"), err


async def test_wrong_secret_is_reported_with_the_servers_code(start_admin: StartAdmin,
                                                              tmp_path: Path) -> None:
    h = await start_admin(auth_mode="hmac")
    code, out, err = await _libra("admin", "flush-cache", config=_config(tmp_path, h),
                                  secret=b"w" * 40)
    assert code == 1 and out == ""
    assert "401 signature_invalid" in err


async def test_unreachable_server_is_a_clear_error(tmp_path: Path) -> None:
    from .harness import free_port
    config = tmp_path / "libra.toml"
    config.write_text(f"[admin]\nport = {free_port()}\n")
    code, _, err = await _libra("admin", "status", config=config, secret=b"s" * 40)
    assert code == 1
    assert "cannot reach the admin server" in err
