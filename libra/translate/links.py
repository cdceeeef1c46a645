"""Linked and auto-translated channels: the groups, who gets which translation, the store port.

A **linked** group is two or more channels, one language each: a message in one is
posted, translated, into every other. An **auto-translated** channel is a group of one
channel with several languages: each message gets its translations posted beneath it.
Either way a message's own language (detected per message) is skipped.

Dependency-neutral (no hikari, no SQL): ``libra/discord/translate_relay*.py`` moves
the messages, ``libra/translate/links_store.py`` keeps groups and mappings in
PostgreSQL (migrations 0007 and 0008).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from libra.errors import InputError


class LinkInvalid(InputError):
    """A link that cannot be made: the channel is in another group, or is auto-translated."""

    code = "translate_link_invalid"


class GroupKind(StrEnum):
    """How a group's channels translate."""

    LINKED = "linked"
    """Two or more channels, one language each; messages cross between them."""
    AUTO = "auto"
    """One channel, several languages; translations are posted beneath each message."""


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupChannel:
    """One channel of a group and the language(s) written there."""

    channel_id: int
    languages: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Target:
    """Where one message's translation goes: a channel and the languages to post there."""

    channel_id: int
    languages: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class TranslationGroup:
    """Channels that translate into each other."""

    id: int
    guild_id: int
    kind: GroupKind
    channels: tuple[GroupChannel, ...]

    def channel(self, channel_id: int) -> GroupChannel | None:
        """This group's entry for a channel."""
        return next((c for c in self.channels if c.channel_id == channel_id), None)

    def targets(self, source_channel: int, language: str) -> list[Target]:
        """Where a message written in ``language`` in ``source_channel`` is posted.

        Linked: every other channel, in its language; one whose language is the
        message's gets the original as written (its readers miss nothing, and no model
        is asked). Auto: the channel itself, in each of its languages but the message's.
        """
        if self.kind is GroupKind.AUTO:
            entry = self.channel(source_channel)
            if entry is None:
                return []
            others = tuple(lang for lang in entry.languages if lang != language)
            return [Target(channel_id=source_channel, languages=others)] if others else []
        if self.channel(source_channel) is None:
            return []
        return [Target(channel_id=c.channel_id, languages=c.languages[:1])
                for c in self.channels if c.channel_id != source_channel]


@dataclass(frozen=True, slots=True, kw_only=True)
class PostSource:
    """One original in a post: its id, author and text (kept to re-translate it).

    A post made since migration 0008 also knows what its line shows, so one line of a
    post combining several authors can be edited or removed and the post re-rendered.
    """

    message_id: int
    author_id: int
    text: str
    author_name: str = ""
    """The author as the line names them ("": the post's ``author_name``)."""
    channel_id: int | None = None
    """Where the original was written (``None``: the post's ``source_channel_id``)."""
    reply_to_id: int | None = None
    """The message this line points to in the post's channel (a mapped reply)."""
    translations: Mapping[str, str] | None = None
    """The line's text per language as posted (``None``: unknown, translate again)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RelayPost:
    """A message Libra posted with translations of one or more originals."""

    id: int
    group_id: int
    source_channel_id: int
    target_channel_id: int
    target_message_id: int
    webhook_id: int | None
    """The webhook that posted it (``None``: posted by the bot as itself)."""
    languages: tuple[str, ...]
    sources: tuple[PostSource, ...]
    author_name: str = ""
    reply_to_id: int | None = None
    """The message the post points to in its own channel (a mapped reply)."""
    combined: bool = False
    """Posted under Libra's webhook name, one named line per author (several authors)."""


class LinkStore(Protocol):
    """Groups of channels and the mapping from originals to posted translations.

    Every method raises :class:`~libra.errors.StorageError` when the database fails
    or is not connected.
    """

    async def groups(self) -> list[TranslationGroup]:
        """Every group of every guild (loaded once; groups are few)."""
        ...

    async def link(self, guild_id: int, channel_id: int, language: str, *, to: int,
                   to_language: str | None, by: int | None) -> TranslationGroup:
        """Put ``to`` and ``channel_id`` in one linked group; returns the group as it is now.

        ``to`` gets ``to_language`` if it is not in a group yet; ``channel_id`` gets
        ``language``.

        Raises:
            LinkInvalid: a channel is already auto-translated, or in another group.
        """
        ...

    async def set_auto(self, guild_id: int, channel_id: int, languages: Sequence[str], *,
                       by: int | None) -> TranslationGroup:
        """Make ``channel_id`` an auto-translated channel with ``languages``.

        Raises:
            LinkInvalid: the channel is linked to others.
        """
        ...

    async def unlink(self, channel_id: int) -> TranslationGroup | None:
        """Take a channel out of its group; returns the group before (``None``: none).

        A group left with one linked channel, or an auto channel, is removed.
        """
        ...

    async def add_post(self, *, group_id: int, source_channel_id: int, target_channel_id: int,
                       target_message_id: int, webhook_id: int | None,
                       languages: Sequence[str], sources: Sequence[PostSource],
                       author_name: str = "", reply_to_id: int | None = None,
                       combined: bool = False) -> int:
        """Record a posted translation of ``sources`` (with their lines); returns its id."""
        ...

    async def delete_post(self, post_id: int) -> None:
        """Forget a post (it was deleted)."""
        ...

    async def posts_of(self, source_message_id: int) -> list[RelayPost]:
        """Posts that translate this original."""
        ...

    async def post_at(self, target_message_id: int) -> RelayPost | None:
        """The post that is this message (a translation Libra posted), if any."""
        ...

    async def update_source(self, post_id: int, source_message_id: int, text: str,
                            translations: Mapping[str, str] | None = None) -> None:
        """An original was edited: keep its new text (and its line's new translations)."""
        ...

    async def remove_source(self, post_id: int, source_message_id: int) -> int:
        """An original was deleted: forget it; returns how many originals the post keeps.

        The post row itself is removed when none is left.
        """
        ...
