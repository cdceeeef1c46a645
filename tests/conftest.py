"""Shared fixtures: a PostgreSQL server for the session, a fresh database per test.

``TEST_DATABASE_URL`` (e.g. ``postgresql://postgres@127.0.0.1:5432/test``, a role
allowed to create databases) selects a real server; otherwise an embedded server
is started in a temporary directory for the session. Area-specific fixtures live in
the conftest files next to their tests.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from pydantic import SecretStr

from libra.config import DatabaseSettings
from libra.storage import migrate
from libra.storage.db import Database
from libra.storage.embedded import EmbeddedPostgres
from libra.storage.repositories import PgStorage

# Fake LLM servers (fake_ollama, fake_ollama_factory, fake_openai) for every test.
pytest_plugins = ["tests.fakes.conftest_llm"]


def url_with_database(url: str, database: str) -> str:
    """``url`` pointing at another database on the same server."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """URL of a PostgreSQL server whose role may create databases."""
    external = os.environ.get("TEST_DATABASE_URL")
    if external:
        yield external
        return
    # Not under pytest's own tmp dir: as root the server makes every parent o+rx.
    root = Path(tempfile.mkdtemp(prefix="libra-test-pg-"))
    server = EmbeddedPostgres(root / "postgres")
    try:
        yield server.start()
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg_url(pg_server_url: str) -> Iterator[str]:
    """URL of a fresh, empty database that is dropped after the test."""
    name = f"libra_test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(pg_server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url_with_database(pg_server_url, name)
    finally:
        with psycopg.connect(pg_server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def database(pg_url: str, tmp_path: Path) -> AsyncIterator[Database]:
    """An open :class:`Database` on ``pg_url`` with every migration applied."""
    db = await Database.open(DatabaseSettings(url=SecretStr(pg_url)), data_dir=tmp_path)
    try:
        await migrate.apply_async(db.dsn_for_yoyo())
        yield db
    finally:
        await db.close()


@pytest.fixture
def storage(database: Database) -> PgStorage:
    """A migrated :class:`PgStorage` on a fresh database."""
    return PgStorage(database.pool)
