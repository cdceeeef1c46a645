"""A message records the transport of its turn: a spoken turn is told from a typed one.

The whole chat stack (``build_graph``) on a real PostgreSQL and a fake Ollama; a voice
turn is what the voice pipeline hands the chat service (``source=voice``), so these
tests need no speech models.
"""

from __future__ import annotations

from pathlib import Path

import asyncpg

from libra.chat.api import ChatTurn
from libra.chat.stream import ChatReplyStream
from libra.events import MessageSource
from libra.storage.plugin import StoragePlugin
from tests.fakes.fake_ollama import FakeOllama

from .outage import CHANNEL, GUILD, USER, all_stored, chat_app, chat_settings, cut, proxied_chat

SPOKEN = "What is the capital of France?"
TYPED = "And which river runs through it?"


async def ask(app: object, text: str, source: MessageSource) -> str:
    chat = app.graph.chat.service  # type: ignore[attr-defined]
    stream = await chat.reply(ChatTurn(user_id=USER, channel_id=CHANNEL, guild_id=GUILD,
                                       text=text, source=source))
    assert isinstance(stream, ChatReplyStream)
    answer = "".join([delta async for delta in stream])
    await chat.drain()
    return answer


async def stored(pg_url: str) -> list[tuple[str, str, str | None]]:
    conn = await asyncpg.connect(pg_url)
    try:
        rows = await conn.fetch("SELECT role, content, source FROM messages "
                                "WHERE channel_id = $1 ORDER BY id", CHANNEL)
    finally:
        await conn.close()
    return [(r["role"], r["content"], r["source"]) for r in rows]


async def test_a_voice_turn_is_stored_as_voice_and_a_typed_follow_up_sees_it(
        pg_url: str, tmp_path: Path, fake_ollama: FakeOllama) -> None:
    app = chat_app(chat_settings(pg_url, fake_ollama, tmp_path))
    await app.start()
    try:
        answer = await ask(app, SPOKEN, MessageSource.VOICE)
        await ask(app, TYPED, MessageSource.DISCORD)
        [plugin] = [p for p in app.manager.plugins if isinstance(p, StoragePlugin)]
        assert plugin.storage is not None
        export = await plugin.storage.export_user(USER)
    finally:
        await app.stop()

    assert await stored(pg_url) == [("user", SPOKEN, "voice"), ("assistant", answer, "voice"),
                                    ("user", TYPED, "discord"), ("assistant", answer, "discord")]
    # The typed turn's prompt holds the spoken one: one conversation, whatever the transport.
    prompt = [m["content"] for m in fake_ollama.requests[-1].body["messages"]]
    assert SPOKEN in prompt[:-1] and prompt[-1] == TYPED
    # /privacy export says how each message arrived.
    assert export is not None
    assert [m["source"] for m in export.messages] == ["voice", "voice", "discord", "discord"]


async def test_a_voice_turn_queued_during_an_outage_keeps_its_source(
        pg_url: str, tmp_path: Path, fake_ollama: FakeOllama) -> None:
    async with proxied_chat(pg_url, fake_ollama, tmp_path, query_timeout=1.5) as (app, proxy):
        cut(proxy, "down")
        await ask(app, SPOKEN, MessageSource.VOICE)  # queued: the database is out
        await app.bus.drain(10)
        proxy.restore()
        await all_stored(app)

    assert [(role, source) for role, _, source in await stored(pg_url)] == [
        ("user", "voice"), ("assistant", "voice")]
