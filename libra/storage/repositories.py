"""``PgStorage``: the :class:`~libra.storage.api.Storage` protocol over asyncpg.

Every query is parameterised; text is stored through :func:`~libra.text.clean_text`
(PostgreSQL refuses U+0000, and no driver encodes a lone surrogate). Constraint
violations become ``IntegrityViolation`` and a lost connection ``DatabaseUnavailable``,
so callers handle Libra errors only.
Every operation is bounded by ``database.query_timeout``: a database host that goes
dark (no RST) would otherwise hold the caller until TCP gives up, minutes later.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any, Concatenate, ParamSpec, TypeVar

import asyncpg

from libra.errors import DatabaseUnavailable, IntegrityViolation, StorageError
from libra.storage.api import (
    ChannelLanguageState,
    LLMCallRecord,
    Memory,
    MemoryScope,
    MessageRecord,
    MessageStatus,
    Place,
    Role,
    StoredMessage,
    UsageTotals,
    User,
    UserData,
)
from libra.storage.guarded import UNAVAILABLE_ERRORS
from libra.storage.personal import DELETE_AUTHORED_POSTS, read_user_data
from libra.storage.translations import TranslationRows
from libra.tasks import Deadlines
from libra.text import clean_text


@contextlib.asynccontextmanager
async def _translated(action: str) -> AsyncIterator[None]:
    try:
        yield
    except asyncpg.IntegrityConstraintViolationError as err:
        raise IntegrityViolation(f"cannot {action}: {err}") from err
    except asyncpg.DataError as err:
        raise IntegrityViolation(f"cannot {action}: invalid value ({err})") from err
    except UNAVAILABLE_ERRORS as err:
        raise DatabaseUnavailable(f"cannot {action}: database connection lost ({err})",
                                  hint="check that PostgreSQL is running") from err
    except asyncpg.PostgresError as err:
        raise StorageError(f"cannot {action}: {err}") from err


P = ParamSpec("P")
T = TypeVar("T")


def _bounded(method: Callable[Concatenate[PgStorage, P], Coroutine[Any, Any, T]]
             ) -> Callable[Concatenate[PgStorage, P], Coroutine[Any, Any, T]]:
    """Run ``method`` under the storage's query timeout (as ``DatabaseUnavailable``)."""

    @functools.wraps(method)
    async def bounded(self: PgStorage, /, *args: P.args, **kwargs: P.kwargs) -> T:
        try:
            # Not asyncio.timeout: asyncpg cancelling a query on a dark host waits for
            # the host as well; the abandoned operation ends when TCP gives up.
            return await self._deadlines.within(method(self, *args, **kwargs),
                                                self.query_timeout)
        except TimeoutError:
            raise DatabaseUnavailable(
                f"cannot {method.__name__.strip('_').replace('_', ' ')}: the database did not "
                f"answer within {self.query_timeout:g}s",
                hint="check that PostgreSQL runs and its host is reachable "
                "(database.query_timeout sets this limit)") from None

    return bounded


def _row_count(status: str) -> int:
    """Rows affected, from a command tag such as ``DELETE 3``."""
    return int(status.rsplit(" ", 1)[-1])


def _user(row: asyncpg.Record) -> User:
    return User(id=row["id"], discord_id=row["discord_id"], language=row["language"],
                created_at=row["created_at"])


def _memory(row: asyncpg.Record) -> Memory:
    return Memory(id=row["id"], user_id=row["user_id"], scope=MemoryScope(row["scope"]),
                  guild_id=row["guild_id"], content=row["content"], metadata=row["metadata"] or {},
                  created_at=row["created_at"])


# Plain dict lookups: calling an Enum by value costs more than the rest of a row.
_ROLES = {role.value: role for role in Role}
_STATUSES = {status.value: status for status in MessageStatus}


def _message(row: asyncpg.Record) -> StoredMessage:
    return StoredMessage(
        id=row["id"], session_id=row["session_id"], user_id=row["user_id"],
        channel_id=row["channel_id"], role=_ROLES[row["role"]], content=row["content"],
        language=row["language"], model=row["model"], status=_STATUSES[row["status"]],
        created_at=row["created_at"], source=row["source"],
    )


_USER_COLUMNS = "id, discord_id, language, created_at"
_MEMORY_COLUMNS = "id, user_id, scope, guild_id, content, metadata, created_at"
_MESSAGE_COLUMNS = ("id, session_id, user_id, channel_id, role, content, language, model, "
                    "status, created_at, source")


class PgStorage(TranslationRows):
    """Repository functions on one asyncpg pool (implements ``Storage``)."""

    def __init__(self, pool: asyncpg.Pool, query_timeout: float = 5.0) -> None:
        self._pool = pool
        self.query_timeout = query_timeout
        """Seconds one operation may take (``database.query_timeout``)."""
        self._deadlines = Deadlines()

    # --- for the mixins (their methods cannot take the decorator above) ----------------

    def translated(self, action: str) -> contextlib.AbstractAsyncContextManager[None]:
        """Driver errors inside the block as Libra's storage errors (see ``_translated``)."""
        return _translated(action)

    async def bounded(self, operation: Awaitable[T], action: str) -> T:
        """Await ``operation`` within the query timeout (as ``DatabaseUnavailable``)."""
        try:
            return await self._deadlines.within(operation, self.query_timeout)
        except TimeoutError:
            raise DatabaseUnavailable(
                f"cannot {action}: the database did not answer within {self.query_timeout:g}s",
                hint="check that PostgreSQL runs and its host is reachable "
                "(database.query_timeout sets this limit)") from None

    # --- users -------------------------------------------------------------------------

    @_bounded
    async def ensure_user(self, discord_id: int) -> User:
        """Return the user, creating it on first sight."""
        async with _translated("load user"), self._pool.acquire() as conn:
            select = f"SELECT {_USER_COLUMNS} FROM users WHERE discord_id = $1"
            row = await conn.fetchrow(select, discord_id)
            if row is None:
                row = await conn.fetchrow(
                    f"INSERT INTO users (discord_id) VALUES ($1) ON CONFLICT (discord_id) "
                    f"DO NOTHING RETURNING {_USER_COLUMNS}", discord_id)
            if row is None:  # a concurrent insert won the race
                row = await conn.fetchrow(select, discord_id)
        return _user(row)

    @_bounded
    async def set_user_language(self, discord_id: int, language: str | None) -> None:
        """Pin (or with ``None`` unpin) a user's preferred language."""
        async with _translated("save user language"):
            await self._pool.execute(
                "INSERT INTO users (discord_id, language) VALUES ($1, $2) "
                "ON CONFLICT (discord_id) DO UPDATE SET language = EXCLUDED.language",
                discord_id, language)

    @_bounded
    async def delete_user(self, discord_id: int) -> bool:
        """Delete a user, everything stored about them, and their linked-channel mappings."""
        async with _translated("delete user"), self._pool.acquire() as conn, \
                conn.transaction():
            posts = await conn.execute(DELETE_AUTHORED_POSTS, discord_id)
            status = await conn.execute("DELETE FROM users WHERE discord_id = $1", discord_id)
        return _row_count(status) > 0 or _row_count(posts) > 0

    @_bounded
    async def export_user(self, discord_id: int) -> UserData | None:
        """Every row stored about a user (``None`` when there is none)."""
        async with _translated("export user data"), self._pool.acquire() as conn:
            return await read_user_data(conn, discord_id)

    # --- sessions and messages ---------------------------------------------------------

    @_bounded
    async def open_session(self, user_id: int, channel_id: int, guild_id: int | None) -> int:
        """Return the user's open session in the channel, starting one if needed."""
        select = ("SELECT id FROM sessions WHERE user_id = $1 AND channel_id = $2 "
                  "AND ended_at IS NULL")
        async with _translated("open session"), self._pool.acquire() as conn:
            session_id = await conn.fetchval(select, user_id, channel_id)
            if session_id is None:
                session_id = await conn.fetchval(
                    "INSERT INTO sessions (user_id, channel_id, guild_id) VALUES ($1, $2, $3) "
                    "ON CONFLICT (user_id, channel_id) WHERE ended_at IS NULL DO NOTHING "
                    "RETURNING id", user_id, channel_id, guild_id)
            if session_id is None:  # a concurrent open won the race
                session_id = await conn.fetchval(select, user_id, channel_id)
        return int(session_id)

    @_bounded
    async def end_session(self, user_id: int, channel_id: int) -> bool:
        """End the open session (``/reset``); ``False`` when none was open."""
        async with _translated("end session"):
            status = await self._pool.execute(
                "UPDATE sessions SET ended_at = now() WHERE user_id = $1 AND channel_id = $2 "
                "AND ended_at IS NULL", user_id, channel_id)
        return _row_count(status) > 0

    @_bounded
    async def append_message(
        self,
        *,
        session_id: int,
        user_id: int,
        channel_id: int,
        role: Role,
        content: str,
        language: str | None = None,
        model: str | None = None,
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
        latency_ms: float | None = None,
        status: MessageStatus = MessageStatus.COMPLETE,
    ) -> int:
        """Store one message and return its id."""
        async with _translated("store message"):
            message_id = await self._pool.fetchval(
                "INSERT INTO messages (session_id, user_id, channel_id, role, content, "
                "language, model, prompt_tokens, completion_tokens, latency_ms, status) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
                session_id, user_id, channel_id, str(role), clean_text(content), language, model,
                prompt_tokens, completion_tokens, latency_ms, str(status))
        return int(message_id)

    async def record_message(self, record: MessageRecord, *, if_absent: bool = False) -> None:
        """Store one message of a turn, resolving the user and session it lacks.

        ``if_absent`` (a replay of a queued write): skip a message already stored, which
        its first attempt may have done before timing out. It is recognised by its
        session, role and ``created_at``.
        """
        user_id = record.user_id
        if user_id is None:
            user_id = (await self.ensure_user(record.discord_user_id)).id
        session_id = record.session_id
        if session_id is None:
            session_id = await self.open_session(user_id, record.channel_id, record.guild_id)
        await self._insert_message(record, user_id, session_id, if_absent=if_absent)

    @_bounded
    async def _insert_message(self, record: MessageRecord, user_id: int, session_id: int, *,
                              if_absent: bool) -> None:
        insert = (
            "INSERT INTO messages (session_id, user_id, channel_id, role, content, language, "
            "model, prompt_tokens, completion_tokens, latency_ms, status, created_at, source) "
            "SELECT $1::integer, $2::integer, $3::bigint, $4::text, $5::text, $6::text, "
            "$7::text, $8::integer, $9::integer, $10::double precision, $11::text, "
            "$12::timestamptz, $13::text")
        if if_absent:
            insert += (" WHERE NOT EXISTS (SELECT 1 FROM messages WHERE session_id = $1 "
                       "AND role = $4 AND created_at = $12)")
        async with _translated("store message"):
            await self._pool.execute(
                insert, session_id, user_id, record.channel_id, str(record.role),
                record.content, record.language, record.model, record.prompt_tokens,
                record.completion_tokens, record.latency_ms, str(record.status),
                record.created_at, record.source)

    @_bounded
    async def recent_messages(self, session_id: int, limit: int) -> list[StoredMessage]:
        """The session's last ``limit`` messages, oldest first."""
        if limit <= 0:
            return []
        async with _translated("load recent messages"):
            rows = await self._pool.fetch(
                f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE session_id = $1 "
                "ORDER BY id DESC LIMIT $2", session_id, limit)
        return [_message(row) for row in reversed(rows)]

    # --- memories ----------------------------------------------------------------------

    @_bounded
    async def add_memory(
        self, user_id: int, content: str, *, place: Place,
        metadata: dict[str, Any] | None = None,
    ) -> Memory:
        """Remember ``content`` for the user, to be used in ``place`` only."""
        async with _translated("store memory"):
            row = await self._pool.fetchrow(
                f"INSERT INTO memories (user_id, scope, guild_id, content, metadata) "
                f"VALUES ($1, $2, $3, $4, $5) RETURNING {_MEMORY_COLUMNS}",
                user_id, str(place.scope), place.guild_id, clean_text(content), metadata or {})
        return _memory(row)

    @_bounded
    async def list_memories(self, user_id: int) -> list[Memory]:
        """The user's memories (of every place), oldest first."""
        async with _translated("list memories"):
            rows = await self._pool.fetch(
                f"SELECT {_MEMORY_COLUMNS} FROM memories WHERE user_id = $1 ORDER BY id",
                user_id)
        return [_memory(row) for row in rows]

    @_bounded
    async def forget_memories(self, user_id: int, memory_id: int | None = None) -> int:
        """Delete one memory (or all with ``None``); return how many were deleted."""
        async with _translated("forget memories"):
            status = await self._pool.execute(
                "DELETE FROM memories WHERE user_id = $1 AND ($2::integer IS NULL OR id = $2)",
                user_id, memory_id)
        return _row_count(status)

    # --- channels ----------------------------------------------------------------------

    @_bounded
    async def get_channel_language(self, channel_id: int) -> ChannelLanguageState | None:
        """The channel's saved language state."""
        async with _translated("load channel language"):
            row = await self._pool.fetchrow(
                "SELECT channel_id, language, pinned_language, candidate, candidate_count "
                "FROM channel_settings WHERE channel_id = $1", channel_id)
        if row is None:
            return None
        return ChannelLanguageState(**dict(row))

    @_bounded
    async def save_channel_language(self, state: ChannelLanguageState) -> None:
        """Upsert the channel's language state (other channel settings are kept)."""
        async with _translated("save channel language"):
            await self._pool.execute(
                "INSERT INTO channel_settings (channel_id, language, pinned_language, "
                "candidate, candidate_count) VALUES ($1, $2, $3, $4, $5) "
                "ON CONFLICT (channel_id) DO UPDATE SET language = EXCLUDED.language, "
                "pinned_language = EXCLUDED.pinned_language, candidate = EXCLUDED.candidate, "
                "candidate_count = EXCLUDED.candidate_count, updated_at = now()",
                state.channel_id, state.language, state.pinned_language, state.candidate,
                state.candidate_count)

    # --- LLM calls (translations: libra/storage/translations.py) -------------------------

    @_bounded
    async def record_llm_call(self, record: LLMCallRecord, *, if_absent: bool = False) -> None:
        """Store one LLM call; ``if_absent``: unless it is stored already (a replay)."""
        # Casts: the values are SELECTed, not VALUES, so PostgreSQL needs their types.
        insert = (
            "INSERT INTO llm_calls (model, language, guild_id, prompt_tokens, "
            "completion_tokens, first_token_ms, latency_ms, cache_hit, error_code, created_at, "
            "user_id) "
            "SELECT $1::text, $2::text, $3::bigint, $4::integer, $5::integer, "
            "$6::double precision, $7::double precision, $8::boolean, $9::text, "
            "coalesce($10::timestamptz, now()), "
            # NULL when the user is gone (deleted while the call ran): no row revives them.
            "(SELECT id FROM users WHERE discord_id = $11::bigint)")
        if if_absent:
            insert += (" WHERE NOT EXISTS (SELECT 1 FROM llm_calls WHERE created_at = $10 "
                       "AND model = $1 AND latency_ms = $7)")
        async with _translated("record LLM call"):
            await self._pool.execute(
                insert, record.model, record.language, record.guild_id, record.prompt_tokens,
                record.completion_tokens, record.first_token_ms, record.latency_ms,
                record.cache_hit, record.error_code, record.created_at, record.user_id)

    @_bounded
    async def usage_stats(self, since_seconds: float | None = None) -> UsageTotals:
        """Counts of stored rows and LLM call figures (``since_seconds`` limits llm_calls)."""
        async with _translated("read usage statistics"):
            row = await self._pool.fetchrow(
                "SELECT (SELECT count(*) FROM users) AS users, "
                "(SELECT count(*) FROM sessions) AS sessions, "
                "(SELECT count(*) FROM messages) AS messages, "
                "(SELECT count(*) FROM memories) AS memories, "
                "(SELECT count(*) FROM translations) AS translations, "
                "count(c.id) AS llm_calls, "
                "count(c.error_code) AS llm_errors, "
                "count(*) FILTER (WHERE c.cache_hit) AS llm_cache_hits, "
                "percentile_cont(0.5) WITHIN GROUP (ORDER BY c.latency_ms) AS p50, "
                "percentile_cont(0.95) WITHIN GROUP (ORDER BY c.latency_ms) AS p95 "
                "FROM llm_calls c WHERE $1::double precision IS NULL "
                "OR c.created_at >= now() - make_interval(secs => $1)", since_seconds)
        return UsageTotals(
            users=row["users"], sessions=row["sessions"], messages=row["messages"],
            memories=row["memories"], translations=row["translations"],
            llm_calls=row["llm_calls"], llm_errors=row["llm_errors"],
            llm_cache_hits=row["llm_cache_hits"], llm_latency_p50_ms=row["p50"],
            llm_latency_p95_ms=row["p95"],
        )
