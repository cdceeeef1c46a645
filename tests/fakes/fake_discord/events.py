"""Gateway events a test injects: user messages and interactions, shaped as Discord sends them."""

from __future__ import annotations

import secrets
from typing import Any

from tests.fakes.fake_discord import payloads
from tests.fakes.fake_discord.world import (
    ChannelType,
    FakeChannel,
    FakeUser,
    StoredMessage,
    World,
)

INTERACTION_COMMAND = 2
COMMAND_SLASH, COMMAND_MESSAGE = 1, 3
OPTION_TYPES: dict[type, int] = {str: 3, int: 4, bool: 5, float: 10}
ALL_PERMISSIONS = (1 << 50) - 1


def message_create(
    world: World,
    *,
    author: FakeUser,
    channel: FakeChannel,
    content: str,
    mentions: list[FakeUser] | None = None,
    mention_roles: list[int] | None = None,
    reply_to: int | None = None,
) -> dict[str, Any]:
    """MESSAGE_CREATE data for a user's message (stored, so replies can reference it)."""
    reference = None
    referenced = world.find_message(reply_to) if reply_to is not None else None
    if reply_to is not None:
        reference = {
            "type": 0,
            "message_id": str(reply_to),
            "channel_id": str(channel.id),
            "fail_if_not_exists": False,
        }
        if channel.guild_id is not None:
            reference["guild_id"] = str(channel.guild_id)
    payload = payloads.message(
        message_id=world.snowflakes.next(),
        channel_id=channel.id,
        author=author,
        content=content,
        guild_id=channel.guild_id,
        mentions=mentions,
        reference=reference,
    )
    if mention_roles:
        payload["mention_roles"] = [str(r) for r in mention_roles]
    if referenced is not None:
        payload["referenced_message"] = referenced.payload
    guild = world.guild(channel.guild_id) if channel.guild_id is not None else None
    if guild is not None:
        member = payloads.member(guild.member(author.id))
        member.pop("user")
        payload["member"] = member
    return payload


def with_member(world: World, payload: dict[str, Any], author: FakeUser) -> dict[str, Any]:
    """Add the author's ``member`` (without ``user``), as guild MESSAGE_CREATE/UPDATE carry."""
    guild_id = payload.get("guild_id")
    guild = world.guild(int(guild_id)) if guild_id is not None else None
    if guild is not None and any(m.user.id == author.id for m in guild.members):
        member = payloads.member(guild.member(author.id))
        member.pop("user")
        payload["member"] = member
    return payload


def message_update(world: World, stored: StoredMessage, content: str) -> dict[str, Any]:
    """Edit a stored message's content and return MESSAGE_UPDATE's data.

    Discord sends the whole edited message (with ``edited_timestamp`` and, in a
    guild, the author's ``member``), not only the changed fields.
    """
    stored.payload["content"] = content
    stored.payload["edited_timestamp"] = payloads.now_iso()
    stored.edits += 1
    data = dict(stored.payload)
    if stored.payload.get("webhook_id") is None and (author := world.users.get(stored.author_id)):
        with_member(world, data, author)
    return data


def message_delete(stored: StoredMessage) -> dict[str, Any]:
    """MESSAGE_DELETE's data: only ids (the bot must remember what the message was)."""
    data = {"id": str(stored.id), "channel_id": str(stored.channel_id)}
    if (guild_id := stored.payload.get("guild_id")) is not None:
        data["guild_id"] = str(guild_id)
    return data


def forward_create(
    world: World, *, author: FakeUser, channel: FakeChannel, original: dict[str, Any]
) -> dict[str, Any]:
    """MESSAGE_CREATE data for a forward of ``original`` (a message payload) into ``channel``.

    As Discord sends it: empty content, a reference of type 1 (FORWARD) to the original
    and a snapshot of the original's content (flag HAS_SNAPSHOT).
    """
    reference = {"type": 1, "message_id": original["id"], "channel_id": original["channel_id"]}
    if "guild_id" in original:
        reference["guild_id"] = original["guild_id"]
    payload = payloads.message(
        message_id=world.snowflakes.next(), channel_id=channel.id, author=author, content="",
        guild_id=channel.guild_id, reference=reference)
    payload["type"] = 0  # a forward is an ordinary message, not a reply
    payload["flags"] = 1 << 14
    snapshot = {key: original[key] for key in (
        "type", "content", "embeds", "attachments", "timestamp", "edited_timestamp", "flags",
        "mentions", "mention_roles")}
    payload["message_snapshots"] = [{"message": snapshot}]
    guild = world.guild(channel.guild_id) if channel.guild_id is not None else None
    if guild is not None:
        member = payloads.member(guild.member(author.id))
        member.pop("user")
        payload["member"] = member
    return payload


def _interaction_channel(channel: FakeChannel, world: World) -> dict[str, Any]:
    payload = payloads.channel(channel, world)
    payload["permissions"] = str(ALL_PERMISSIONS)
    return payload


def interaction_create(
    world: World,
    *,
    user: FakeUser,
    channel: FakeChannel,
    data: dict[str, Any],
    locale: str = "en-US",
    kind: int = INTERACTION_COMMAND,
    message: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], str]:
    """INTERACTION_CREATE data for a command (or, with ``message``, a component), and its token."""
    token = f"interaction-{secrets.token_hex(16)}"
    payload: dict[str, Any] = {
        "id": str(world.snowflakes.next()),
        "application_id": str(world.application_id),
        "type": kind,
        "data": data,
        "channel_id": str(channel.id),
        "channel": _interaction_channel(channel, world),
        "token": token,
        "version": 1,
        "locale": locale,
        "app_permissions": str(ALL_PERMISSIONS),
        "attachment_size_limit": world.attachment_size_limit,
        "entitlements": [],
    }
    if message is not None:
        payload["message"] = message
    guild = world.guild(channel.guild_id) if channel.guild_id is not None else None
    if guild is not None:
        member = guild.member(user.id)
        payload["guild_id"] = str(guild.id)
        payload["guild_locale"] = "en-US"
        payload["member"] = payloads.member(member) | {
            "permissions": str(guild.permissions_of(member))
        }
        payload["authorizing_integration_owners"] = {"0": str(guild.id)}
        payload["context"] = 0
    else:
        payload["user"] = payloads.user(user)
        payload["authorizing_integration_owners"] = {"1": str(user.id)}
        payload["context"] = 1 if channel.type is ChannelType.DM else 2
    return payload, token


def command_data(
    world: World, *, name: str, channel: FakeChannel, command_type: int = COMMAND_SLASH
) -> dict[str, Any]:
    """``data`` of a command interaction, using the id the bot registered for ``name``."""
    guild_commands = world.guild_commands.get(channel.guild_id or 0, [])
    registered = next(
        (c for c in guild_commands if c["name"] == name and c["type"] == command_type), None
    )
    data: dict[str, Any] = {"name": name, "type": command_type}
    if registered is not None:
        data["id"] = registered["id"]
        data["guild_id"] = registered["guild_id"]
        return data
    global_command = next(
        (c for c in world.global_commands if c["name"] == name and c["type"] == command_type),
        None,
    )
    if global_command is None:
        msg = f"the bot registered no command {name!r} of type {command_type}"
        raise LookupError(msg)
    data["id"] = global_command["id"]
    return data


OptionValue = str | int | bool | float | FakeChannel
"""A slash option's value; a channel (option type 7) is sent by id and resolved."""


def slash_options(options: dict[str, OptionValue]) -> list[dict[str, Any]]:
    """Interaction options from plain values (type inferred from the Python type)."""
    return [
        {"name": name, "type": 7, "value": str(value.id)} if isinstance(value, FakeChannel)
        else {"name": name, "type": OPTION_TYPES[type(value)], "value": value}
        for name, value in options.items()
    ]


def resolved(options: dict[str, OptionValue], world: World) -> dict[str, Any] | None:
    """``data.resolved`` for the channels among ``options`` (as Discord sends it)."""
    channels = {str(v.id): _interaction_channel(v, world) for v in options.values()
                if isinstance(v, FakeChannel)}
    return {"channels": channels} if channels else None


def message_target(world: World, message_id: int) -> dict[str, Any]:
    """``target_id`` and ``resolved`` of a message context-menu interaction."""
    target = world.find_message(message_id)
    if target is None:
        msg = f"no message {message_id} in the fake"
        raise LookupError(msg)
    return {
        "target_id": str(message_id),
        "resolved": {"messages": {str(message_id): target.payload}},
    }
