"""JSON payloads shaped like Discord's v10 objects, with every field hikari reads.

Ids are strings on the wire, as on Discord. Field lists follow
``shared/docs/fake-discord.md`` (measured against hikari 2.6 / lightbulb 3.2.6).
"""

from __future__ import annotations

import datetime
from typing import Any

from tests.fakes.fake_discord.world import (
    ChannelType,
    FakeChannel,
    FakeGuild,
    FakeMember,
    FakeRole,
    FakeUser,
    FakeVoiceState,
    World,
)

JOINED_AT = "2024-01-01T00:00:00.000000+00:00"


def now_iso() -> str:
    """The current time as Discord writes timestamps."""
    return datetime.datetime.now(tz=datetime.UTC).isoformat()


def user(u: FakeUser) -> dict[str, Any]:
    """A partial user object (as in authors and members)."""
    return {
        "id": str(u.id),
        "username": u.username,
        "discriminator": "0",
        "global_name": None,
        "avatar": None,
        "bot": u.bot,
        "public_flags": 0,
    }


def own_user(u: FakeUser) -> dict[str, Any]:
    """``GET /users/@me`` and READY's user."""
    return {**user(u), "mfa_enabled": False, "flags": 0, "verified": True, "locale": "en-US"}


def application(world: World) -> dict[str, Any]:
    """``GET /oauth2/applications/@me``."""
    return {
        "id": str(world.application_id),
        "name": world.bot_user.username,
        "icon": None,
        "description": "Libra test application",
        "bot_public": True,
        "bot_require_code_grant": False,
        "verify_key": "ab" * 32,
        "flags": 0,
        "owner": user(world.owner),
        "team": None,
        "approximate_guild_count": len(world.guilds),
        "approximate_user_install_count": 0,
        "integration_types_config": {"0": {}, "1": {}},
        "tags": [],
        "bot": user(world.bot_user),
    }


def role(r: FakeRole) -> dict[str, Any]:
    """A guild role."""
    return {
        "id": str(r.id),
        "name": r.name,
        "color": 0,
        "hoist": False,
        "icon": None,
        "unicode_emoji": None,
        "position": r.position,
        "permissions": str(r.permissions),
        "managed": r.bot_id is not None,
        "mentionable": False,
        "flags": 0,
        **({"tags": {"bot_id": str(r.bot_id)}} if r.bot_id is not None else {}),
    }


def channel(c: FakeChannel, world: World) -> dict[str, Any]:
    """A channel object of any supported type."""
    if c.type is ChannelType.DM:
        recipient = world.users[c.recipient_id or 0]
        return {
            "id": str(c.id),
            "type": int(c.type),
            "last_message_id": None,
            "recipients": [user(recipient)],
            "flags": 0,
        }
    payload: dict[str, Any] = {
        "id": str(c.id),
        "type": int(c.type),
        "guild_id": str(c.guild_id),
        "name": c.name,
        "position": 0,
        "permission_overwrites": [
            {"id": str(o.id), "type": o.type, "allow": str(o.allow), "deny": str(o.deny)}
            for o in c.overwrites
        ],
        "parent_id": str(c.parent_id) if c.parent_id else None,
        "nsfw": False,
        "flags": 0,
        "last_message_id": None,
        "rate_limit_per_user": 0,
    }
    if c.type is ChannelType.GUILD_TEXT:
        payload["topic"] = None
    elif c.type is ChannelType.GUILD_VOICE:
        payload |= {"bitrate": 64000, "user_limit": 0, "rtc_region": None}
    elif c.type is ChannelType.PUBLIC_THREAD:
        payload |= {
            "owner_id": str(world.owner.id),
            "member_count": 2,
            "message_count": 0,
            "total_message_sent": 0,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": 1440,
                "archive_timestamp": JOINED_AT,
                "locked": False,
                "create_timestamp": JOINED_AT,
            },
        }
    return payload


def member(m: FakeMember, guild_id: int | None = None) -> dict[str, Any]:
    """A guild member (``guild_id`` only where Discord includes it)."""
    payload: dict[str, Any] = {
        "user": user(m.user),
        "nick": None,
        "avatar": None,
        "roles": [str(r) for r in m.role_ids],
        "joined_at": JOINED_AT,
        "premium_since": None,
        "deaf": False,
        "mute": False,
        "pending": False,
        "flags": 0,
    }
    if guild_id is not None:
        payload["guild_id"] = str(guild_id)
    return payload


def voice_state(state: FakeVoiceState | None, g: FakeGuild, *, user_id: int | None = None,
                with_guild: bool = True) -> dict[str, Any]:
    """A voice state: VOICE_STATE_UPDATE's data, or (``with_guild=False``) one in GUILD_CREATE.

    ``state`` ``None`` with ``user_id``: that user left voice (``channel_id`` null).
    """
    uid = state.user_id if state is not None else user_id
    assert uid is not None
    payload: dict[str, Any] = {
        "channel_id": str(state.channel_id) if state is not None else None,
        "user_id": str(uid),
        "session_id": state.session_id if state is not None else f"voice-gone-{uid}",
        "deaf": False,
        "mute": False,
        "self_deaf": False,
        "self_mute": False,
        "self_video": False,
        "suppress": False,
        "request_to_speak_timestamp": None,
        "member": member(g.member(uid), g.id),
    }
    if with_guild:
        payload["guild_id"] = str(g.id)
    return payload


def guild_create(g: FakeGuild, world: World) -> dict[str, Any]:
    """GUILD_CREATE's data: a full gateway guild."""
    channels = [c for c in g.channels if c.type is not ChannelType.PUBLIC_THREAD]
    threads = [c for c in g.channels if c.type is ChannelType.PUBLIC_THREAD]
    return {
        "id": str(g.id),
        "name": g.name,
        "icon": None,
        "splash": None,
        "discovery_splash": None,
        "banner": None,
        "description": None,
        "owner_id": str(g.owner_id),
        "afk_channel_id": None,
        "afk_timeout": 300,
        "widget_enabled": False,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "features": [],
        "mfa_level": 0,
        "application_id": None,
        "system_channel_id": None,
        "system_channel_flags": 0,
        "rules_channel_id": None,
        "public_updates_channel_id": None,
        "vanity_url_code": None,
        "premium_tier": 0,
        "premium_subscription_count": 0,
        "preferred_locale": "en-US",
        "nsfw_level": 0,
        "max_members": 500000,
        "max_presences": None,
        "max_video_channel_users": 25,
        "roles": [role(r) for r in g.roles],
        "emojis": [],
        "stickers": [],
        "joined_at": JOINED_AT,
        "large": False,
        "unavailable": False,
        "member_count": len(g.members),
        "voice_states": [voice_state(s, g, with_guild=False) for s in g.voice_states.values()],
        "members": [member(m) for m in g.members],
        "channels": [channel(c, world) for c in channels],
        "threads": [channel(c, world) for c in threads],
        "presences": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "premium_progress_bar_enabled": False,
        "safety_alerts_channel_id": None,
    }


def message(
    *,
    message_id: int,
    channel_id: int,
    author: FakeUser,
    content: str,
    guild_id: int | None = None,
    mentions: list[FakeUser] | None = None,
    reference: dict[str, Any] | None = None,
    application_id: int | None = None,
    webhook_id: int | None = None,
) -> dict[str, Any]:
    """A full message object."""
    payload: dict[str, Any] = {
        "id": str(message_id),
        "channel_id": str(channel_id),
        "author": user(author),
        "content": content,
        "timestamp": now_iso(),
        "edited_timestamp": None,
        "tts": False,
        "mention_everyone": False,
        "mentions": [user(u) for u in mentions or []],
        "mention_roles": [],
        "attachments": [],
        "embeds": [],
        "components": [],
        "pinned": False,
        "type": 19 if reference else 0,
        "flags": 0,
    }
    if guild_id is not None:
        payload["guild_id"] = str(guild_id)
    if reference is not None:
        payload["message_reference"] = reference
    if application_id is not None:
        payload["application_id"] = str(application_id)
    if webhook_id is not None:
        payload["webhook_id"] = str(webhook_id)
    return payload


def command(body: dict[str, Any], world: World, guild_id: int | None) -> dict[str, Any]:
    """An application command as Discord echoes it after a PUT."""
    payload = {
        "id": str(world.snowflakes.next()),
        "application_id": str(world.application_id),
        "version": str(world.snowflakes.next()),
        "type": body.get("type", 1),
        "name": body["name"],
        "name_localizations": body.get("name_localizations") or {},
        "description": body.get("description", ""),
        "description_localizations": body.get("description_localizations") or {},
        "options": body.get("options", []),
        "default_member_permissions": body.get("default_member_permissions"),
        "nsfw": body.get("nsfw", False),
        "integration_types": body.get("integration_types") or [0],
        "contexts": body.get("contexts"),
    }
    if guild_id is not None:
        payload["guild_id"] = str(guild_id)
    return payload
