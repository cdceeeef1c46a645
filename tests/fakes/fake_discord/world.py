"""The fake Discord's world: guilds, channels, users and what the bot did to them.

Everything here is plain data that tests configure before the bot connects and read
afterwards. Payload shapes live in ``payloads.py``; this module only holds state.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

DISCORD_EPOCH_MS = 1_420_070_400_000

VIEW_CHANNEL = 1 << 10
CONNECT = 1 << 20
SPEAK = 1 << 21
ADMINISTRATOR = 1 << 3
ALL_BITS = (1 << 50) - 1
ADD_REACTIONS = 1 << 6
BOT_PERMISSIONS = 0x4_0000_0800 | VIEW_CHANNEL | CONNECT | SPEAK | ADD_REACTIONS
"""What the bot's managed role gets: its invite asks for these (``REQUIRED_PERMISSIONS``)."""


class ChannelType(IntEnum):
    """The channel kinds the fake knows (values are Discord's)."""

    GUILD_TEXT = 0
    DM = 1
    GUILD_VOICE = 2
    PUBLIC_THREAD = 11


class SnowflakeFactory:
    """Makes increasing, Discord-shaped ids (timestamp in the high bits)."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)

    def next(self) -> int:
        """A fresh snowflake."""
        millis = int(time.time() * 1000) - DISCORD_EPOCH_MS
        return (millis << 22) | (next(self._counter) & 0x3FFFFF)


@dataclass
class FakeUser:
    """A Discord user (the bot's own user is one too)."""

    id: int
    username: str
    bot: bool = False


@dataclass
class FakeRole:
    """A guild role; ``permissions`` is Discord's bit field."""

    id: int
    name: str
    permissions: int = 0
    position: int = 0
    bot_id: int | None = None
    """Set for the role Discord creates for a bot (``managed``, tags.bot_id)."""


@dataclass
class FakeOverwrite:
    """A channel permission overwrite for a role (``type`` 0) or a member (``type`` 1)."""

    id: int
    type: int = 0
    allow: int = 0
    deny: int = 0


@dataclass
class FakeChannel:
    """A text, voice, thread or DM channel."""

    id: int
    name: str
    type: ChannelType = ChannelType.GUILD_TEXT
    guild_id: int | None = None
    parent_id: int | None = None
    recipient_id: int | None = None
    overwrites: list[FakeOverwrite] = field(default_factory=list)


@dataclass
class FakeVoiceState:
    """Someone in a guild's voice channel (Discord keeps one per user per guild)."""

    user_id: int
    channel_id: int
    session_id: str


@dataclass
class FakeMember:
    """A user's membership in a guild."""

    user: FakeUser
    role_ids: list[int] = field(default_factory=list)


@dataclass
class FakeGuild:
    """A guild sent to the bot in GUILD_CREATE."""

    id: int
    name: str
    owner_id: int
    roles: list[FakeRole] = field(default_factory=list)
    channels: list[FakeChannel] = field(default_factory=list)
    members: list[FakeMember] = field(default_factory=list)
    voice_states: dict[int, FakeVoiceState] = field(default_factory=dict)
    """Who is in which voice channel, by user id (sent in GUILD_CREATE's ``voice_states``)."""

    def member(self, user_id: int) -> FakeMember:
        """The member with this user id."""
        return next(m for m in self.members if m.user.id == user_id)

    def permissions_of(self, member: FakeMember) -> int:
        """The member's guild-level permissions (everyone role plus its roles)."""
        wanted = {self.id, *member.role_ids}
        bits = 0
        for role in self.roles:
            if role.id in wanted:
                bits |= role.permissions
        return bits

    def permissions_in(self, member: FakeMember, channel: FakeChannel) -> int:
        """The member's permissions in ``channel``, overwrites applied as Discord does.

        Owner and Administrator have everything; then the @everyone overwrite, the
        member's roles' overwrites (denies, then allows) and the member's own overwrite.
        """
        base = self.permissions_of(member)
        if member.user.id == self.owner_id or base & ADMINISTRATOR:
            return ALL_BITS
        by_id = {o.id: o for o in channel.overwrites}
        everyone = by_id.get(self.id)
        if everyone is not None:
            base = (base & ~everyone.deny) | everyone.allow
        allow = deny = 0
        for role_id in member.role_ids:
            overwrite = by_id.get(role_id)
            if overwrite is not None and overwrite.type == 0:
                allow |= overwrite.allow
                deny |= overwrite.deny
        base = (base & ~deny) | allow
        own = by_id.get(member.user.id)
        if own is not None and own.type == 1:
            base = (base & ~own.deny) | own.allow
        return base


@dataclass
class FakeWebhook:
    """A channel webhook (``POST /channels/{id}/webhooks``); executing it posts as anyone."""

    id: int
    token: str
    channel_id: int
    guild_id: int | None
    name: str
    application_id: int | None
    """The application that created it (Discord sets it for bot-created webhooks)."""
    creator_id: int


@dataclass(frozen=True)
class RestCall:
    """One REST request the bot made, as the fake received it."""

    method: str
    route: str
    """The route template, e.g. ``PATCH /channels/{channel}/messages/{message}``."""
    path: str
    query: dict[str, str]
    json: Any
    status: int
    at: float


@dataclass(frozen=True)
class GatewayOp:
    """One gateway payload the bot sent."""

    op: int
    d: Any
    at: float


@dataclass
class StoredMessage:
    """A message as the fake keeps it; ``payload`` is what REST returns for it."""

    id: int
    channel_id: int
    author_id: int
    payload: dict[str, Any]
    edits: int = 0
    visible_to: int | None = None
    """The only user who sees an ephemeral message (flag 64); ``None`` when public."""
    avatar_url: str | None = None
    """The ``avatar_url`` a webhook execution asked for (Discord shows it as the avatar)."""
    allowed_mentions: dict[str, Any] | None = None
    """The ``allowed_mentions`` the message was sent (or its deferred response filled) with."""
    pings: frozenset[str] = frozenset()
    """Whom it notified (see ``mentions.py``): ``"@everyone"``, ``"user:<id>"``, ``"role:<id>"``."""

    @property
    def content(self) -> str:
        """The visible text."""
        return str(self.payload.get("content", ""))


@dataclass
class World:
    """All state of one fake Discord instance."""

    snowflakes: SnowflakeFactory
    application_id: int
    bot_user: FakeUser
    owner: FakeUser
    guilds: list[FakeGuild] = field(default_factory=list)
    users: dict[int, FakeUser] = field(default_factory=dict)
    dm_channels: list[FakeChannel] = field(default_factory=list)
    messages: dict[int, list[StoredMessage]] = field(default_factory=dict)
    global_commands: list[dict[str, Any]] = field(default_factory=list)
    guild_commands: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    command_puts: int = 0
    message_content_allowed: bool = True
    """False: IDENTIFY with the Message Content intent is closed with 4014, as Discord does
    for bots whose privileged intent is not enabled in the developer portal."""
    guilds_without_commands_scope: set[int] = field(default_factory=set)
    """Guilds the bot was invited to without the ``applications.commands`` scope: its
    guild-command routes there answer 403 Missing Access (code 50001), as Discord does."""
    left_guilds: set[int] = field(default_factory=set)
    """Guilds the bot was removed from (kicked): left out of READY, and REST on their
    channels answers 403 Missing Access (code 50001), as Discord does."""
    attachment_size_limit: int = 10 * 1024 * 1024
    """Bytes per uploaded file (Discord's default for bots; interactions report it)."""
    attachments: dict[int, bytes] = field(default_factory=dict)
    """Uploaded files by attachment id, as the CDN would serve them."""
    webhooks: list[FakeWebhook] = field(default_factory=list)
    """Channel webhooks (not interaction tokens), in creation order."""
    echo_bot_messages: bool = True
    """Dispatch MESSAGE_CREATE/UPDATE/DELETE for what the bot and webhooks post, edit and
    delete, as Discord does (a bot sees its own messages and every webhook's)."""
    rest_calls: list[RestCall] = field(default_factory=list)
    gateway_ops: list[GatewayOp] = field(default_factory=list)
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    def channel(self, channel_id: int) -> FakeChannel | None:
        """Find a channel in any guild or the DMs."""
        for guild in self.guilds:
            for channel in guild.channels:
                if channel.id == channel_id:
                    return channel
        return next((c for c in self.dm_channels if c.id == channel_id), None)

    def guild(self, guild_id: int) -> FakeGuild | None:
        """Find a guild by id."""
        return next((g for g in self.guilds if g.id == guild_id), None)

    def webhook(self, webhook_id: int) -> FakeWebhook | None:
        """A channel webhook by id."""
        return next((w for w in self.webhooks if w.id == webhook_id), None)

    def bot_permissions(self, channel_id: int) -> int:
        """The bot's permission bits in a channel (guild level: the fake has no overwrites)."""
        channel = self.channel(channel_id)
        guild = self.guild(channel.guild_id) if channel and channel.guild_id else None
        if guild is None:
            return 0
        return guild.permissions_of(guild.member(self.bot_user.id))

    def grant_bot(self, guild_id: int, permissions: int) -> None:
        """Add permission bits to the bot's managed role in a guild (before the bot connects,
        or followed by a GUILD_ROLE_UPDATE for the bot's cache)."""
        guild = self.guild(guild_id)
        assert guild is not None
        role = next(r for r in guild.roles if r.bot_id == self.bot_user.id)
        role.permissions |= permissions

    def find_message(self, message_id: int) -> StoredMessage | None:
        """Find a stored message in any channel."""
        for stored in self.messages.values():
            for message in stored:
                if message.id == message_id:
                    return message
        return None

    async def notify(self) -> None:
        """Wake every test waiting for a change."""
        async with self.changed:
            self.changed.notify_all()


def build_default_world() -> World:
    """One guild with a text, a voice and a thread channel, a bot and a human with a role."""
    snowflakes = SnowflakeFactory()
    bot = FakeUser(id=snowflakes.next(), username="libra", bot=True)
    owner = FakeUser(id=snowflakes.next(), username="owner")
    alice = FakeUser(id=snowflakes.next(), username="alice")
    guild_id = snowflakes.next()
    text = FakeChannel(id=snowflakes.next(), name="general", guild_id=guild_id)
    voice = FakeChannel(
        id=snowflakes.next(), name="Lounge", type=ChannelType.GUILD_VOICE, guild_id=guild_id
    )
    thread = FakeChannel(
        id=snowflakes.next(),
        name="a thread",
        type=ChannelType.PUBLIC_THREAD,
        guild_id=guild_id,
        parent_id=text.id,
    )
    everyone = FakeRole(id=guild_id, name="@everyone", permissions=0x4_0000_0800)
    moderator = FakeRole(id=snowflakes.next(), name="moderator", permissions=0x2000, position=1)
    # Discord gives every bot a managed role named after it; users often mention it
    # (autocomplete offers it first) instead of the bot user.
    bot_role = FakeRole(id=snowflakes.next(), name=bot.username, permissions=BOT_PERMISSIONS,
                        position=2, bot_id=bot.id)
    guild = FakeGuild(
        id=guild_id,
        name="Test guild",
        owner_id=owner.id,
        roles=[everyone, moderator, bot_role],
        channels=[text, voice, thread],
        members=[
            FakeMember(user=bot, role_ids=[bot_role.id]),
            FakeMember(user=owner),
            FakeMember(user=alice, role_ids=[moderator.id]),
        ],
    )
    dm = FakeChannel(id=snowflakes.next(), name="", type=ChannelType.DM, recipient_id=alice.id)
    return World(
        snowflakes=snowflakes,
        application_id=bot.id,
        bot_user=bot,
        owner=owner,
        guilds=[guild],
        users={u.id: u for u in (bot, owner, alice)},
        dm_channels=[dm],
    )


def add_guild(world: World, name: str) -> FakeChannel:
    """Add another guild (the bot, the owner and every human user are members).

    Call it before the bot connects: READY lists the guilds. Returns its text channel.
    """
    guild_id = world.snowflakes.next()
    text = FakeChannel(id=world.snowflakes.next(), name=f"{name} general", guild_id=guild_id)
    bot = world.bot_user
    everyone = FakeRole(id=guild_id, name="@everyone", permissions=0x4_0000_0800)
    bot_role = FakeRole(id=world.snowflakes.next(), name=bot.username,
                        permissions=BOT_PERMISSIONS, position=1, bot_id=bot.id)
    members = [FakeMember(user=bot, role_ids=[bot_role.id])]
    members += [FakeMember(user=user) for user in world.users.values() if not user.bot]
    world.guilds.append(FakeGuild(id=guild_id, name=name, owner_id=world.owner.id,
                                  roles=[everyone, bot_role], channels=[text], members=members))
    return text
