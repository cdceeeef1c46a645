"""A relayed post's lines (named, jump links, split under 2000) and its webhook name."""

from __future__ import annotations

from collections.abc import Sequence

from libra.discord.render import DISCORD_MESSAGE_LIMIT, balanced_fences
from libra.discord.translate_relay_render import (
    beneath_parts,
    beneath_piece,
    render_lines,
    split_posts,
)
from libra.discord.translate_relay_webhooks import FALLBACK_USERNAME, webhook_username
from libra.translate.links import PostSource


def line(n: int, author: str, text: str, reply: int | None = None) -> PostSource:
    return PostSource(message_id=n, author_id=hash(author), text="?", author_name=author,
                      reply_to_id=reply, translations={"ko": text})


def test_a_combined_post_names_each_author_where_the_author_changes() -> None:
    lines = [line(1, "alice", "하나"), line(2, "alice", "둘"), line(3, "bob", "셋", reply=77),
             line(4, "bob", "넷")]
    assert render_lines(lines, language="ko", named=True, guild_id=5, channel_id=6) == (
        "**alice**: 하나\n둘\n-# ↪ https://discord.com/channels/5/6/77\n**bob**: 셋\n넷")
    # One author through the webhook (their own name and avatar): bare lines.
    assert render_lines(lines[:2], language="ko", named=False, guild_id=5,
                        channel_id=6) == "하나\n둘"
    # The bot's native reply needs no jump link for the line it points at.
    assert render_lines(lines[2:], language="ko", named=True, guild_id=5, channel_id=6,
                        native_reply=77) == "**bob**: 셋\n넷"


def test_lines_that_outgrow_one_message_are_split_in_order() -> None:
    lines = [line(n, "alice" if n % 2 else "bob", f"{n} " + "가" * 600) for n in range(7)]

    def render(chunk: Sequence[PostSource]) -> str:
        return render_lines(chunk, language="ko", named=True, guild_id=1, channel_id=2)

    posts = split_posts(lines, render)
    assert [s.message_id for post in posts for s in post] == list(range(7))
    assert len(posts) == 3 and all(len(render(p)) <= DISCORD_MESSAGE_LIMIT for p in posts)


def test_webhook_names_discord_refuses_are_broken_invisibly() -> None:
    assert webhook_username("DiscordFan") == "D\u200biscordFan"
    assert webhook_username("my clyde bot") == "my c\u200blyde bot"
    assert webhook_username("  a   b ") == "a b"
    assert webhook_username("   ") == FALLBACK_USERNAME
    assert webhook_username("here") == "h\u200bere"
    assert len(webhook_username("x" * 200)) == 80


def test_an_auto_post_too_long_is_split_by_language_and_fences_stay_whole() -> None:
    code = "```py\n" + "\n".join(f"print({n})  # 한국어 설명" for n in range(150)) + "\n```"
    source = PostSource(message_id=1, author_id=1, text="?", translations={
        "ko": "가" * 900, "ja": "あ" * 900, "es": code})
    parts = beneath_parts([source], ["ko", "ja", "es"])
    assert [shown for shown, _ in parts][:1] == [("ko", "ja")]
    assert all(len(content) <= DISCORD_MESSAGE_LIMIT for _, content in parts)
    assert all(shown == ("es",) for shown, _ in parts[1:]) and len(parts) >= 3
    assert all(balanced_fences(content) for _, content in parts)
    assert parts[1][1].startswith("`es`\n```py\n")  # the label never breaks the fence
    # Nothing lost: every line of the code is in one of its parts.
    shown = "\n".join(content for _, content in parts[1:])
    assert all(f"print({n})" in shown for n in range(150))
    # An edit re-cuts the same way; a piece the shorter text no longer needs is None.
    assert beneath_piece(parts[1][1], 0) == parts[1][1]
    assert beneath_piece("short", 1) is None
