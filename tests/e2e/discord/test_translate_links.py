"""Linked and auto-translated channels, end to end: real Libra, fake Discord, fake Ollama.

Three channels (en, ko, ja) are linked with ``/autotranslate link``; the fake model
translates from a phrase book (by the target language its prompt names), so what
lands in each channel can be checked word for word.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from tests.e2e.discord.libra_harness import LibraBot, StartLibra
from tests.e2e.discord.translate_links_setup import (
    language_channels,
    start_translating,
    translating_from,
)
from tests.fakes.fake_discord import FakeChannel, FakeDiscord, FakeUser, StoredMessage, events
from tests.fakes.fake_discord.webhooks import MANAGE_WEBHOOKS
from tests.fakes.fake_ollama import FakeOllama

PHRASES: dict[str, dict[str, str]] = {
    "Good morning everyone, how are you today?": {
        "Korean": "여러분 좋은 아침이에요, 오늘 어떻게 지내세요?",
        "Japanese": "皆さんおはようございます、今日はお元気ですか？",
    },
    "Good morning everyone, how are you all doing today?": {
        "Korean": "여러분 좋은 아침이에요, 오늘 다들 어떻게 지내고 계세요?",
        "Japanese": "皆さんおはようございます、今日は皆さんいかがお過ごしですか？",
    },
    "오늘 저녁에 같이 게임할 사람 있나요?": {
        "English": "Is anyone up for playing games together this evening?",
        "Japanese": "今夜一緒にゲームをする人はいますか？",
    },
    "I am fine, thank you very much for asking!": {
        "Korean": "저는 잘 지내요, 물어봐 주셔서 정말 감사합니다!",
        "Japanese": "元気です、聞いてくれて本当にありがとうございます！",
    },
}
for n in range(12):
    PHRASES[f"Message number {n} of the long story I am telling you"] = {
        "Korean": f"제가 들려주는 긴 이야기의 {n}번째 메시지입니다",
        "Japanese": f"私が話している長い話の{n}番目のメッセージです",
    }


phrase_book = translating_from(PHRASES)


_FAKE: list[FakeDiscord] = []


async def _until(predicate: Callable[[], bool], timeout: float = 15.0) -> None:
    await _FAKE[-1].wait_until(predicate, timeout)


async def _link(fake: FakeDiscord, english: FakeChannel, korean: FakeChannel,
                japanese: FakeChannel) -> None:
    admin = fake.user("alice")  # a moderator, an admin role for Libra
    for channel, language in ((korean, "ko"), (japanese, "ja")):
        token = await fake.slash_subcommand(
            "autotranslate", "link", {"channel": channel, "language": language,
                                      "here": "en"}, channel=english, user=admin)
        await _until(lambda t=token: (m := fake.original_response(t)) is not None
                     and "Linked channels" in m.content)


async def _recorded(bot: LibraBot, posts: int) -> None:
    """Wait until ``posts`` translations are recorded (a post shows before it is stored)."""
    async with asyncio.timeout(10):
        # Polled: the database has no change event to wait for.
        while (await bot.query("SELECT count(*) AS n FROM translation_posts"))[0]["n"] < posts:  # noqa: ASYNC110
            await asyncio.sleep(0.05)


def _texts(fake: FakeDiscord, channel: FakeChannel) -> list[str]:
    return [m.content for m in fake.webhook_messages(channel.id)]


def _lines(fake: FakeDiscord, channel: FakeChannel) -> list[str]:
    """Every line posted into the channel (a backlog may share a post)."""
    return "\n".join(_texts(fake, channel)).split("\n") if _texts(fake, channel) else []


async def _attachment_only(fake: FakeDiscord, channel: FakeChannel, author: FakeUser) -> str:
    """A user shares a picture with no text; returns its URL."""
    payload = events.message_create(fake.world, author=author, channel=channel, content="")
    url = f"https://cdn.discordapp.com/attachments/{channel.id}/{payload['id']}/cat.png"
    payload["attachments"] = [{"id": str(fake.world.snowflakes.next()), "filename": "cat.png",
                               "size": 1234, "url": url, "proxy_url": url,
                               "content_type": "image/png"}]
    fake.world.messages.setdefault(channel.id, []).append(
        StoredMessage(int(payload["id"]), channel.id, author.id, payload))
    await fake.dispatch("MESSAGE_CREATE", payload)
    return url


@pytest.fixture(autouse=True)
def _current_fake(fake_discord: FakeDiscord) -> None:
    _FAKE[:] = [fake_discord]


@pytest.fixture
def world(fake_discord: FakeDiscord) -> tuple[FakeChannel, FakeChannel, FakeChannel]:
    return language_channels(fake_discord, webhooks=False)


async def test_linked_channels_across_three_languages(
        fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str,
        start_libra: StartLibra, world: tuple[FakeChannel, FakeChannel, FakeChannel]) -> None:
    english, korean, japanese = world
    fake_discord.world.grant_bot(fake_discord.world.guilds[0].id, MANAGE_WEBHOOKS)
    bot = await start_translating(start_libra, fake_discord, fake_ollama, pg_url, phrase_book)
    await _link(fake_discord, english, korean, japanese)
    alice = fake_discord.user("alice")

    # Posted into each other channel, translated, under the author's name.
    hello = await fake_discord.user_message("Good morning everyone, how are you today?",
                                            channel=english, author=alice)
    await _until(lambda: _texts(fake_discord, korean) and _texts(fake_discord, japanese))
    ko = fake_discord.webhook_messages(korean.id)[0]
    assert ko.content == "여러분 좋은 아침이에요, 오늘 어떻게 지내세요?"
    assert ko.payload["author"]["username"] == "alice"
    assert _texts(fake_discord, japanese) == ["皆さんおはようございます、今日はお元気ですか？"]
    await _recorded(bot, 2)

    # A Korean message in the Korean channel: English and Japanese get it; a reply maps.
    owner = fake_discord.world.owner
    question = await fake_discord.user_message("오늘 저녁에 같이 게임할 사람 있나요?",
                                               channel=korean, author=owner, reply_to=ko.id)
    await _until(lambda: len(_texts(fake_discord, english)) == 1
                 and len(_texts(fake_discord, japanese)) == 2)
    en_post = fake_discord.webhook_messages(english.id)[0]
    assert "Is anyone up for playing games together this evening?" in en_post.content
    # It replied to the Korean copy of alice's message: in English that is the original.
    assert f"/{english.id}/{hello.id}" in en_post.content
    ja_reply = fake_discord.webhook_messages(japanese.id)[1]
    ja_hello = fake_discord.webhook_messages(japanese.id)[0]
    assert f"/{japanese.id}/{ja_hello.id}" in ja_reply.content
    await _recorded(bot, 4)

    # Nothing to translate is relayed as written (a shared link, "lol", a picture: the
    # other channels' readers see it too); other bots' and Libra's own posts never loop.
    await fake_discord.user_message("lol", channel=english, author=alice)
    await fake_discord.user_message("https://example.com/x", channel=english, author=alice)
    picture = await _attachment_only(fake_discord, english, alice)
    await fake_discord.foreign_webhook_message("Build passed", channel=english)
    # A later message, posted after all of them: when it shows, whatever was going to be
    # relayed before it has been, so the counts below prove that nothing looped.
    await fake_discord.user_message("I am fine, thank you very much for asking!",
                                    channel=english, author=alice)
    fine_ko = "저는 잘 지내요, 물어봐 주셔서 정말 감사합니다!"
    await _until(lambda: fine_ko in _lines(fake_discord, korean))
    await _until(lambda: "元気です、聞いてくれて本当にありがとうございます！"
                 in _lines(fake_discord, japanese))
    assert _lines(fake_discord, korean)[1:] == ["lol", "https://example.com/x", picture,
                                                fine_ko]
    assert "Build passed" not in _lines(fake_discord, korean)
    assert len(_texts(fake_discord, english)) == 1  # nothing of Libra's came back
    await _recorded(bot, sum(len(_texts(fake_discord, c)) for c in (english, korean, japanese)))
    ja_before = len(_texts(fake_discord, japanese))

    # Edits and deletes follow after a restart (the mapping is in PostgreSQL).
    await bot.app.stop()
    bot = await start_translating(start_libra, fake_discord, fake_ollama, pg_url, phrase_book)
    await fake_discord.user_edit(hello, "Good morning everyone, how are you all doing today?")
    await _until(lambda: _texts(fake_discord, korean)[0]
                 == "여러분 좋은 아침이에요, 오늘 다들 어떻게 지내고 계세요?")
    await fake_discord.user_delete(question)
    await _until(lambda: _texts(fake_discord, english) == []
                 and len(_texts(fake_discord, japanese)) == ja_before - 1)
    assert fake_discord.limiter.stats.responses_429 == 0


async def test_without_manage_webhooks_the_bot_posts_naming_the_author(
        fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str,
        start_libra: StartLibra, world: tuple[FakeChannel, FakeChannel, FakeChannel]) -> None:
    english, korean, _ = world
    await start_translating(start_libra, fake_discord, fake_ollama, pg_url, phrase_book)
    token = await fake_discord.slash_subcommand(
        "autotranslate", "link", {"channel": korean, "language": "ko", "here": "en"},
        channel=english, user=fake_discord.user("alice"))
    await _until(lambda: (m := fake_discord.original_response(token)) is not None
                 and "Manage Webhooks" in m.content)  # the admin is told, once, here
    await fake_discord.user_message("I am fine, thank you very much for asking!",
                                    channel=english)
    await _until(lambda: bool(fake_discord.bot_messages(korean.id)))
    posted = fake_discord.bot_messages(korean.id)[0]
    assert posted.content == "**alice**: 저는 잘 지내요, 물어봐 주셔서 정말 감사합니다!"
    assert fake_discord.webhook_messages(korean.id) == []


async def test_auto_translated_channel_posts_beneath_skipping_its_language(
        fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str,
        start_libra: StartLibra) -> None:
    channel = fake_discord.text_channel
    await start_translating(start_libra, fake_discord, fake_ollama, pg_url, phrase_book)
    token = await fake_discord.slash_subcommand("autotranslate", "on",
                                                {"languages": "en ko ja"}, channel=channel,
                                                user=fake_discord.user("alice"))
    await _until(lambda: (m := fake_discord.original_response(token)) is not None
                 and "auto-translated" in m.content)
    said = await fake_discord.user_message("오늘 저녁에 같이 게임할 사람 있나요?", channel=channel)
    await _until(lambda: any(m.payload.get("message_reference", {}).get("message_id")
                             == str(said.id) for m in fake_discord.bot_messages(channel.id)))
    beneath = next(m for m in fake_discord.bot_messages(channel.id)
                   if m.payload.get("message_reference", {}).get("message_id") == str(said.id))
    assert beneath.content == ("`en` Is anyone up for playing games together this evening?\n"
                               "`ja` 今夜一緒にゲームをする人はいますか？")


async def test_a_burst_is_coalesced_without_429s(
        fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str,
        start_libra: StartLibra, world: tuple[FakeChannel, FakeChannel, FakeChannel]) -> None:
    english, korean, japanese = world
    fake_discord.world.grant_bot(fake_discord.world.guilds[0].id, MANAGE_WEBHOOKS)
    fake_ollama.tokens_per_second = 30
    await start_translating(start_libra, fake_discord, fake_ollama, pg_url, phrase_book)
    await _link(fake_discord, english, korean, japanese)
    sent: list[StoredMessage] = []
    for n in range(12):
        sent.append(await fake_discord.user_message(
            f"Message number {n} of the long story I am telling you", channel=english))
        await asyncio.sleep(0.1)
    last_ko = "제가 들려주는 긴 이야기의 11번째 메시지입니다"
    await _until(lambda: any(t.endswith(last_ko) for t in _texts(fake_discord, korean)),
                 timeout=25)
    posts = _texts(fake_discord, korean)
    # Every message arrived, in order, in fewer posts than messages.
    joined = "\n".join(posts).split("\n")
    assert joined == [f"제가 들려주는 긴 이야기의 {n}번째 메시지입니다" for n in range(12)]
    assert len(posts) < 12
    assert fake_discord.limiter.stats.responses_429 == 0


async def test_a_failed_translation_marks_the_original_instead_of_a_wrong_post(
        fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str,
        start_libra: StartLibra, world: tuple[FakeChannel, FakeChannel, FakeChannel]) -> None:
    english, korean, japanese = world
    fake_discord.world.grant_bot(fake_discord.world.guilds[0].id, MANAGE_WEBHOOKS)
    await start_translating(start_libra, fake_discord, fake_ollama, pg_url, phrase_book)
    await _link(fake_discord, english, korean, japanese)

    def wrong_language(body: dict[str, Any]) -> str:  # German whatever was asked for
        return "Guten Morgen zusammen, wie geht es euch heute?"

    fake_ollama.answer_fn = wrong_language
    said = await fake_discord.user_message("Good morning everyone, how are you today?",
                                           channel=english)

    def marked() -> bool:
        stored = fake_discord.world.find_message(said.id)
        return stored is not None and bool(stored.payload.get("reactions"))

    await _until(marked)
    await asyncio.sleep(1.0)  # both target channels have given up by now
    stored = fake_discord.world.find_message(said.id)
    assert stored is not None
    # One ⚠️ however many languages failed; nothing wrong (or anything) posted.
    assert stored.payload["reactions"] == [{"emoji": {"id": None, "name": "⚠️"}, "count": 1,
                                            "me": True}]
    assert _texts(fake_discord, korean) == [] and _texts(fake_discord, japanese) == []
    assert fake_discord.limiter.stats.responses_429 == 0

    # A good translation afterwards is posted as usual, unmarked.
    fake_ollama.answer_fn = phrase_book
    fine = await fake_discord.user_message("I am fine, thank you very much for asking!",
                                           channel=english)
    await _until(lambda: _texts(fake_discord, korean)
                 == ["저는 잘 지내요, 물어봐 주셔서 정말 감사합니다!"])
    assert not (fake_discord.world.find_message(fine.id) or said).payload.get("reactions")
