"""What a relayed post says: its lines, rendered and split to fit Discord's 2000 characters.

A post holds one or more originals (:class:`~libra.translate.links.PostSource`), each
with its translations per language. Rendered:

* into a **linked** channel, one line per original in that channel's language. A post
  by one author through the webhook carries the author's name and avatar, so its lines
  are bare; a post combining several authors (under Libra's webhook name), or posted by
  the bot itself, names each author where the author changes: ``**alice**: …``. A
  line that replies to something is preceded by a jump link to it (``-# ↪ …``), except
  the one the bot's post replies to natively;
* **beneath an auto-translated** message, one block per language, led by its code
  in backticks. Blocks that outgrow one message are posted as several (one or more
  languages each; a language block longer than a message is cut at paragraphs, code
  blocks closed and reopened), so no language is ever cut off.

Pure functions of the stored lines, so a post is re-rendered the same way after one of
its originals is edited or deleted, also after a restart.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from libra.discord.render import DISCORD_MESSAGE_LIMIT, FENCE, split_message
from libra.translate.links import PostSource


def jump_url(guild_id: int, channel_id: int, message_id: int) -> str:
    """A link Discord shows as a chip leading to the message."""
    return f"https://discord.com/channels/{guild_id}/{channel_id}/{message_id}"


def fit(text: str) -> str:
    """``text`` cut to one Discord message (a single line longer than that is rare)."""
    return text if len(text) <= DISCORD_MESSAGE_LIMIT else text[:DISCORD_MESSAGE_LIMIT - 1] + "…"


def render_lines(sources: Sequence[PostSource], *, language: str, named: bool,
                 guild_id: int, channel_id: int, native_reply: int | None = None) -> str:
    """A linked channel's post: each original's ``language`` line (see the module).

    ``named``: name each author where the author changes (a combined or bot post).
    ``native_reply``: the message the post replies to natively (a bot post); the first
    line pointing there needs no jump link. Originals without a translation into
    ``language`` (it failed) are left out.
    """
    out: list[str] = []
    previous: str | None = None
    first = True
    for source in sources:
        text = (source.translations or {}).get(language)
        if text is None:
            continue
        reply = source.reply_to_id
        if reply is not None and not (first and reply == native_reply):
            out.append(f"-# ↪ {jump_url(guild_id, channel_id, reply)}")
            previous = None  # the jump link separates: name the author again
        if named and source.author_name != previous:
            out.append(f"**{source.author_name}**: {text}")
        else:
            out.append(text)
        previous = source.author_name
        first = False
    return "\n".join(out)


def render_beneath(sources: Sequence[PostSource], languages: Sequence[str]) -> str:
    """An auto-translated channel's post: one block per language, its originals' lines."""
    blocks = []
    for language in languages:
        texts = [s.translations[language] for s in sources
                 if s.translations is not None and language in s.translations]
        if texts:
            body = "\n".join(texts)
            # A code fence only opens at the start of a line: the label goes above it.
            blocks.append(f"`{language}`" + ("\n" if body.startswith(FENCE) else " ") + body)
    return "\n".join(blocks)


def beneath_parts(sources: Sequence[PostSource],
                  languages: Sequence[str]) -> list[tuple[tuple[str, ...], str]]:
    """The posts beneath an auto-translated message: ``(languages shown, content)`` each.

    One post when every language fits; otherwise as many languages per post as fit, in
    order, and a single language too long for one post is cut into several
    (:func:`~libra.discord.render.split_message`: code blocks stay intact). Each part
    is recorded with the languages it shows, so an edit re-renders just those.
    """
    whole = render_beneath(sources, languages)
    if len(whole) <= DISCORD_MESSAGE_LIMIT:
        return [(tuple(languages), whole)] if whole else []
    groups: list[list[str]] = []
    for language in languages:
        if not render_beneath(sources, [language]):
            continue  # nothing in this language (its translation failed)
        if groups and len(render_beneath(sources, [*groups[-1], language])) <= (
                DISCORD_MESSAGE_LIMIT):
            groups[-1].append(language)
        else:
            groups.append([language])
    parts: list[tuple[tuple[str, ...], str]] = []
    for group in groups:
        content = render_beneath(sources, group)
        parts.extend((tuple(group), piece) for piece in (
            [content] if len(content) <= DISCORD_MESSAGE_LIMIT else split_message(content)))
    return parts


def beneath_piece(content: str, index: int) -> str | None:
    """Piece ``index`` of one part's ``content`` cut like :func:`beneath_parts` cuts it.

    ``None`` when the content now needs fewer pieces (that post is no longer needed).
    """
    if len(content) <= DISCORD_MESSAGE_LIMIT:
        return content if index == 0 else None
    pieces = split_message(content)
    return pieces[index] if index < len(pieces) else None


def split_posts(sources: Sequence[PostSource],
                render: Callable[[Sequence[PostSource]], str]) -> list[list[PostSource]]:
    """``sources`` in order, cut into posts whose ``render`` fits one Discord message.

    Greedy: each post takes originals while it fits; an original too long by itself is
    a post of its own (cut with :func:`fit` when posted).
    """
    posts: list[list[PostSource]] = []
    current: list[PostSource] = []
    for source in sources:
        if current and len(render([*current, source])) > DISCORD_MESSAGE_LIMIT:
            posts.append(current)
            current = []
        current.append(source)
    if current:
        posts.append(current)
    return posts
