"""Memories saved before they had a scope, and the console's own memories.

Memories from before migration 0002 carry no record of where they were made: they
may hold what someone told Libra in a DM. They must never reach a prompt that others
can read the answer to, so they are used in DMs only.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path
from typing import Any

import psycopg

from libra.console.identity import CONSOLE_USER_ID
from libra.console.transport import ConsoleTransport
from libra.storage import migrate
from libra.storage.db import with_sslmode
from tests.fakes.fake_ollama import FakeOllama


def yoyo_dsn(url: str) -> str:
    return with_sslmode(url, None).replace("postgresql://", "postgresql+psycopg://", 1)


def system_prompt(ollama: FakeOllama) -> str:
    return str(ollama.requests[-1].body["messages"][0]["content"])


async def test_memories_saved_before_scopes_are_used_in_dms_only(
    make_chat: Any, fake_ollama: FakeOllama, pg_url: str, tmp_path: Path
) -> None:
    # A database of the previous release: schema 0001 and one memory in it.
    old = tmp_path / "old-migrations"
    old.mkdir()
    for name in ("0001_schema.sql", "0001_schema.rollback.sql"):
        shutil.copy(migrate.default_migrations_dir() / name, old / name)
    migrate.apply(yoyo_dsn(pg_url), old)
    with psycopg.connect(pg_url) as conn:
        conn.execute("INSERT INTO users (discord_id) VALUES (1001)")
        conn.execute("INSERT INTO memories (user_id, content) SELECT id, 'I was sacked today.' "
                     "FROM users")

    harness = await make_chat(fake_ollama, pg_url)  # migrates to the current schema

    await harness.ask("How was my week?", guild=3003, channel=2002)
    assert "sacked" not in system_prompt(fake_ollama)
    await harness.ask("How was my week, in private?", guild=None, channel=4004)
    assert "sacked" in system_prompt(fake_ollama)
    [legacy] = await harness.chat.memories(1001)
    assert legacy.scope == "unknown"


async def test_the_console_keeps_its_memories_to_itself(
    make_chat: Any, fake_ollama: FakeOllama, pg_url: str
) -> None:
    harness = await make_chat(fake_ollama, pg_url)
    language = harness.language
    out = io.StringIO()
    llm = harness.llm
    console = ConsoleTransport(chat=harness.chat, language=language, llm=llm, stdin=io.StringIO(
        "/memory remember My build box is called tartan.\nWhich box do I build on?\n/memory\n"),
        stdout=out, stderr=out, interactive=False)

    assert await console.run() == 0

    assert "tartan" in system_prompt(fake_ollama)
    assert "[console] My build box is called tartan." in out.getvalue()
    [memory] = await harness.chat.memories(CONSOLE_USER_ID)
    assert memory.scope == "console"
