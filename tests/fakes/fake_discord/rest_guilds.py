"""Fake REST routes for guilds, members, roles and DM channels."""

from __future__ import annotations

from aiohttp import web

from tests.fakes.fake_discord import payloads
from tests.fakes.fake_discord.rest import API_PREFIX, JSON_BODY, ctx_of, error
from tests.fakes.fake_discord.world import ChannelType, FakeChannel, FakeGuild


def _guild_or_404(request: web.Request) -> FakeGuild | web.Response:
    guild = ctx_of(request).world.guild(int(request.match_info["guild"]))
    return guild if guild is not None else error(404, "Unknown Guild", 10004)


async def get_guild(request: web.Request) -> web.Response:
    """``GET /guilds/{guild}``."""
    guild = _guild_or_404(request)
    if isinstance(guild, web.Response):
        return guild
    world = ctx_of(request).world
    payload = payloads.guild_create(guild, world)
    for gateway_only in ("members", "channels", "threads", "presences", "voice_states"):
        payload.pop(gateway_only)
    return web.json_response(payload)


async def get_member(request: web.Request) -> web.Response:
    """``GET /guilds/{guild}/members/{user}``."""
    guild = _guild_or_404(request)
    if isinstance(guild, web.Response):
        return guild
    user_id = int(request.match_info["user"])
    member = next((m for m in guild.members if m.user.id == user_id), None)
    if member is None:
        return error(404, "Unknown Member", 10007)
    return web.json_response(payloads.member(member))


async def list_members(request: web.Request) -> web.Response:
    """``GET /guilds/{guild}/members``."""
    guild = _guild_or_404(request)
    if isinstance(guild, web.Response):
        return guild
    return web.json_response([payloads.member(m) for m in guild.members])


async def list_roles(request: web.Request) -> web.Response:
    """``GET /guilds/{guild}/roles``."""
    guild = _guild_or_404(request)
    if isinstance(guild, web.Response):
        return guild
    return web.json_response([payloads.role(r) for r in guild.roles])


async def list_channels(request: web.Request) -> web.Response:
    """``GET /guilds/{guild}/channels`` (threads are not listed, as on Discord)."""
    guild = _guild_or_404(request)
    if isinstance(guild, web.Response):
        return guild
    world = ctx_of(request).world
    return web.json_response(
        [
            payloads.channel(c, world)
            for c in guild.channels
            if c.type is not ChannelType.PUBLIC_THREAD
        ]
    )


async def create_dm(request: web.Request) -> web.Response:
    """``POST /users/@me/channels``: open (or reuse) a DM with a user."""
    world = ctx_of(request).world
    recipient = int((request[JSON_BODY] or {}).get("recipient_id", 0))
    if recipient not in world.users:
        return error(400, "Unknown User", 10013)
    channel = next((c for c in world.dm_channels if c.recipient_id == recipient), None)
    if channel is None:
        channel = FakeChannel(
            id=world.snowflakes.next(), name="", type=ChannelType.DM, recipient_id=recipient
        )
        world.dm_channels.append(channel)
    return web.json_response(payloads.channel(channel, world))


def add_guild_routes(router: web.UrlDispatcher) -> None:
    """Guild, member, role and DM routes."""
    guild = f"{API_PREFIX}/guilds/{{guild}}"
    router.add_get(guild, get_guild)
    router.add_get(f"{guild}/members", list_members)
    router.add_get(f"{guild}/members/{{user}}", get_member)
    router.add_get(f"{guild}/roles", list_roles)
    router.add_get(f"{guild}/channels", list_channels)
    router.add_post(f"{API_PREFIX}/users/@me/channels", create_dm)
