"""Linked and auto-translated channels where the relay used to lose or garble messages.

Real Libra against the fake Discord (webhooks and Discord's limits enforced) and a fake
model translating from a phrase book: an edit while one channel is behind, authors
whose names Discord refuses for a webhook, auto-translated posts too long for one
message, short CJK messages in an auto-translated channel, an edit into one of the
post's languages, a flood, and a stop with translations still queued.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable

import pytest

from libra.discord.render import DISCORD_MESSAGE_LIMIT
from libra.discord.translate_relay import USER_BURST, TranslationRelay
from tests.e2e.discord.libra_harness import LibraBot, StartLibra
from tests.e2e.discord.translate_links_setup import (
    language_channels,
    start_translating,
    translating_from,
)
from tests.fakes.fake_discord import FakeChannel, FakeDiscord, FakeUser, StoredMessage
from tests.fakes.fake_discord.world import FakeMember
from tests.fakes.fake_ollama import FakeOllama

HELLO = "Good morning everyone, how are you today?"
HELLO_EDITED = "Good morning everyone, how are you all doing today?"
FINE = "I am fine, thank you very much for asking!"
GAMES_KO = "오늘 저녁에 같이 게임할 사람 있나요?"

PHRASES: dict[str, dict[str, str]] = {
    HELLO: {"Korean": "여러분 좋은 아침이에요, 오늘 어떻게 지내세요?",
            "Japanese": "皆さんおはようございます、今日はお元気ですか？"},
    HELLO_EDITED: {"Korean": "여러분 좋은 아침이에요, 오늘 다들 어떻게 지내고 계세요?",
                   "Japanese": "皆さんおはようございます、今日は皆さんいかがお過ごしですか？"},
    FINE: {"Korean": "저는 잘 지내요, 물어봐 주셔서 정말 감사합니다!",
           "Japanese": "元気です、聞いてくれて本当にありがとうございます！"},
    GAMES_KO: {"English": "Is anyone up for playing games together this evening?",
               "Japanese": "今夜一緒にゲームをする人はいますか？"},
    "今天加班": {"Japanese": "今日は残業です", "Korean": "오늘은 야근이에요",
                 "Chinese": "今天加班"},
    "弁当持参": {"Japanese": "弁当持参", "Korean": "도시락 지참",
                 "Chinese": "自带便当"},
}
for _n in range(25):
    PHRASES[f"Message number {_n} of the long story I am telling you"] = {
        "Korean": f"제가 들려주는 긴 이야기의 {_n}번째 메시지입니다",
        "Japanese": f"私が話している長い話の{_n}番目のメッセージです",
        "Spanish": f"Mensaje número {_n} de la larga historia que te estoy contando",
        "French": f"Message numéro {_n} de la longue histoire que je suis en train de raconter",
    }


def story(n: int) -> str:
    """Line ``n`` of a long story, as written."""
    return f"Message number {n} of the long story I am telling you"


phrase_book = translating_from(PHRASES)


@pytest.fixture
def world(fake_discord: FakeDiscord) -> tuple[FakeChannel, FakeChannel, FakeChannel]:
    return language_channels(fake_discord, webhooks=True)


async def _link(fake: FakeDiscord, english: FakeChannel, *others: tuple[FakeChannel, str]) -> None:
    for channel, language in others:
        token = await fake.slash_subcommand(
            "autotranslate", "link", {"channel": channel, "language": language, "here": "en"},
            channel=english, user=fake.user("alice"))
        await fake.wait_until(lambda t=token: (m := fake.original_response(t)) is not None
                              and "Linked channels" in m.content)


async def _auto(fake: FakeDiscord, channel: FakeChannel, languages: str) -> None:
    token = await fake.slash_subcommand("autotranslate", "on", {"languages": languages},
                                        channel=channel, user=fake.user("alice"))
    await fake.wait_until(lambda: (m := fake.original_response(token)) is not None
                          and "auto-translated" in m.content)


async def _until(fake: FakeDiscord, predicate: Callable[[], bool], timeout: float = 20) -> None:
    await fake.wait_until(predicate, timeout)


def _posts(fake: FakeDiscord, channel: FakeChannel) -> list[StoredMessage]:
    return fake.webhook_messages(channel.id)


def _beneath(fake: FakeDiscord, channel: FakeChannel, original: StoredMessage
             ) -> list[StoredMessage]:
    return [m for m in fake.bot_messages(channel.id)
            if m.payload.get("message_reference", {}).get("message_id") == str(original.id)]


def _relay(bot: LibraBot) -> TranslationRelay:
    assert bot.plugin.deps is not None and bot.plugin.deps.relay is not None
    return bot.plugin.deps.relay


async def test_an_edit_reaches_the_channels_already_posted_while_another_is_behind(
        fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str,
        start_libra: StartLibra, world: tuple[FakeChannel, FakeChannel, FakeChannel]) -> None:
    english, korean, japanese = world
    await start_translating(start_libra, fake_discord, fake_ollama, pg_url, phrase_book)
    await _link(fake_discord, english, (korean, "ko"), (japanese, "ja"))
    # The model streams 4 words a second: the Japanese line (one "word") is posted at
    # once, the Korean one (seven words) takes about two seconds.
    fake_ollama.tokens_per_second = 4
    hello = await fake_discord.user_message(HELLO, channel=english)
    await _until(fake_discord, lambda: bool(_posts(fake_discord, japanese)))
    assert not _posts(fake_discord, korean), "the Korean channel must still be behind"
    await fake_discord.user_edit(hello, HELLO_EDITED)

    ko_edited = "여러분 좋은 아침이에요, 오늘 다들 어떻게 지내고 계세요?"
    ja_edited = "皆さんおはようございます、今日は皆さんいかがお過ごしですか？"
    await _until(fake_discord, lambda: [m.content for m in _posts(fake_discord, japanese)]
                 == [ja_edited] and [m.content for m in _posts(fake_discord, korean)]
                 == [ko_edited])
    await asyncio.sleep(1.0)  # an edit made twice would land by now
    # Each copy edited exactly once: nothing done twice, nothing left behind.
    assert _posts(fake_discord, japanese)[0].edits == 1
    assert _posts(fake_discord, korean)[0].edits <= 1
    assert fake_discord.limiter.stats.responses_429 == 0


async def test_authors_named_like_discord_or_clyde_are_relayed_under_their_name(
        fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str,
        start_libra: StartLibra, world: tuple[FakeChannel, FakeChannel, FakeChannel]) -> None:
    english, korean, _ = world
    guild = fake_discord.world.guilds[0]
    names = ["DiscordFan", "clyde the cat"]
    users = []
    for name in names:
        user = FakeUser(id=fake_discord.world.snowflakes.next(), username=name)
        fake_discord.world.users[user.id] = user
        guild.members.append(FakeMember(user=user))
        users.append(user)
    await start_translating(start_libra, fake_discord, fake_ollama, pg_url, phrase_book)
    await _link(fake_discord, english, (korean, "ko"))
    await fake_discord.user_message(HELLO, channel=english, author=users[0])
    await _until(fake_discord, lambda: len(_posts(fake_discord, korean)) == 1)
    await fake_discord.user_message(FINE, channel=english, author=users[1])
    await _until(fake_discord, lambda: len(_posts(fake_discord, korean)) == 2)
    posted = _posts(fake_discord, korean)
    assert [p.content for p in posted] == [PHRASES[HELLO]["Korean"], PHRASES[FINE]["Korean"]]
    # Discord refuses those words in a webhook's name: they are broken invisibly.
    shown = [p.payload["author"]["username"] for p in posted]
    assert [s.replace("\u200b", "") for s in shown] == names
    assert not any(w in s.lower() for s in shown for w in ("discord", "clyde"))


async def test_an_auto_translated_post_too_long_for_one_message_loses_no_language(
        fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str,
        start_libra: StartLibra) -> None:
    channel = fake_discord.text_channel
    bot = await start_translating(start_libra, fake_discord, fake_ollama, pg_url, phrase_book)
    await _auto(fake_discord, channel, "en ko ja es fr")
    lines = range(25)
    said = await fake_discord.user_message("\n".join(story(n) for n in lines), channel=channel)
    want = {
        "ko": "\n".join(PHRASES[story(n)]["Korean"] for n in lines),
        "ja": "\n".join(PHRASES[story(n)]["Japanese"] for n in lines),
        "es": "\n".join(PHRASES[story(n)]["Spanish"] for n in lines),
        "fr": "\n".join(PHRASES[story(n)]["French"] for n in lines),
    }
    total = sum(len(t) + 6 for t in want.values())
    assert total > DISCORD_MESSAGE_LIMIT  # one message could not hold them

    def shown() -> str:
        return "\n".join(m.content for m in _beneath(fake_discord, channel, said))

    await _until(fake_discord, lambda: len(shown()) >= total - 10)
    posts = _beneath(fake_discord, channel, said)
    assert len(posts) >= 2 and all(len(p.content) <= DISCORD_MESSAGE_LIMIT for p in posts)
    assert "…" not in shown()
    assert shown() == "\n".join(f"`{code}` {text}" for code, text in want.items())

    # Every part follows an edit (each re-renders its own languages) and a deletion.
    async with asyncio.timeout(10):  # a post shows before it is stored; polled (no event)
        while len(await bot.query("SELECT 1 FROM translation_posts")) < len(posts):  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    await fake_discord.user_edit(said, "\n".join(story(n) for n in range(2)))
    short = {code: "\n".join(text.split("\n")[:2]) for code, text in want.items()}
    await _until(fake_discord, lambda: shown() == "\n".join(
        f"`{code}` {text}" for code, text in short.items()))
    await fake_discord.user_delete(said)
    await _until(fake_discord, lambda: not _beneath(fake_discord, channel, said))


async def test_short_cjk_messages_take_one_of_the_auto_channels_languages(
        fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str,
        start_libra: StartLibra) -> None:
    # Nobody chats with Libra here: the channel's reply language is the default, en.
    channel = fake_discord.text_channel
    await start_translating(start_libra, fake_discord, fake_ollama, pg_url, phrase_book)
    await _auto(fake_discord, channel, "zh-cn ja ko")
    overtime = await fake_discord.user_message("今天加班", channel=channel)
    await _until(fake_discord, lambda: bool(_beneath(fake_discord, channel, overtime)))
    # Read as Chinese (not English): its own language is not listed under it.
    assert _beneath(fake_discord, channel, overtime)[0].content == (
        "`ja` 今日は残業です\n`ko` 오늘은 야근이에요")
    lunch = await fake_discord.user_message("弁当持参", channel=channel)
    await _until(fake_discord, lambda: bool(_beneath(fake_discord, channel, lunch)))
    labels = re.findall(r"^`([a-z-]+)`", _beneath(fake_discord, channel, lunch)[0].content,
                        re.MULTILINE)
    # One of the channel's three languages is taken for its own (never a fourth, en).
    assert len(labels) == 2 and set(labels) < {"zh-cn", "ja", "ko"}


async def test_an_edit_into_one_of_the_posts_languages_does_not_repeat_the_original(
        fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str,
        start_libra: StartLibra) -> None:
    channel = fake_discord.text_channel
    bot = await start_translating(start_libra, fake_discord, fake_ollama, pg_url, phrase_book)
    await _auto(fake_discord, channel, "en ko ja")
    said = await fake_discord.user_message(GAMES_KO, channel=channel)
    await _until(fake_discord, lambda: bool(_beneath(fake_discord, channel, said)))
    assert _beneath(fake_discord, channel, said)[0].content == (
        "`en` Is anyone up for playing games together this evening?\n"
        "`ja` 今夜一緒にゲームをする人はいますか？")
    async with asyncio.timeout(10):  # a post shows before it is stored; polled (no event)
        while not await bot.query("SELECT 1 FROM translation_posts"):  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    await fake_discord.user_edit(said, FINE)  # now in English, one of the post's languages
    await _until(fake_discord, lambda: _beneath(fake_discord, channel, said)[0].edits >= 1)
    assert _beneath(fake_discord, channel, said)[0].content == (
        "`ja` 元気です、聞いてくれて本当にありがとうございます！")


async def test_a_flood_is_cut_off_and_does_not_delay_anyone_else(
        fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str,
        start_libra: StartLibra, world: tuple[FakeChannel, FakeChannel, FakeChannel]) -> None:
    english, korean, _ = world
    bot = await start_translating(start_libra, fake_discord, fake_ollama, pg_url, phrase_book)
    await _link(fake_discord, english, (korean, "ko"))
    spammer, alice = fake_discord.world.owner, fake_discord.user("alice")
    relay = _relay(bot)
    backlog = 0
    flood = 80
    for n in range(flood):
        await fake_discord.user_message(story(n % 25), channel=english, author=spammer)
        backlog = max(backlog, relay.queues.backlog)
    await fake_discord.user_message(FINE, channel=english, author=alice)
    fine_ko = PHRASES[FINE]["Korean"]

    def lines() -> list[str]:
        return "\n".join(m.content for m in _posts(fake_discord, korean)).split("\n")

    # Alice's line arrives within a few posts' pacing, not after the whole flood.
    await _until(fake_discord, lambda: any(fine_ko in line for line in lines()), timeout=15)
    relayed = [line for line in lines() if "긴 이야기의" in line]
    # The spammer had their burst (plus what refilled meanwhile), the rest was refused.
    assert USER_BURST <= len(relayed) <= USER_BURST + 3
    assert relay.rate_limited >= flood - USER_BURST - 3
    assert backlog <= USER_BURST + 1  # memory bounded by the rate, never by the flood
    assert fake_discord.limiter.stats.responses_429 == 0


async def test_translations_queued_at_stop_are_still_posted(
        fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str,
        start_libra: StartLibra, world: tuple[FakeChannel, FakeChannel, FakeChannel]) -> None:
    english, korean, _ = world
    bot = await start_translating(start_libra, fake_discord, fake_ollama, pg_url, phrase_book)
    await _link(fake_discord, english, (korean, "ko"))
    fake_ollama.tokens_per_second = 6  # about a second and a half for the Korean line
    await fake_discord.user_message(HELLO, channel=english)
    async with asyncio.timeout(5):  # the model is answering (polled: it has no event)
        while not fake_ollama.streaming:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    await bot.app.stop()
    assert [m.content for m in _posts(fake_discord, korean)] == [PHRASES[HELLO]["Korean"]]
