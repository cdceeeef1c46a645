"""A member's permissions in a guild channel, computed from hikari's cache as Discord does.

hikari has no calculator of its own, and an interaction's ``app_permissions`` are
Libra's rights in the channel the command came from, not in the voice channel it is
asked to join. Order (Discord's "Permission Overwrites" documentation): the @everyone
role and the member's roles; everything for the owner or an Administrator; then the
channel's @everyone overwrite, the member's roles' overwrites (all denies, then all
allows) and the member's own overwrite.
"""

from __future__ import annotations

import hikari

VOICE_NEEDS: tuple[tuple[hikari.Permissions, str], ...] = (
    (hikari.Permissions.VIEW_CHANNEL, "View Channel"),
    (hikari.Permissions.CONNECT, "Connect"),
    (hikari.Permissions.SPEAK, "Speak"),
)
"""What Libra needs in a voice channel, with the names Discord's settings show."""


def permissions_in(cache: hikari.api.Cache, guild_id: int, channel_id: int,
                   user_id: int) -> hikari.Permissions | None:
    """``user_id``'s permissions in the channel; ``None`` when the cache lacks a part."""
    guild = cache.get_guild(guild_id)
    channel = cache.get_guild_channel(channel_id)
    member = cache.get_member(guild_id, user_id)
    if guild is None or channel is None or member is None:
        return None
    if guild.owner_id == user_id:
        return hikari.Permissions.all_permissions()
    roles = cache.get_roles_view_for_guild(guild_id)
    role_ids = {int(guild_id), *(int(r) for r in member.role_ids)}
    base = hikari.Permissions.NONE
    for role_id in role_ids:
        role = roles.get(hikari.Snowflake(role_id))
        if role is not None:
            base |= role.permissions
    if base & hikari.Permissions.ADMINISTRATOR:
        return hikari.Permissions.all_permissions()
    overwrites = channel.permission_overwrites
    everyone = overwrites.get(hikari.Snowflake(guild_id))
    if everyone is not None:
        base = (base & ~everyone.deny) | everyone.allow
    allow = deny = hikari.Permissions.NONE
    for role_id in role_ids - {int(guild_id)}:
        overwrite = overwrites.get(hikari.Snowflake(role_id))
        if overwrite is not None and overwrite.type is hikari.PermissionOverwriteType.ROLE:
            allow |= overwrite.allow
            deny |= overwrite.deny
    base = (base & ~deny) | allow
    own = overwrites.get(hikari.Snowflake(user_id))
    if own is not None and own.type is hikari.PermissionOverwriteType.MEMBER:
        base = (base & ~own.deny) | own.allow
    return base


def missing_for_voice(permissions: hikari.Permissions) -> tuple[str, ...]:
    """The names of the voice permissions ``permissions`` lacks (empty when none)."""
    return tuple(name for bit, name in VOICE_NEEDS if not permissions & bit)
