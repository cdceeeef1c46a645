"""Specific errors, private asks, place in line, multi-part replies, textless messages."""

from __future__ import annotations

import asyncio

import lightbulb

from libra.chat.messages import user_message
from libra.errors import DatabaseUnavailable
from tests.e2e.discord.libra_harness import StartLibra, database_down
from tests.fakes.fake_discord import FakeDiscord
from tests.fakes.fake_ollama import FakeOllama

GENERIC = "Something went wrong"


# -- 1. specific messages for known failures ---------------------------------------------


async def test_a_model_server_error_gets_a_specific_message(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, start_libra: StartLibra
) -> None:
    await start_libra(fake_discord, fake_ollama, None)
    channel = fake_discord.text_channel.id
    fake_ollama.fail_status = 500

    await fake_discord.user_message("are you there?", mention_bot=True)

    await fake_discord.wait_until(lambda: bool(fake_discord.bot_messages(channel)), timeout=15)
    [notice] = fake_discord.bot_messages(channel)
    assert GENERIC not in notice.content
    assert notice.content == user_message("llm_server_error", "en")


async def test_memory_show_while_the_database_is_down_says_so(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str, start_libra: StartLibra
) -> None:
    await start_libra(fake_discord, fake_ollama, pg_url)

    with database_down(pg_url):
        # The first query may meet the pool's dropped connection, which asyncpg reports
        # as an InternalClientError that libra.storage does not translate yet (reported
        # separately); the next one is refused by the server like any outage.
        for _ in range(2):
            token = await fake_discord.slash_subcommand("memory", "show")
            await fake_discord.wait_until(lambda t=token: bool(getattr(  # type: ignore[misc]
                fake_discord.original_response(t), "content", "")), timeout=15)

    response = fake_discord.original_response(token)
    assert response is not None
    assert GENERIC not in response.content
    assert response.content in (user_message("db_unavailable", "en"),
                                user_message("storage_error", "en"))


async def test_a_known_error_escaping_a_command_gets_its_specific_message(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, start_libra: StartLibra
) -> None:
    """A Libra error no command caught still tells the user what is wrong."""
    libra = await start_libra(fake_discord, fake_ollama, None)
    client = libra.plugin.client
    assert client is not None

    class Broken(lightbulb.SlashCommand, name="broken", description="always fails"):
        @lightbulb.invoke
        async def invoke(self, ctx: lightbulb.Context) -> None:
            raise DatabaseUnavailable("the database went away")

    client.register(Broken)
    await client.sync_application_commands()

    token = await fake_discord.slash_command("broken")

    await fake_discord.wait_until(lambda: bool(getattr(
        fake_discord.original_response(token), "content", "")), timeout=10)
    response = fake_discord.original_response(token)
    assert response is not None
    assert response.content == user_message("db_unavailable", "en")
    assert GENERIC not in response.content


# -- 2. private /ask turns stay private -----------------------------------------------------


async def test_a_private_ask_does_not_feed_a_later_public_reply(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str, start_libra: StartLibra
) -> None:
    """A public answer could otherwise repeat in the channel what was asked privately."""
    fake_ollama.answers["my bank pin is 4711, keep it safe"] = "Noted, privately."
    libra = await start_libra(fake_discord, fake_ollama, pg_url)
    channel = fake_discord.text_channel.id
    await fake_discord.user_message("hello there", mention_bot=True)
    await fake_discord.wait_for_bot_content(channel, fake_ollama.default_answer)
    token = await fake_discord.slash_command(
        "ask", {"prompt": "my bank pin is 4711, keep it safe", "private": True})
    await fake_discord.wait_until(lambda: getattr(
        fake_discord.original_response(token), "content", "") == "Noted, privately.")
    await libra.settle()

    await fake_discord.user_message("what did I tell you?", mention_bot=True)

    await fake_discord.wait_until(lambda: len(fake_ollama.model_calls) == 3)
    prompt = [m["content"] for m in fake_ollama.model_calls[-1].body["messages"]]
    assert prompt[-1] == "what did I tell you?"
    assert "hello there" in prompt, "the public conversation is still the context"
    assert not any("4711" in text or "privately" in text for text in prompt)


# -- 3. the queue position while waiting ----------------------------------------------------


def _contents_sent(fake: FakeDiscord, channel: int) -> list[str]:
    """Every content the bot posted or edited into the channel, in order."""
    return [call.json["content"] for call in fake.world.rest_calls
            if (call.method, call.route) in (
                ("POST", "/channels/{channel}/messages"),
                ("PATCH", "/channels/{channel}/messages/{message}"))
            and call.path.startswith(f"/channels/{channel}/")
            and isinstance(call.json, dict) and "content" in call.json]


async def test_a_queued_reply_shows_its_place_in_line_until_the_answer_comes(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, start_libra: StartLibra
) -> None:
    fake_ollama.answers["first, slowly"] = " ".join(f"word{i}" for i in range(30))
    fake_ollama.answers["second"] = " ".join(f"second{i}" for i in range(25))
    fake_ollama.answers["third"] = "Third answer."
    fake_ollama.tokens_per_second = 10
    await start_libra(fake_discord, fake_ollama, None, llm={"max_concurrency": 1})
    channel = fake_discord.text_channel.id

    await fake_discord.user_message("first, slowly", mention_bot=True)
    await fake_discord.wait_until(lambda: len(fake_ollama.model_calls) == 1)
    await fake_discord.user_message("second", mention_bot=True)
    await fake_discord.user_message("third", mention_bot=True)

    await fake_discord.wait_for_bot_content(channel, "Third answer.", timeout=20)
    shown = _contents_sent(fake_discord, channel)
    second, first = (user_message("queue_position", "en", position=n) for n in (2, 1))
    # "second" waits as #1; "third" as #2, then #1 once "first" is done.
    assert shown.count(second) == 1 and shown.count(first) == 2
    assert shown.index(second) < len(shown) - 1 - shown[::-1].index(first)
    texts = [m.content for m in fake_discord.bot_messages(channel)]
    assert sorted(texts) == sorted([fake_ollama.answers["first, slowly"],
                                    fake_ollama.answers["second"], "Third answer."])


# -- 4. a reply to any part of a long answer --------------------------------------------------


async def test_a_reply_to_the_second_part_of_a_long_answer_brings_the_whole_exchange(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, start_libra: StartLibra
) -> None:
    answer = "\n\n".join(f"Paragraph {i}: " + "lorem ipsum " * 30 for i in range(12))
    assert len(answer) > 2000
    fake_ollama.answers["tell me a long story"] = answer
    fake_ollama.answers["what happened in paragraph 1?"] = "It began."
    await start_libra(fake_discord, fake_ollama, None)
    channel = fake_discord.text_channel.id
    await fake_discord.user_message("tell me a long story", mention_bot=True)
    await fake_discord.wait_until(lambda: " ".join(
        m.content for m in fake_discord.bot_messages(channel)).split() == answer.split(),
        timeout=20)
    second_part = fake_discord.bot_messages(channel)[1]

    await fake_discord.user_message("what happened in paragraph 1?", reply_to=second_part.id)

    await fake_discord.wait_for_bot_content(channel, "It began.", timeout=10)
    prompt = [(m["role"], m["content"]) for m in fake_ollama.model_calls[-1].body["messages"]
              if m["role"] != "system"]
    assert [role for role, _ in prompt] == ["user", "assistant", "user"]
    assert prompt[0][1] == "tell me a long story"
    assert prompt[1][1].split() == answer.split()
    assert prompt[2][1] == "what happened in paragraph 1?"


# -- 5. messages without text in an opt-in chat channel ----------------------------------------


async def test_a_message_without_text_in_a_chat_channel_is_not_answered(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, start_libra: StartLibra
) -> None:
    """An image, sticker or forward posted there is not addressed to Libra."""
    channel = fake_discord.text_channel.id
    await start_libra(fake_discord, fake_ollama, None, chat_channel_ids=[channel])

    await fake_discord.user_message("")  # an image or sticker only: no text
    await fake_discord.user_message("", mention_bot=True)  # addressed: gets the hint
    await fake_discord.user_message("and a question")

    await fake_discord.wait_for_bot_content(channel, fake_ollama.default_answer)
    await asyncio.sleep(0.5)
    assert sorted(m.content for m in fake_discord.bot_messages(channel)) == sorted(
        [user_message("input_empty", "en"), fake_ollama.default_answer])


# -- 6. a long /memory show ---------------------------------------------------------------


async def test_memory_show_cuts_a_long_list_between_lines_and_says_how_many_are_left(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str, start_libra: StartLibra
) -> None:
    await start_libra(fake_discord, fake_ollama, pg_url)
    facts = [f"fact {n:02d}: " + "x" * 80 for n in range(30)]
    for fact in facts:
        token = await fake_discord.slash_subcommand("memory", "remember", {"text": fact})
        await fake_discord.wait_until(lambda t=token: bool(getattr(  # type: ignore[misc]
            fake_discord.original_response(t), "content", "")))

    token = await fake_discord.slash_subcommand("memory", "show")

    await fake_discord.wait_until(lambda: bool(getattr(
        fake_discord.original_response(token), "content", "")))
    response = fake_discord.original_response(token)
    assert response is not None
    *listed, last = response.content.split("\n")
    assert len(response.content) <= 2000
    assert listed and all(line.split("] ", 1)[1] in facts for line in listed)
    assert last == f"… and {len(facts) - len(listed)} more."


# -- 7. typing while the reply chain loads ------------------------------------------------------


async def test_typing_shows_before_the_reply_chain_is_fetched(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, start_libra: StartLibra
) -> None:
    await start_libra(fake_discord, fake_ollama, None)
    channel = fake_discord.text_channel.id
    previous = await fake_discord.user_message("the start of it all")
    for n in range(5):
        previous = await fake_discord.user_message(f"and then {n}", reply_to=previous.id)

    await fake_discord.user_message("what started this?", mention_bot=True,
                                    reply_to=previous.id)

    await fake_discord.wait_for_bot_content(channel, fake_ollama.default_answer)
    calls = [(c.method, c.route) for c in fake_discord.world.rest_calls]
    typing = calls.index(("POST", "/channels/{channel}/typing"))
    fetches = [i for i, call in enumerate(calls)
               if call == ("GET", "/channels/{channel}/messages/{message}")]
    assert len(fetches) == 5
    assert typing < fetches[-1], "typing shows while the chain loads, not after"


async def test_a_queued_reply_that_fails_turns_its_waiting_note_into_the_error(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, start_libra: StartLibra
) -> None:
    """No "you're #1 in line" is left behind to wait forever."""
    fake_ollama.answers["first, slowly"] = " ".join(f"word{i}" for i in range(20))
    fake_ollama.tokens_per_second = 10
    await start_libra(fake_discord, fake_ollama, None, llm={"max_concurrency": 1})
    channel = fake_discord.text_channel.id
    await fake_discord.user_message("first, slowly", mention_bot=True)
    await fake_discord.wait_until(lambda: len(fake_ollama.model_calls) == 1)

    await fake_discord.user_message("second", mention_bot=True)
    note = user_message("queue_position", "en", position=1)
    await fake_discord.wait_for_bot_content(channel, note)
    fake_ollama.fail_status = 500

    failure = user_message("llm_server_error", "en")
    await fake_discord.wait_for_bot_content(channel, failure, timeout=15)
    await asyncio.sleep(0.5)
    assert sorted(m.content for m in fake_discord.bot_messages(channel)) == sorted(
        [fake_ollama.answers["first, slowly"], failure])
