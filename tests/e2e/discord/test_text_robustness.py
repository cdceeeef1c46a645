"""Roles, DMs, empty answers, a database outage, deletions, floods, forwards, chains."""

from __future__ import annotations

import asyncio

from libra.chat.messages import user_message
from tests.e2e.discord.libra_harness import StartLibra, database_down
from tests.fakes.fake_discord import FakeDiscord
from tests.fakes.fake_ollama import FakeOllama


async def test_a_command_from_a_member_without_an_allowed_role_is_answered(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, start_libra: StartLibra
) -> None:
    """Silence would leave Discord showing "The application did not respond"."""
    moderator = fake_discord.world.guilds[0].roles[1]
    await start_libra(fake_discord, fake_ollama, None, allowed_role_ids=[moderator.id])

    token = await fake_discord.slash_command("ask", {"prompt": "hello?"},
                                             user=fake_discord.user("owner"))

    await fake_discord.wait_until(lambda: (m := fake_discord.original_response(token))
                                  is not None and bool(m.content), timeout=5)
    refusal = fake_discord.original_response(token)
    assert refusal is not None and refusal.content == user_message("permission_denied", "en")
    assert fake_ollama.model_calls == []


async def test_a_dm_is_answered_when_only_some_server_channels_are_allowed(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, start_libra: StartLibra
) -> None:
    """Allow-lists filter servers; only ``direct_messages = false`` stops DMs."""
    fake_ollama.answers["hello in private"] = "Hi, just between us."
    await start_libra(fake_discord, fake_ollama, None,
                      allowed_channel_ids=[fake_discord.text_channel.id])
    dm = fake_discord.world.dm_channels[0]

    await fake_discord.user_message("hello in private", channel=dm)

    await fake_discord.wait_for_bot_content(dm.id, "Hi, just between us.", timeout=5)


async def test_an_empty_model_answer_is_reported(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, start_libra: StartLibra
) -> None:
    fake_ollama.answers["say nothing"] = "\n\n  \n"
    await start_libra(fake_discord, fake_ollama, None)
    channel = fake_discord.text_channel.id

    await fake_discord.user_message("say nothing", mention_bot=True)
    token = await fake_discord.slash_command("ask", {"prompt": "say nothing"})

    await fake_discord.wait_for_bot_content(channel, user_message("reply_empty", "en"))
    await fake_discord.wait_until(lambda: getattr(
        fake_discord.original_response(token), "content", "") == user_message(
            "reply_empty", "en"))


async def test_a_mention_is_answered_while_the_database_is_down(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str, start_libra: StartLibra
) -> None:
    await start_libra(fake_discord, fake_ollama, pg_url)
    channel = fake_discord.text_channel.id
    await fake_discord.user_message("first", mention_bot=True)
    await fake_discord.wait_for_bot_content(channel, fake_ollama.default_answer)
    with database_down(pg_url):
        await fake_discord.user_message("second, with the database down", mention_bot=True)
        await fake_discord.wait_until(
            lambda: [m.content for m in fake_discord.bot_messages(channel)][1:] == [
                fake_ollama.default_answer], timeout=15)


async def test_an_error_reply_is_not_moved_into_a_thread(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, start_libra: StartLibra
) -> None:
    """Only a conversation moves into a thread, not "say something" or "model down"."""
    await start_libra(fake_discord, fake_ollama, None, thread_after_turns=1)
    channel = fake_discord.text_channel.id
    fake_ollama.fail_status = 500

    await fake_discord.user_message("", mention_bot=True)
    await fake_discord.user_message("and now?", mention_bot=True)

    await fake_discord.wait_until(lambda: len(fake_discord.bot_messages(channel)) >= 2,
                                  timeout=15)
    await asyncio.sleep(0.5)
    assert fake_discord.rest_calls("POST", "/channels/{channel}/messages/{message}/threads") == []


async def test_a_long_cjk_and_emoji_answer_to_ask_continues_in_follow_ups(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, start_libra: StartLibra
) -> None:
    """Discord counts code points; an answer past 2,000 of them spills into follow-ups."""
    answer = " ".join(["日本語の文章です😀👍🏽"] * 400)
    assert len(answer) > 2 * 2000
    fake_ollama.answers["long please"] = answer
    fake_ollama.tokens_per_second = 400
    await start_libra(fake_discord, fake_ollama, None)
    channel = fake_discord.text_channel.id

    token = await fake_discord.slash_command("ask", {"prompt": "long please"})
    await fake_discord.user_message("long please", mention_bot=True)

    def shown(messages: list[str]) -> bool:
        return " ".join(messages).split() == answer.split()

    await fake_discord.wait_until(lambda: shown(
        [m.content for m in fake_discord.bot_messages(channel)
         if m.payload.get("webhook_id") is None]), timeout=20)
    await fake_discord.wait_until(lambda: shown(
        [m.content for m in fake_discord.bot_messages(channel)
         if m.payload.get("webhook_id") is not None]), timeout=20)
    assert all(len(m.content) <= 2000 for m in fake_discord.bot_messages(channel))
    assert fake_discord.original_response(token) is not None
    assert not [c for c in fake_discord.world.rest_calls if c.status >= 400]


async def test_a_reply_deleted_while_it_is_written_stops_without_an_error(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, start_libra: StartLibra
) -> None:
    """A moderator deleting a reply mid-stream wanted it gone, not an error notice."""
    answer = " ".join(f"token{i}" for i in range(200))
    fake_ollama.answers["count slowly"] = answer
    fake_ollama.tokens_per_second = 20
    await start_libra(fake_discord, fake_ollama, None)
    channel = fake_discord.text_channel.id
    await fake_discord.user_message("count slowly", mention_bot=True)
    reply = await fake_discord.wait_for_bot_content(channel, lambda text: "token3" in text)

    fake_discord.world.messages[channel].remove(reply)

    await asyncio.sleep(2)
    assert [m.content for m in fake_discord.bot_messages(channel)] == []
    assert fake_ollama.disconnects == 1, "the answer nobody will see stops being generated"


async def test_a_private_answer_dismissed_while_it_is_written_stops_without_an_error(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, start_libra: StartLibra
) -> None:
    answer = " ".join(f"token{i}" for i in range(200))
    fake_ollama.answers["count privately"] = answer
    fake_ollama.tokens_per_second = 20
    await start_libra(fake_discord, fake_ollama, None)
    channel = fake_discord.text_channel.id
    token = await fake_discord.slash_command("ask", {"prompt": "count privately",
                                                     "private": True})
    await fake_discord.wait_until(lambda: "token3" in getattr(
        fake_discord.original_response(token), "content", ""))
    original = fake_discord.original_response(token)
    assert original is not None

    fake_discord.world.messages[channel].remove(original)  # "Dismiss message"

    await asyncio.sleep(2)
    assert fake_discord.bot_messages(channel) == []
    assert fake_ollama.disconnects == 1


async def test_a_user_flooding_mentions_is_told_about_the_rate_limit_once(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, start_libra: StartLibra
) -> None:
    """One refusal per wait: otherwise every spammed message makes Libra post one too."""
    await start_libra(fake_discord, fake_ollama, None, user_burst=1, user_rate_per_minute=1)
    channel = fake_discord.text_channel.id

    for n in range(6):
        await fake_discord.user_message(f"message {n}", mention_bot=True)

    await fake_discord.wait_for_bot_content(channel, fake_ollama.default_answer)
    await asyncio.sleep(1)
    refusals = [m for m in fake_discord.bot_messages(channel)
                if m.content.startswith("You're sending messages faster")]
    assert len(refusals) == 1


async def test_a_forwarded_message_brings_only_its_own_text_into_the_context(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, start_libra: StartLibra
) -> None:
    """A forward shows one message; the replies around the original stay where they are."""
    await start_libra(fake_discord, fake_ollama, None)
    elsewhere = fake_discord.channel_named("a thread")
    secret = await fake_discord.user_message("the door code is 4711", channel=elsewhere,
                                             author=fake_discord.user("owner"))
    shared = await fake_discord.user_message("see you at the office", channel=elsewhere,
                                             reply_to=secret.id)
    forward = await fake_discord.user_forward(shared)

    await fake_discord.user_message("what does this mean?", mention_bot=True,
                                    reply_to=forward.id)

    await fake_discord.wait_for_bot_content(fake_discord.text_channel.id,
                                            fake_ollama.default_answer)
    prompt = [m["content"] for m in fake_ollama.model_calls[-1].body["messages"]]
    assert "see you at the office" in prompt
    assert not any("4711" in text for text in prompt)


async def test_a_reply_to_libra_in_a_dm_sends_the_reply_chain_as_context(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, start_libra: StartLibra
) -> None:
    fake_ollama.answers["what is the capital of France?"] = "Paris is the capital."
    fake_ollama.answers["and its population?"] = "About two million people."
    await start_libra(fake_discord, fake_ollama, None)
    dm = fake_discord.world.dm_channels[0]
    await fake_discord.user_message("what is the capital of France?", channel=dm)
    first = await fake_discord.wait_for_bot_content(dm.id, "Paris is the capital.")

    await fake_discord.user_message("and its population?", channel=dm, reply_to=first.id)

    await fake_discord.wait_for_bot_content(dm.id, "About two million people.")
    prompt = fake_ollama.model_calls[-1].body["messages"]
    assert [(m["role"], m["content"]) for m in prompt if m["role"] != "system"][-3:] == [
        ("user", "what is the capital of France?"),
        ("assistant", "Paris is the capital."),
        ("user", "and its population?"),
    ]


async def test_a_reply_chain_of_empty_messages_is_walked_only_so_far(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, start_libra: StartLibra
) -> None:
    """Sticker-only messages have no text; a long chain of them must not cost a fetch each."""
    await start_libra(fake_discord, fake_ollama, None)
    channel = fake_discord.text_channel.id
    previous = await fake_discord.user_message("the start of it all")
    for _ in range(30):
        previous = await fake_discord.user_message("", reply_to=previous.id)

    await fake_discord.user_message("what started this?", mention_bot=True,
                                    reply_to=previous.id)

    await fake_discord.wait_for_bot_content(channel, fake_ollama.default_answer)
    fetches = fake_discord.rest_calls("GET", "/channels/{channel}/messages/{message}")
    assert len(fetches) < 10
