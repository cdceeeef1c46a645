"""Odd user input reaches the database intact enough, or is refused with a clear message."""

from __future__ import annotations

import pytest

from libra.chat.messages import user_message
from tests.e2e.discord.libra_harness import StartLibra
from tests.fakes.fake_discord import FakeDiscord
from tests.fakes.fake_ollama import FakeOllama


async def answer_to(fake: FakeDiscord, token: str) -> str:
    await fake.wait_until(lambda: bool(getattr(fake.original_response(token), "content", "")))
    answer = fake.original_response(token)
    assert answer is not None
    return answer.content


async def test_forgetting_a_memory_number_out_of_range_says_which_numbers_exist(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str, start_libra: StartLibra
) -> None:
    await start_libra(fake_discord, fake_ollama, pg_url)
    kept = await fake_discord.slash_subcommand("memory", "remember", {"text": "I like tea"})
    assert (await answer_to(fake_discord, kept)).startswith("I'll remember that")

    for number in (2**31, 2**53, 0, -1):
        token = await fake_discord.slash_subcommand("memory", "forget", {"id": number})
        assert await answer_to(fake_discord, token) == user_message(
            "memory_id_invalid", "en", memory_id=number)

    shown = await fake_discord.slash_subcommand("memory", "show")
    assert "I like tea" in await answer_to(fake_discord, shown)  # nothing was forgotten


async def test_a_message_with_a_nul_byte_and_a_lone_surrogate_is_answered_and_kept(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str, start_libra: StartLibra
) -> None:
    # PostgreSQL text cannot hold U+0000, and a lone surrogate cannot be encoded at all.
    fake_ollama.answers["tea time \ufffd"] = "Tea it is."
    libra = await start_libra(fake_discord, fake_ollama, pg_url)
    channel = fake_discord.text_channel.id

    await fake_discord.user_message("tea\x00 time \udc80", mention_bot=True)

    await fake_discord.wait_for_bot_content(channel, "Tea it is.")
    await libra.settle()
    rows = await libra.query("SELECT role, content FROM messages ORDER BY id")
    assert [(r["role"], r["content"]) for r in rows] == [
        ("user", "tea time \ufffd"), ("assistant", "Tea it is.")]


@pytest.mark.parametrize(("scope", "stored_scope"), [(None, "guild"),
                                                     ("everywhere", "everywhere")])
async def test_a_memory_with_a_lone_surrogate_is_kept_with_a_replacement_character(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str, start_libra: StartLibra,
    scope: str | None, stored_scope: str,
) -> None:
    libra = await start_libra(fake_discord, fake_ollama, pg_url)
    options = {"text": "I like \ud83c tea\x00"} | ({"scope": scope} if scope else {})

    token = await fake_discord.slash_subcommand("memory", "remember", options)

    assert (await answer_to(fake_discord, token)).startswith("I'll remember that")
    rows = await libra.query("SELECT content, scope FROM memories")
    assert [(r["content"], r["scope"]) for r in rows] == [("I like \ufffd tea", stored_scope)]
