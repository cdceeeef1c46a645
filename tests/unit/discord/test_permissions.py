"""Allow/block lists, admin checks, the per-user token bucket and guild concurrency."""

from __future__ import annotations

import hikari
import pytest

from libra.config import DiscordSettings
from libra.discord.permissions import (
    AccessPolicy,
    Caller,
    GuildBusy,
    UsageLimiter,
    UserRateLimited,
    is_admin,
)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def caller(**kwargs: object) -> Caller:
    values: dict[str, object] = {"user_id": 1, "channel_id": 10, "guild_id": 100}
    values.update(kwargs)
    return Caller(**values)  # type: ignore[arg-type]


def test_block_and_allow_lists_decide_who_is_ignored() -> None:
    policy = AccessPolicy(DiscordSettings(
        blocked_user_ids=(2,), blocked_guild_ids=(200,), blocked_channel_ids=(20,),
        allowed_role_ids=(7,)))
    assert policy.refusal(caller(role_ids=(7,))) is None
    assert policy.refusal(caller(guild_id=None)) is None, "roles do not apply in DMs"
    assert "blocked" in (policy.refusal(caller(user_id=2, role_ids=(7,))) or "")
    assert "blocked" in (policy.refusal(caller(guild_id=200, role_ids=(7,))) or "")
    assert "blocked" in (policy.refusal(caller(channel_id=20, role_ids=(7,))) or "")
    assert "blocked" in (policy.refusal(
        caller(channel_id=21, parent_channel_id=20, role_ids=(7,))) or ""), "threads inherit"
    assert "allowed_role_ids" in (policy.refusal(caller(role_ids=(8,))) or "")


def test_allowed_lists_exclude_everything_else() -> None:
    policy = AccessPolicy(DiscordSettings(allowed_guild_ids=(100,), allowed_channel_ids=(10,)))
    assert policy.refusal(caller()) is None
    assert policy.refusal(caller(guild_id=101)) is not None
    assert policy.refusal(caller(channel_id=11)) is not None


def test_admins_have_manage_guild_administrator_or_an_admin_role() -> None:
    assert is_admin(hikari.Permissions.MANAGE_GUILD, (), ())
    assert is_admin(hikari.Permissions.ADMINISTRATOR, (), ())
    assert is_admin(hikari.Permissions.SEND_MESSAGES, (5,), (5,))
    assert not is_admin(hikari.Permissions.SEND_MESSAGES | hikari.Permissions.MANAGE_MESSAGES,
                        (4,), (5,))
    assert not is_admin(None, (), ())


async def test_the_token_bucket_allows_a_burst_then_the_rate() -> None:
    clock = Clock()
    limiter = UsageLimiter(DiscordSettings(user_rate_per_minute=6, user_burst=2), clock=clock)
    for _ in range(2):
        async with limiter.reply_slot(1, None):
            pass
    with pytest.raises(UserRateLimited) as refused:
        async with limiter.reply_slot(1, None):
            pass
    assert refused.value.seconds == 10
    async with limiter.reply_slot(2, None):
        pass  # another user has their own bucket
    clock.now = 10.0
    async with limiter.reply_slot(1, None):
        pass


async def test_guild_concurrency_is_released_when_a_reply_ends() -> None:
    limiter = UsageLimiter(DiscordSettings(guild_concurrency=1, user_burst=10))
    async with limiter.reply_slot(1, 100):
        with pytest.raises(GuildBusy):
            async with limiter.reply_slot(2, 100):
                pass
        async with limiter.reply_slot(3, 101):
            pass  # other guilds are unaffected
    async with limiter.reply_slot(2, 100):
        pass


def test_direct_messages_can_be_turned_off_without_touching_servers() -> None:
    on = AccessPolicy(DiscordSettings(allowed_guild_ids=(100,)))
    off = AccessPolicy(DiscordSettings(allowed_guild_ids=(100,), direct_messages=False))
    assert on.refusal(caller(guild_id=None)) is None  # allow-lists filter servers only
    assert "direct messages are off" in (off.refusal(caller(guild_id=None)) or "")
    assert off.refusal(caller()) is None


def test_only_blocked_users_and_guilds_are_refused_silently() -> None:
    policy = AccessPolicy(DiscordSettings(
        blocked_user_ids=(2,), allowed_guild_ids=(100, 200), blocked_guild_ids=(200,),
        allowed_role_ids=(7,), allowed_channel_ids=(10,), blocked_channel_ids=(11,)))
    silent = [caller(user_id=2), caller(guild_id=200), caller(guild_id=300)]
    told = [caller(role_ids=(8,)), caller(channel_id=12, role_ids=(7,)),
            caller(channel_id=11, role_ids=(7,))]
    assert all(getattr(policy.refusal(c), "silent", False) for c in silent)
    assert all(policy.refusal(c) is not None for c in told)
    assert not any(getattr(policy.refusal(c), "silent", True) for c in told)
    assert policy.refusal(caller(guild_id=None, channel_id=99)) is None, (
        "allowed channels filter servers; DMs have direct_messages")
