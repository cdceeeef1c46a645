"""``libra migrate rollback`` as a real process: it says what it destroys and asks first."""

from __future__ import annotations

import asyncio
import os
import pty
import shlex
import shutil
import sys
from pathlib import Path

import psycopg
import pytest

from libra.storage import migrate

REPO = Path(__file__).resolve().parents[2]
"""The checkout under test: the child must import its code, not an installed copy."""
ALL = ("--count", str(len(migrate.migration_ids())))
"""Roll back every migration: only 0001 drops the tables these tests fill (a bare
``rollback`` undoes the newest migration alone)."""


async def libra(tmp_path: Path, *args: str, stdin: int = asyncio.subprocess.DEVNULL,
                **env: str) -> tuple[int, str, str]:
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path),
            "LIBRA_DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": str(REPO)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "libra", *args, stdin=stdin, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, cwd=tmp_path, env={**base, **env})
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


@pytest.fixture
def history(pg_url: str) -> str:
    """A migrated database holding two users, one session and three messages."""
    migrate.apply(pg_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("INSERT INTO users (discord_id) VALUES (1), (2)")
        conn.execute("INSERT INTO sessions (user_id, channel_id) VALUES (1, 10)")
        conn.execute("INSERT INTO messages (user_id, session_id, channel_id, role, content) "
                     "VALUES (1, 1, 10, 'user', 'a'), (1, 1, 10, 'assistant', 'b'), "
                     "(1, 1, 10, 'user', 'c')")
    return pg_url


def user_rows(url: str) -> int | None:
    with psycopg.connect(url) as conn:
        if conn.execute("SELECT to_regclass('users')").fetchone() == (None,):
            return None
        row = conn.execute("SELECT count(*) FROM users").fetchone()
        return None if row is None else int(row[0])


async def test_rollback_without_yes_in_a_script_refuses_and_keeps_everything(
    tmp_path: Path, history: str
) -> None:
    code, out, err = await libra(tmp_path, "migrate", "rollback", *ALL, DATABASE_URL=history)
    assert code == 2, err
    assert "--yes" in err and "not a terminal" in err
    # What would have been lost is said before refusing.
    assert "users (2 rows)" in out and "messages (3 rows)" in out
    assert "pg_dump" in out
    assert user_rows(history) == 2


async def test_rollback_with_yes_says_what_it_drops_then_drops_it(
    tmp_path: Path, history: str
) -> None:
    code, out, err = await libra(tmp_path, "migrate", "rollback", *ALL, "--yes",
                                 DATABASE_URL=history)
    assert code == 0, err
    assert "users (2 rows)" in out and "sessions (1 row)" in out
    assert "rolled back  0001_schema" in out
    assert user_rows(history) is None


@pytest.mark.parametrize(("answer", "code", "rows"), [(b"no\n", 1, 2), (b"yes\n", 0, None)])
async def test_rollback_on_a_terminal_asks_before_dropping(
    tmp_path: Path, history: str, answer: bytes, code: int, rows: int | None
) -> None:
    controller, terminal = pty.openpty()
    try:
        os.write(controller, answer)  # typed ahead: read once the question is asked
        result, out, err = await libra(tmp_path, "migrate", "rollback", *ALL,
                                       stdin=terminal, DATABASE_URL=history)
    finally:
        os.close(terminal)
        os.close(controller)
    assert result == code, err
    assert "users (2 rows)" in out
    assert "Type yes to roll back" in err
    assert user_rows(history) == rows


async def test_nothing_to_roll_back_asks_nothing(tmp_path: Path, pg_url: str) -> None:
    code, out, err = await libra(tmp_path, "migrate", "rollback", DATABASE_URL=pg_url)
    assert (code, out.strip()) == (0, "nothing to roll back"), err


async def test_the_printed_backup_command_backs_up_the_configured_database(
    tmp_path: Path, history: str
) -> None:
    # The hint said pg_dump "$DATABASE_URL": empty in the operator's shell when the URL
    # comes from DATABASE_URL_FILE (Docker secrets) or LIBRA_DATABASE__URL, and refused
    # by pg_dump for asyncpg's ssl=disable. The command printed must back up this database.
    password = "pw-7d1e-secret"
    scheme, _, rest = history.partition("://")
    url = f"{scheme}://{rest.partition('@')[0].split(':')[0]}:{password}@{rest.partition('@')[2]}"
    url += ("&" if "?" in url else "?") + "ssl=disable"
    secret = tmp_path / "database_url"
    secret.write_text(url + "\n")
    code, out, err = await libra(tmp_path, "migrate", "rollback",
                                 DATABASE_URL_FILE=str(secret))
    assert code == 2, err
    assert password not in out + err
    command = next(line.strip() for line in out.splitlines()
                   if line.strip().startswith("pg_dump "))
    assert "$DATABASE_URL" not in command
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        pytest.skip("pg_dump is not installed")
    args = shlex.split(command)
    dump = await asyncio.create_subprocess_exec(
        pg_dump, *args[1:], cwd=tmp_path, stdin=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE, env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
    _, dump_err = await asyncio.wait_for(dump.communicate(), 60)
    assert dump.returncode == 0, dump_err.decode()
    listing = await asyncio.create_subprocess_exec(
        "pg_restore", "--list", "libra-backup.dump", cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE)
    contents, _ = await asyncio.wait_for(listing.communicate(), 60)
    assert "TABLE DATA public messages" in contents.decode()
