"""A faithful local fake of Discord's REST API and gateway, for driving the real hikari bot.

Tests start a :class:`FakeDiscord`, point ``hikari.GatewayBot(rest_url=...)`` at it and
assert on what the bot really sent (recorded REST calls and gateway ops) and on what a
user would see (each channel's messages).
"""

from tests.fakes.fake_discord.ratelimit import RateLimiter, RateLimitStats
from tests.fakes.fake_discord.server import FakeDiscord
from tests.fakes.fake_discord.tokens import make_token
from tests.fakes.fake_discord.world import (
    ChannelType,
    FakeChannel,
    FakeGuild,
    FakeMember,
    FakeRole,
    FakeUser,
    GatewayOp,
    RestCall,
    StoredMessage,
    World,
    add_guild,
    build_default_world,
)

__all__ = [
    "ChannelType",
    "FakeChannel",
    "FakeDiscord",
    "FakeGuild",
    "FakeMember",
    "FakeRole",
    "FakeUser",
    "GatewayOp",
    "RateLimitStats",
    "RateLimiter",
    "RestCall",
    "StoredMessage",
    "World",
    "add_guild",
    "build_default_world",
    "make_token",
]
