"""Everything stored about one user, read for their export (``/privacy export``).

A user's rows are their ``users`` row and every row that points at it: sessions,
messages (theirs and Libra's replies to them, both stored in their session),
memories, translations, LLM calls and translation opt-ins. Rows are read whole
(``SELECT *``) so that a column a later migration adds is exported without anyone
remembering to add it here.
Deleting is one ``DELETE`` of the ``users`` row: every other table cascades from it.
The exception is the linked-channel mapping (``translation_post_sources``): it names
a message's author by Discord id (a message is mapped whether or not its author ever
spoke to Libra), so it is read and deleted by ``author_id`` (:data:`AUTHORED_POSTS`,
:data:`DELETE_AUTHORED_POSTS`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from libra.storage.api import UserData

OWNED_TABLES = ("sessions", "messages", "memories", "translations", "llm_calls",
                "translate_opt_ins")
"""Tables whose rows belong to a user through ``user_id`` (all ``ON DELETE CASCADE``)."""

AUTHORED_POSTS = """
SELECT s.source_message_id, COALESCE(s.source_channel_id, p.source_channel_id)
       AS source_channel_id, s.source_text, p.target_channel_id,
       p.target_message_id, p.languages, p.created_at
FROM translation_post_sources s JOIN translation_posts p ON p.id = s.post_id
WHERE s.author_id = $1
ORDER BY p.created_at, p.id, s.position
"""
"""The user's messages mapped to translations Libra posted in linked channels."""

DELETE_AUTHORED_POSTS = """
WITH gone AS (
    DELETE FROM translation_post_sources WHERE author_id = $1 RETURNING post_id
), emptied AS (
    DELETE FROM translation_posts p WHERE p.id IN (SELECT post_id FROM gone)
    AND NOT EXISTS (SELECT 1 FROM translation_post_sources o
                    WHERE o.post_id = p.id AND o.author_id <> $1)
)
SELECT post_id FROM gone
"""
"""Their mappings (one row per message, with its line's author name and translation);
a post left with no other author's line goes too. A post combining several authors
keeps the others' lines (the status counts the user's rows)."""

DISCORD_ID_COLUMNS = frozenset({"discord_id", "channel_id", "guild_id", "source_message_id",
                                "source_channel_id", "target_channel_id",
                                "target_message_id"})
"""Snowflakes exceed what a JSON number keeps exactly (2**53): written as strings."""


def jsonable(row: asyncpg.Record) -> dict[str, Any]:
    """A row as JSON-ready values: ISO timestamps, Discord ids as strings."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, datetime):
            out[key] = value.isoformat()
        elif key in DISCORD_ID_COLUMNS and value is not None:
            out[key] = str(value)
        else:
            out[key] = value
    return out


async def read_user_data(conn: asyncpg.Connection, discord_id: int) -> UserData | None:
    """Every row of the user, read in one snapshot; ``None`` when nothing is stored."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        user = await conn.fetchrow("SELECT * FROM users WHERE discord_id = $1", discord_id)
        posts = [jsonable(row) for row in await conn.fetch(AUTHORED_POSTS, discord_id)]
        if user is None:
            if not posts:
                return None
            # Wrote in a linked channel but never spoke to Libra: no users row.
            return UserData(user={"discord_id": str(discord_id)}, sessions=[], messages=[],
                            memories=[], translations=[], llm_calls=[],
                            linked_channel_posts=posts)
        tables: dict[str, list[dict[str, Any]]] = {}
        for table in OWNED_TABLES:
            # Table names come from the constant above, never from input.
            # translate_opt_ins has no id: its key is (user_id, channel_id).
            order = "channel_id" if table == "translate_opt_ins" else "id"
            rows = await conn.fetch(
                f"SELECT * FROM {table} WHERE user_id = $1 ORDER BY {order}", user["id"])
            tables[table] = [jsonable(row) for row in rows]
    return UserData(user=jsonable(user), linked_channel_posts=posts, **tables)
