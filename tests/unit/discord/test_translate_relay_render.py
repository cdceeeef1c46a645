"""A relayed post's lines: named where the author changes, jump links, split under 2000."""

from __future__ import annotations

from collections.abc import Sequence

from libra.discord.render import DISCORD_MESSAGE_LIMIT
from libra.discord.translate_relay_render import render_lines, split_posts
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
