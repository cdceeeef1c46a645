"""Helpers every slash command uses: access checks, admin checks, localized replies."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import hikari
import lightbulb
from loguru import logger

from libra.chat.answer import failure_message
from libra.chat.messages import user_message
from libra.discord.deps import DiscordDeps
from libra.discord.permissions import Caller, is_admin
from libra.errors import LibraError
from libra.events import new_correlation_id

T = TypeVar("T")

_THREAD_TYPES = frozenset({hikari.ChannelType.GUILD_PUBLIC_THREAD,
                           hikari.ChannelType.GUILD_PRIVATE_THREAD,
                           hikari.ChannelType.GUILD_NEWS_THREAD})


def caller_of(ctx: lightbulb.Context) -> Caller:
    """Who ran the command, where."""
    member = ctx.member
    channel = ctx.interaction.channel
    # A thread answers to its parent's allow/block lists, as for messages; the parent
    # of any other channel is its category, which those lists do not name.
    parent = channel.parent_id if channel.type in _THREAD_TYPES else None
    return Caller(user_id=ctx.user.id, channel_id=ctx.channel_id, guild_id=ctx.guild_id,
                  role_ids=member.role_ids if member is not None else (),
                  parent_channel_id=parent)


async def language_of(ctx: lightbulb.Context, deps: DiscordDeps) -> str:
    """The channel's reply language, for messages about the command."""
    return await deps.responder.channel_language(ctx.channel_id)


async def admitted(ctx: lightbulb.Context, deps: DiscordDeps) -> bool:
    """Apply the allow/block lists; answer (privately) when the caller may not use Libra here."""
    reason = deps.policy.refusal(caller_of(ctx))
    if reason is None:
        return True
    logger.debug("refusing /{} from {}: {}", ctx.command_data.name, ctx.user.id, reason)
    if not reason.silent:
        language = await language_of(ctx, deps)
        await ctx.respond(user_message("permission_denied", language), ephemeral=True)
    return False


async def admin_admitted(ctx: lightbulb.Context, deps: DiscordDeps) -> bool:
    """:func:`admitted`, and the caller is a guild admin (answered when not)."""
    if not await admitted(ctx, deps):
        return False
    member = ctx.member
    permissions = member.permissions if member is not None else None
    role_ids = member.role_ids if member is not None else ()
    if ctx.guild_id is not None and is_admin(permissions, role_ids,
                                             deps.settings.discord.admin_role_ids):
        return True
    language = await language_of(ctx, deps)
    await ctx.respond(user_message("admin_only", language), ephemeral=True)
    return False


async def respond_error(ctx: lightbulb.Context, deps: DiscordDeps, err: LibraError) -> None:
    """Answer a known failure with its localized message."""
    ref = new_correlation_id()
    logger.info("/{} refused: {} ({}) [{}]", ctx.command_data.name, err.code, err, ref)
    language = await language_of(ctx, deps)
    await ctx.respond(failure_message(err, language, ref=ref), ephemeral=True)


async def run_for(ctx: lightbulb.Context, deps: DiscordDeps,
                  action: Callable[[], Awaitable[T]]) -> T | None:
    """Run ``action`` for an admitted caller, answering a known failure for it.

    Returns ``None`` when the caller was refused or ``action`` failed; either way
    the caller has already been answered, so the command just returns.
    """
    if not await admitted(ctx, deps):
        return None
    try:
        return await action()
    except LibraError as err:
        await respond_error(ctx, deps, err)
        return None
