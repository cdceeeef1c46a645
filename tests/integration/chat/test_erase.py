"""Erasing a user: nothing of theirs stays in a cache that the next prompt could use."""

from __future__ import annotations

from typing import Any

from libra.storage.api import Place
from tests.fakes.fake_ollama import FakeOllama


async def test_after_erase_the_next_prompt_is_built_from_nothing_of_theirs(
    make_chat: Any, fake_ollama: FakeOllama, pg_url: str
) -> None:
    harness = await make_chat(fake_ollama, pg_url)
    language: Any = harness.language
    await harness.chat.remember(1001, "My cat is called Miso.", place=Place.of(3003))
    await language.pin_user(1001, "ko")  # a language preference is theirs too
    await harness.ask("Hello there, how are you?")
    await harness.ask("Tell me about cats.")  # memories and history now served from memory
    assert "Miso" in fake_ollama.requests[-1].body["messages"][0]["content"]
    assert fake_ollama.requests[-1].body["model"] == "qwen2.5:7b-instruct"  # the ko pin

    assert await harness.chat.erase(1001) is True

    pool = harness.database.pool
    for table in ("users", "sessions", "messages", "memories", "llm_calls"):
        assert await pool.fetchval(f"SELECT count(*) FROM {table}") == 0, table
    await harness.ask("Do you remember me?")
    prompt = fake_ollama.requests[-1].body
    assert [m["role"] for m in prompt["messages"]] == ["system", "user"]
    assert "Miso" not in prompt["messages"][0]["content"]
    assert prompt["model"] == "llama3:8b-instruct-q4_K_M"  # English again: the pin is gone
    assert await harness.chat.erase(4242) is False  # nothing stored: nothing to erase
