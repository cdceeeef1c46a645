"""Libra's Discord text bot end to end: real plugins, hikari and lightbulb, fake Discord.

Every test runs the whole app (PostgreSQL storage, language, llm, chat, discord)
against the fake Discord and a fake Ollama, and asserts on what users would see.
"""

from __future__ import annotations

import hikari

from libra.discord.render import balanced_fences, split_message
from libra.events import DiscordReady
from libra.health import Status
from tests.e2e.discord.libra_harness import StartLibra
from tests.fakes.fake_discord import FakeDiscord
from tests.fakes.fake_ollama import FakeOllama

ANSWER = " ".join(f"word{i}" for i in range(40)) + "."
ORIGINAL = "/webhooks/{app}/{token}/messages/{message}"
EDIT = "/channels/{channel}/messages/{message}"


async def test_ask_defers_then_streams_edits_into_the_original_response(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str, start_libra: StartLibra
) -> None:
    fake_ollama.answers["Tell me a story"] = ANSWER
    fake_ollama.tokens_per_second = 25
    await start_libra(fake_discord, fake_ollama, pg_url)

    token = await fake_discord.slash_command("ask", {"prompt": "Tell me a story"})

    await fake_discord.wait_until(
        lambda: (m := fake_discord.original_response(token)) is not None and m.content == ANSWER,
        timeout=15)
    callback = fake_discord.rest_calls("POST", "/interactions/{id}/{token}/callback")[0]
    assert callback.json["type"] == hikari.ResponseType.DEFERRED_MESSAGE_CREATE
    edits = [c for c in fake_discord.rest_calls("PATCH", ORIGINAL) if token in c.path]
    assert len(edits) >= 3, "the answer should appear progressively"
    assert all(c.path.endswith("/@original") for c in edits)
    contents = [c.json["content"] for c in edits]
    assert all(ANSWER.startswith(c) for c in contents)
    assert contents[-1] == ANSWER
    assert fake_discord.limiter.stats.responses_429 == 0


async def test_a_long_ask_answer_keeps_to_five_edits_in_any_five_seconds(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str, start_libra: StartLibra
) -> None:
    # About 6 s of streaming: the first text and five updates after it would be six
    # edits of @original inside 5 s unless the first text spends the budget too.
    answer = " ".join(f"word{i}" for i in range(180)) + "."
    fake_ollama.answers["Tell me a long story"] = answer
    fake_ollama.tokens_per_second = 30
    await start_libra(fake_discord, fake_ollama, pg_url)

    token = await fake_discord.slash_command("ask", {"prompt": "Tell me a long story"})

    await fake_discord.wait_until(
        lambda: getattr(fake_discord.original_response(token), "content", "") == answer,
        timeout=30)
    edits = [c for c in fake_discord.rest_calls("PATCH", ORIGINAL) if token in c.path]
    assert len(edits) >= 5, "the answer should appear progressively"
    stats = fake_discord.limiter.stats
    assert stats.max_edits_in_window(fake_discord.text_channel.id, 5.0) <= 5
    assert stats.budget_429 == 0


async def test_a_mention_gets_a_reply_whose_edits_end_in_the_full_text(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str, start_libra: StartLibra
) -> None:
    fake_ollama.answers["how are you?"] = ANSWER
    fake_ollama.tokens_per_second = 25
    await start_libra(fake_discord, fake_ollama, pg_url)
    channel = fake_discord.text_channel.id

    asked = await fake_discord.user_message("how are you?", mention_bot=True)

    reply = await fake_discord.wait_for_bot_content(channel, ANSWER, timeout=15)
    post = fake_discord.rest_calls("POST", "/channels/{channel}/messages")[0]
    assert post.json["message_reference"]["message_id"] == str(asked.id)
    assert fake_discord.rest_calls("POST", "/channels/{channel}/typing")
    assert reply.edits >= 2
    assert fake_discord.rest_calls("PATCH", EDIT)[-1].json["content"] == ANSWER


async def test_a_dm_is_answered_without_a_mention(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str, start_libra: StartLibra
) -> None:
    fake_ollama.answers["hello in private"] = "Hi, just between us."
    libra = await start_libra(fake_discord, fake_ollama, pg_url)
    dm = fake_discord.world.dm_channels[0]

    await fake_discord.user_message("hello in private", channel=dm)

    await fake_discord.wait_for_bot_content(dm.id, "Hi, just between us.")
    ready = libra.of(DiscordReady)
    assert [(e.user_id, e.guild_count) for e in ready] == [(fake_discord.world.bot_user.id, 1)]
    health = {h.name: h for h in await libra.app.health.run()}
    assert health["discord"].status is Status.OK


async def test_a_reply_to_the_bot_sends_the_reply_chain_as_context(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str, start_libra: StartLibra
) -> None:
    fake_ollama.answers["what is the capital of France?"] = "Paris is the capital."
    fake_ollama.answers["and its population?"] = "About two million people."
    await start_libra(fake_discord, fake_ollama, pg_url, chat_channel_ids=[])
    channel = fake_discord.text_channel.id
    await fake_discord.user_message("what is the capital of France?", mention_bot=True)
    first = await fake_discord.wait_for_bot_content(channel, "Paris is the capital.")

    await fake_discord.user_message("and its population?", reply_to=first.id)

    await fake_discord.wait_for_bot_content(channel, "About two million people.")
    prompt = fake_ollama.model_calls[-1].body["messages"]
    turns = [(m["role"], m["content"]) for m in prompt if m["role"] != "system"]
    assert turns[-3:] == [
        ("user", "what is the capital of France?"),
        ("assistant", "Paris is the capital."),
        ("user", "and its population?"),
    ]


async def test_a_reply_to_an_ask_answer_brings_back_the_question(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str, start_libra: StartLibra
) -> None:
    fake_ollama.answers["what is the capital of Spain?"] = "Madrid is the capital."
    fake_ollama.answers["and its population?"] = "About 3.4 million people."
    await start_libra(fake_discord, fake_ollama, pg_url, chat_channel_ids=[])
    channel = fake_discord.text_channel.id
    token = await fake_discord.slash_command("ask", {"prompt": "what is the capital of Spain?"})
    await fake_discord.wait_until(lambda: getattr(
        fake_discord.original_response(token), "content", "") == "Madrid is the capital.")
    answer = fake_discord.original_response(token)
    assert answer is not None

    # The question is in the interaction, not in any message Discord can fetch.
    await fake_discord.user_message("and its population?", reply_to=answer.id)

    await fake_discord.wait_for_bot_content(channel, "About 3.4 million people.")
    prompt = fake_ollama.model_calls[-1].body["messages"]
    turns = [(m["role"], m["content"]) for m in prompt if m["role"] != "system"]
    assert turns == [
        ("user", "what is the capital of Spain?"),
        ("assistant", "Madrid is the capital."),
        ("user", "and its population?"),
    ]


async def test_a_conversation_moves_into_a_thread_that_needs_no_mention(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str, start_libra: StartLibra
) -> None:
    fake_ollama.answers["let's plan a trip"] = "Where would you like to go?"
    fake_ollama.answers["somewhere warm"] = "How about Lisbon?"
    await start_libra(fake_discord, fake_ollama, pg_url, thread_after_turns=1)
    channel = fake_discord.text_channel.id
    await fake_discord.user_message("let's plan a trip", mention_bot=True)
    reply = await fake_discord.wait_for_bot_content(channel, "Where would you like to go?")
    await fake_discord.wait_until(
        lambda: fake_discord.world.channel(reply.id) is not None)
    thread = fake_discord.world.channel(reply.id)
    assert thread is not None and thread.parent_id == channel

    await fake_discord.user_message("somewhere warm", channel=thread)

    answer = await fake_discord.wait_for_bot_content(thread.id, "How about Lisbon?")
    assert answer.channel_id == thread.id


async def test_every_message_in_an_opt_in_chat_channel_is_answered(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str, start_libra: StartLibra
) -> None:
    fake_ollama.answers["no mention here"] = "Still answered."
    channel = fake_discord.text_channel.id
    await start_libra(fake_discord, fake_ollama, pg_url, chat_channel_ids=[channel])

    await fake_discord.user_message("no mention here")

    await fake_discord.wait_for_bot_content(channel, "Still answered.")


async def test_a_long_answer_is_split_cleanly_around_a_code_block(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str, start_libra: StartLibra
) -> None:
    prose = " ".join(f"Sentence number {i} explains a detail." for i in range(40))
    code = "\n".join(f"    total += compute({i})  # step {i}" for i in range(45))
    answer = f"{prose}\n\n```python\n{code}\n```\n\n{prose}"
    assert len(answer) > 3500
    fake_ollama.answers["show me the code"] = answer
    await start_libra(fake_discord, fake_ollama, pg_url)
    channel = fake_discord.text_channel.id

    await fake_discord.user_message("show me the code", mention_bot=True)

    await fake_discord.wait_until(
        lambda: "".join(m.content for m in fake_discord.bot_messages(channel)).count(
            "Sentence number 39 explains a detail.") == 2, timeout=15)
    parts = [m.content for m in fake_discord.bot_messages(channel)]
    assert len(parts) >= 2
    assert all(len(p) <= 2000 for p in parts)
    assert all(balanced_fences(p) for p in parts)
    shown = "\n".join(parts)
    for i in range(45):
        assert f"compute({i})" in shown
    assert shown.count("Sentence number 39 explains a detail.") == 2


async def test_a_long_fast_ask_answer_keeps_to_the_webhook_budget(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str, start_libra: StartLibra
) -> None:
    # An answer of 13 messages arriving at once: its follow-ups and edits all go to
    # the interaction's webhook, 5 requests per 2 s. Sent as fast as the channel's edit
    # budget allows, they drew 429s; the fixture fails the test on any.
    answer = " ".join(f"word{i:05d}" for i in range(2400)) + "."
    fake_ollama.answers["Tell me everything"] = answer
    fake_ollama.tokens_per_second = 5000
    await start_libra(fake_discord, fake_ollama, pg_url)
    channel = fake_discord.text_channel.id

    token = await fake_discord.slash_command("ask", {"prompt": "Tell me everything"})

    parts = split_message(answer)
    assert len(parts) >= 12
    await fake_discord.wait_until(
        lambda: [m.content for m in fake_discord.bot_messages(channel)] == parts, timeout=30)
    assert fake_discord.original_response(token) is not None
    assert fake_discord.limiter.stats.budget_429 == 0
