"""Linked channels under a backlog: several authors' messages combined into one post.

Discord lets a channel receive about 30 webhook messages a minute; when more wait, the
relay posts them together under Libra's webhook name, one named line per author. Real
Libra against the fake Discord (which enforces that budget) and a fake model that
translates from a phrase book, slowly enough for a backlog to form.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable

import pytest

from libra.discord.translate_relay_webhooks import WEBHOOK_NAME
from tests.e2e.discord.libra_harness import StartLibra
from tests.e2e.discord.translate_links_setup import (
    language_channels,
    start_translating,
    translating_from,
)
from tests.fakes.fake_discord import FakeChannel, FakeDiscord, StoredMessage
from tests.fakes.fake_ollama import FakeOllama

PHRASES: dict[str, dict[str, str]] = {
    "今夜の計画についてみんなで話しましょう": {
        "Korean": "오늘 밤 계획에 대해 다 같이 이야기해요",
        "English": "Let's all talk about the plan for tonight",
    },
    "Actually the raid starts one hour later than we planned": {
        "Korean": "사실 레이드는 계획보다 한 시간 늦게 시작해요",
        "Japanese": "実はレイドは予定より一時間遅れて始まります",
    },
}
for _n in range(12):
    PHRASES[f"Message number {_n} about the plan for the raid tonight"] = {
        "Korean": f"오늘 밤 레이드 계획에 대한 {_n}번째 메시지입니다",
        "Japanese": f"今夜のレイドの計画についての{_n}番目のメッセージです",
    }


def ko(n: int) -> str:
    """Message ``n``'s Korean line."""
    return f"오늘 밤 레이드 계획에 대한 {n}번째 메시지입니다"


def english(n: int) -> str:
    """Message ``n`` as written."""
    return f"Message number {n} about the plan for the raid tonight"


phrase_book = translating_from(PHRASES)


NAMED = re.compile(r"^\*\*([^*]+)\*\*: ")


def lines_of(posts: list[StoredMessage]) -> list[tuple[str | None, str]]:
    """Every line of the posts, in order, with the author a combined line names."""
    out: list[tuple[str | None, str]] = []
    for post in posts:
        for line in post.content.split("\n"):
            named = NAMED.match(line)
            out.append((named.group(1), line[named.end():]) if named else (None, line))
    return out


@pytest.fixture
def world(fake_discord: FakeDiscord) -> tuple[FakeChannel, FakeChannel, FakeChannel]:
    return language_channels(fake_discord, webhooks=True)


async def _link(fake: FakeDiscord, world: tuple[FakeChannel, FakeChannel, FakeChannel]) -> None:
    english_channel, korean, japanese = world
    for channel, language in ((korean, "ko"), (japanese, "ja")):
        token = await fake.slash_subcommand(
            "autotranslate", "link", {"channel": channel, "language": language, "here": "en"},
            channel=english_channel, user=fake.user("alice"))
        await fake.wait_until(lambda t=token: (m := fake.original_response(t)) is not None
                              and "Linked channels" in m.content)


async def _until(fake: FakeDiscord, predicate: Callable[[], bool], timeout: float = 20) -> None:
    await fake.wait_until(predicate, timeout)


async def test_a_burst_of_alternating_authors_arrives_complete_in_order_and_combined(
        fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str,
        start_libra: StartLibra, world: tuple[FakeChannel, FakeChannel, FakeChannel]) -> None:
    english_channel, korean, japanese = world
    fake_ollama.tokens_per_second = 30
    await start_translating(start_libra, fake_discord, fake_ollama, pg_url, phrase_book)
    await _link(fake_discord, world)
    # Linking pinned each channel's language: the Korean channel is answered in Korean.
    token = await fake_discord.slash_subcommand("autotranslate", "show", {}, channel=korean,
                                                user=fake_discord.user("alice"))
    await _until(fake_discord, lambda: fake_discord.original_response(token) is not None)
    shown = fake_discord.original_response(token)
    assert shown is not None and shown.content.startswith("연결된 채널:\n")
    alice, owner = fake_discord.user("alice"), fake_discord.user("owner")
    # Two authors taking turns in English, and one line from the Japanese channel.
    for n in range(10):
        await fake_discord.user_message(english(n), channel=english_channel,
                                        author=alice if n % 2 == 0 else owner)
        if n == 4:
            await fake_discord.user_message("今夜の計画についてみんなで話しましょう",
                                            channel=japanese, author=owner)
        await asyncio.sleep(0.1)
    expected = [ko(n) for n in range(5)] + ["오늘 밤 계획에 대해 다 같이 이야기해요"] + [
        ko(n) for n in range(5, 10)]
    await _until(fake_discord, lambda: len(lines_of(fake_discord.webhook_messages(korean.id)))
                 >= len(expected), timeout=25)
    posts = fake_discord.webhook_messages(korean.id)
    lines = lines_of(posts)
    # Complete and in order, in far fewer posts than messages.
    assert [text for _, text in lines] == expected
    assert len(posts) <= 6
    combined = [p for p in posts if p.payload["author"]["username"] == WEBHOOK_NAME]
    assert combined, "a backlog of several authors is one post under Libra's name"
    for post in combined:  # each line names its author, where the author changes
        authors = [who for who, _ in lines_of([post])]
        assert authors[0] is not None and set(authors) - {None} <= {"alice", "owner"}
    # The line from the Japanese channel names its author.
    assert ("owner", "오늘 밤 계획에 대해 다 같이 이야기해요") in lines or any(
        p.payload["author"]["username"] == "owner"
        and p.content == "오늘 밤 계획에 대해 다 같이 이야기해요" for p in posts)
    # The Japanese channel gets the English messages, all of them.
    await _until(fake_discord, lambda: len(lines_of(fake_discord.webhook_messages(japanese.id)))
                 >= 10)
    assert [t for _, t in lines_of(fake_discord.webhook_messages(japanese.id))] == [
        f"今夜のレイドの計画についての{n}番目のメッセージです" for n in range(10)]
    assert all(len(p.content) <= 2000 for p in posts)
    assert fake_discord.limiter.stats.responses_429 == 0


async def test_one_line_of_a_combined_post_is_edited_and_deleted_after_a_restart(
        fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str,
        start_libra: StartLibra, world: tuple[FakeChannel, FakeChannel, FakeChannel]) -> None:
    english_channel, korean, _ = world
    fake_ollama.tokens_per_second = 8  # slow: the next three wait behind the first
    bot = await start_translating(start_libra, fake_discord, fake_ollama, pg_url, phrase_book)
    await _link(fake_discord, world)
    alice, owner = fake_discord.user("alice"), fake_discord.user("owner")
    sent = []
    for n, author in enumerate((alice, owner, alice, owner)):
        sent.append(await fake_discord.user_message(english(n), channel=english_channel,
                                                    author=author))
        await asyncio.sleep(0.05)

    def combined() -> StoredMessage | None:
        return next((m for m in fake_discord.webhook_messages(korean.id)
                     if m.payload["author"]["username"] == WEBHOOK_NAME), None)

    await _until(fake_discord, lambda: combined() is not None)
    post = combined()
    assert post is not None
    assert post.content == f"**owner**: {ko(1)}\n**alice**: {ko(2)}\n**owner**: {ko(3)}"

    # After a restart (the lines are in PostgreSQL): one line edited, the others kept.
    async with asyncio.timeout(10):  # a post shows before it is stored; polled (no event)
        while not await bot.query(  # noqa: ASYNC110
                "SELECT 1 FROM translation_posts WHERE target_message_id = $1", post.id):
            await asyncio.sleep(0.05)
    await bot.app.stop()
    fake_ollama.tokens_per_second = 0
    await start_translating(start_libra, fake_discord, fake_ollama, pg_url, phrase_book)
    await fake_discord.user_edit(sent[2], "Actually the raid starts one hour later than we planned")
    fixed = "사실 레이드는 계획보다 한 시간 늦게 시작해요"
    await _until(fake_discord, lambda: (m := combined()) is not None and fixed in m.content)
    post = combined()
    assert post is not None
    assert post.content == f"**owner**: {ko(1)}\n**alice**: {fixed}\n**owner**: {ko(3)}"

    # One line deleted: the post is rendered without it.
    await fake_discord.user_delete(sent[3])
    await _until(fake_discord, lambda: (m := combined()) is not None and ko(3) not in m.content)
    post = combined()
    assert post is not None
    assert post.content == f"**owner**: {ko(1)}\n**alice**: {fixed}"

    # Every line deleted: the post goes.
    await fake_discord.user_delete(sent[1])
    await fake_discord.user_delete(sent[2])
    await _until(fake_discord, lambda: combined() is None)
    assert [m.content for m in fake_discord.webhook_messages(korean.id)] == [ko(0)]
    assert fake_discord.limiter.stats.responses_429 == 0
