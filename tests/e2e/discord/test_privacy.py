"""``/privacy export`` and ``/privacy delete``: a user sees and erases what Libra keeps.

Export is a JSON file sent ephemerally; deletion needs a button press by the caller
and leaves no row and no cached prompt material behind (asserted on the database
and on what the fake Ollama receives next).
"""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest

from tests.e2e.discord.libra_harness import LibraBot, StartLibra
from tests.fakes.fake_discord import FakeChannel, FakeDiscord, FakeUser, StoredMessage
from tests.fakes.fake_ollama import FakeOllama

CALLBACK = "/interactions/{id}/{token}/callback"
OWN_ROWS = {
    "users": "SELECT count(*) FROM users WHERE discord_id = $1",
    "sessions": "SELECT count(*) FROM sessions s JOIN users u ON u.id = s.user_id "
                "WHERE u.discord_id = $1",
    "messages": "SELECT count(*) FROM messages m JOIN users u ON u.id = m.user_id "
                "WHERE u.discord_id = $1",
    "memories": "SELECT count(*) FROM memories m JOIN users u ON u.id = m.user_id "
                "WHERE u.discord_id = $1",
    "llm_calls": "SELECT count(*) FROM llm_calls c JOIN users u ON u.id = c.user_id "
                 "WHERE u.discord_id = $1",
}


async def rows_of(libra: LibraBot, user: FakeUser) -> dict[str, int]:
    """How many rows of each table belong to ``user``."""
    return {table: (await libra.query(sql, user.id))[0][0] for table, sql in OWN_ROWS.items()}


async def remember(fake: FakeDiscord, text: str, user: FakeUser, scope: str = "here") -> None:
    token = await fake.slash_subcommand("memory", "remember", {"text": text, "scope": scope},
                                        user=user)
    await fake.wait_until(lambda: bool(getattr(fake.original_response(token), "content", "")))


async def chat(libra: LibraBot, text: str, user: FakeUser,
               channel: FakeChannel | None = None) -> list[dict[str, Any]]:
    """``user`` says ``text`` (in the guild unless ``channel``); return the model's prompt."""
    fake, ollama = libra.fake, libra.ollama
    channel = channel or fake.text_channel
    answered = len(fake.bot_messages(channel.id))
    await fake.user_message(text, channel=channel, author=user,
                            mention_bot=channel.guild_id is not None)
    await fake.wait_until(lambda: len(fake.bot_messages(channel.id)) > answered and
                          fake.bot_messages(channel.id)[-1].content == ollama.default_answer)
    await libra.settle()
    request = next(r for r in reversed(ollama.requests) if r.path == "/api/chat"
                   and r.body["messages"][-1]["content"].endswith(text))
    return list(request.body["messages"])


async def some_history(libra: LibraBot, alice: FakeUser, owner: FakeUser) -> None:
    """Alice: memories, a conversation in the guild and one in DMs; the owner: their own."""
    fake = libra.fake
    await remember(fake, "Alice likes oolong tea.", alice)
    await remember(fake, "Alice's sister is called Edith.", alice, scope="everywhere")
    await chat(libra, "Which tea should I buy?", alice)
    await chat(libra, "Tell me something nice.", alice, fake.world.dm_channels[0])
    await remember(fake, "The owner plans a surprise party.", owner)
    await chat(libra, "What does the owner like?", owner)


async def response(fake: FakeDiscord, token: str) -> StoredMessage:
    """The interaction's original response once it shows text."""
    await fake.wait_until(lambda: bool(getattr(fake.original_response(token), "content", "")))
    message = fake.original_response(token)
    assert message is not None
    return message


def button_id(message: StoredMessage, action: str) -> str:
    return next(c["custom_id"] for row in message.payload["components"]
                for c in row["components"] if c["custom_id"].startswith(f"libra:privacy:{action}:"))


async def test_export_is_a_private_json_file_of_the_callers_data_only(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str, start_libra: StartLibra
) -> None:
    libra = await start_libra(fake_discord, fake_ollama, pg_url, guild_ids=[],
                              user_rate_per_minute=600)
    alice, owner = fake_discord.user("alice"), fake_discord.user("owner")
    await some_history(libra, alice, owner)

    token = await fake_discord.slash_subcommand("privacy", "export", user=alice)

    message = await response(fake_discord, token)
    await fake_discord.wait_until(lambda: bool(message.payload["attachments"]))
    # Deferred (it reads the database) and ephemeral: only alice sees the file.
    first = fake_discord.rest_calls("POST", CALLBACK)[-1]
    assert first.json["type"] == 5 and first.json["data"]["flags"] & 64
    assert message.visible_to == alice.id
    raw = fake_discord.attachment(message)
    assert message.payload["attachments"][0]["filename"].endswith(".json")
    exported = json.loads(raw)
    assert exported["user"]["discord_id"] == str(alice.id)  # a string, as Discord sends ids
    assert sorted(m["content"] for m in exported["memories"]) == [
        "Alice likes oolong tea.", "Alice's sister is called Edith."]
    assert {m["scope"] for m in exported["memories"]} == {"guild", "everywhere"}
    said = [(m["role"], m["content"]) for m in exported["messages"]]
    assert said == [("user", "Which tea should I buy?"),
                    ("assistant", fake_ollama.default_answer),
                    ("user", "Tell me something nice."),
                    ("assistant", fake_ollama.default_answer)]
    assert len(exported["sessions"]) == 2
    assert len(exported["llm_calls"]) == 2 and exported["translations"] == []
    assert "settings" in exported and "language" in exported["settings"]
    assert b"surprise party" not in raw and b"What does the owner like" not in raw
    assert str(owner.id).encode() not in raw


async def test_delete_needs_the_callers_confirmation_then_erases_every_row(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str, start_libra: StartLibra
) -> None:
    libra = await start_libra(fake_discord, fake_ollama, pg_url, guild_ids=[],
                              user_rate_per_minute=600)
    alice, owner = fake_discord.user("alice"), fake_discord.user("owner")
    await some_history(libra, alice, owner)
    before = await rows_of(libra, alice)
    owners = await rows_of(libra, owner)
    assert all(before.values()) and all(owners.values())

    token = await fake_discord.slash_subcommand("privacy", "delete", user=alice)
    confirmation = await response(fake_discord, token)
    await fake_discord.wait_until(lambda: bool(confirmation.payload["components"]))

    assert confirmation.visible_to == alice.id
    assert await rows_of(libra, alice) == before  # asking deletes nothing
    with pytest.raises(PermissionError):  # only alice sees it, so only she can press it
        await fake_discord.press_button(confirmation, button_id(confirmation, "delete"),
                                        user=owner)

    await fake_discord.press_button(confirmation, button_id(confirmation, "delete"), user=alice)

    await fake_discord.wait_until(lambda: confirmation.content.startswith("Deleted"))
    assert confirmation.payload["components"] == []
    assert await rows_of(libra, alice) == dict.fromkeys(OWN_ROWS, 0)
    assert await rows_of(libra, owner) == owners


async def test_after_deletion_the_next_prompt_carries_nothing_of_theirs(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str, start_libra: StartLibra
) -> None:
    libra = await start_libra(fake_discord, fake_ollama, pg_url, guild_ids=[],
                              user_rate_per_minute=600)
    alice, owner = fake_discord.user("alice"), fake_discord.user("owner")
    await some_history(libra, alice, owner)
    # The caches are warm: this prompt is built without reading the database.
    warm = await chat(libra, "And which biscuits go with it?", alice)
    assert "Edith" in warm[0]["content"] and len(warm) > 2

    token = await fake_discord.slash_subcommand("privacy", "delete", user=alice)
    confirmation = await response(fake_discord, token)
    await fake_discord.wait_until(lambda: bool(confirmation.payload["components"]))
    await fake_discord.press_button(confirmation, button_id(confirmation, "delete"), user=alice)
    await fake_discord.wait_until(lambda: confirmation.content.startswith("Deleted"))

    prompt = await chat(libra, "Do you know who I am?", alice)

    assert [m["role"] for m in prompt] == ["system", "user"]
    text = json.dumps(prompt)
    assert "Edith" not in text and "oolong" not in text and "biscuits" not in text
    assert await rows_of(libra, alice) == {"users": 1, "sessions": 1, "messages": 2,
                                           "memories": 0, "llm_calls": 1}


async def test_cancel_deletes_nothing_and_leaves_no_button_to_press(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str, start_libra: StartLibra
) -> None:
    libra = await start_libra(fake_discord, fake_ollama, pg_url)
    alice = fake_discord.user("alice")
    await remember(fake_discord, "Alice likes oolong tea.", alice)
    before = await rows_of(libra, alice)

    token = await fake_discord.slash_subcommand("privacy", "delete", user=alice)
    confirmation = await response(fake_discord, token)
    await fake_discord.wait_until(lambda: bool(confirmation.payload["components"]))
    delete = button_id(confirmation, "delete")
    await fake_discord.press_button(confirmation, button_id(confirmation, "cancel"), user=alice)

    await fake_discord.wait_until(lambda: confirmation.content.startswith("Cancelled"))
    with pytest.raises(LookupError):
        await fake_discord.press_button(confirmation, delete, user=alice)
    assert await rows_of(libra, alice) == before


async def test_an_export_over_the_upload_limit_is_gzipped_or_refused_with_a_reason(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str, start_libra: StartLibra
) -> None:
    libra = await start_libra(fake_discord, fake_ollama, pg_url, guild_ids=[],
                              user_rate_per_minute=600)
    alice = fake_discord.user("alice")
    for n in range(20):
        await remember(fake_discord, f"Fact number {n}: " + "tea " * 40, alice)
    await libra.settle()
    fake_discord.world.attachment_size_limit = 6_000  # the JSON is ~15 kB, gzipped ~1 kB

    token = await fake_discord.slash_subcommand("privacy", "export", user=alice)

    message = await response(fake_discord, token)
    await fake_discord.wait_until(lambda: bool(message.payload["attachments"]))
    assert message.payload["attachments"][0]["filename"].endswith(".json.gz")
    exported = json.loads(gzip.decompress(fake_discord.attachment(message)))
    assert len(exported["memories"]) == 20

    fake_discord.world.attachment_size_limit = 100
    token = await fake_discord.slash_subcommand("privacy", "export", user=alice)

    message = await response(fake_discord, token)
    assert "too large" in message.content and message.payload["attachments"] == []
