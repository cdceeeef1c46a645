"""Acknowledging a slash command within Discord's 3 s, however long its work takes.

Discord drops an interaction that is neither answered nor deferred within 3 s ("The
application did not respond"); a database that stopped answering makes a command
wait up to ``database.query_timeout`` (5 s) per query. Deferring every command would
cost each a second request and a "thinking…" flash, so a command answers directly
when it is quick and defers only when it is not.

Use it around a command's whole body (access checks included: even a refusal looks
up the channel's language)::

    async with defer_if_slow(ctx, ephemeral=True):
        ...  # ctx.respond(...) as usual: after a defer it fills the deferred response

``ephemeral`` must say how the command's answer is shown: a deferred response keeps
the visibility of the defer, whatever the answer asks for later.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import hikari
import lightbulb
from loguru import logger

DEFER_AFTER_SECONDS = 1.5
"""How long a command may work before it is deferred.

Half of Discord's 3 s: the rest covers the event's way to the bot, a busy event loop
and the defer request itself.
"""


@contextlib.asynccontextmanager
async def defer_if_slow(
    ctx: lightbulb.Context, *, ephemeral: bool, after: float = DEFER_AFTER_SECONDS
) -> AsyncIterator[None]:
    """Defer the interaction if the block has not answered it within ``after`` seconds.

    An answer already on its way wins: lightbulb serialises responses, so a defer that
    comes second sees the interaction answered and does nothing. A defer already sent
    when the block ends is awaited, never cut off (nobody would know whether Discord
    took it).
    """
    sending = False

    async def defer_later() -> None:
        nonlocal sending
        await asyncio.sleep(after)
        if ctx.initial_response_sent.is_set():
            return
        sending = True
        try:
            await ctx.defer(ephemeral=ephemeral)
        except hikari.HTTPError as err:
            # The answer that follows fails the same way and is reported there.
            logger.warning("/{} could not be deferred: {}", ctx.command_data.name, err)

    timer = asyncio.get_running_loop().create_task(
        defer_later(), name=f"discord:defer:{ctx.interaction.id}")
    try:
        yield
    finally:
        if not sending:
            timer.cancel()
        await asyncio.gather(timer, return_exceptions=True)
