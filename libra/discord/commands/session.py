"""``/reset``, ``/stop`` and ``/memory show|remember|forget``."""

from __future__ import annotations

import lightbulb

from libra.discord.commands.common import admitted, run_for
from libra.discord.commands.deferral import defer_if_slow
from libra.discord.deps import DiscordDeps
from libra.storage.api import MAX_INTERNAL_ID

loader = lightbulb.Loader()
memory = lightbulb.Group("memory", "What Libra remembers about you")
loader.command(memory)

MEMORY_PREVIEW_CHARS = 120
MEMORY_LIST_CHARS = 1900
"""Room for the list in one message, under Discord's 2,000 with the "more" line."""


@loader.command
class Reset(lightbulb.SlashCommand, name="reset", description="Start a fresh conversation here"):
    """``/reset``."""

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context,
                     deps: DiscordDeps = lightbulb.di.INJECTED) -> None:
        """End the caller's session in this channel."""
        async with defer_if_slow(ctx, ephemeral=True):
            if await run_for(ctx, deps,
                             lambda: deps.chat.reset(ctx.user.id, ctx.channel_id)) is None:
                return
            await ctx.respond("Started a fresh conversation: earlier messages here are "
                              "forgotten.", ephemeral=True)


@loader.command
class Stop(lightbulb.SlashCommand, name="stop", description="Stop the answer being written here"):
    """``/stop``."""

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context,
                     deps: DiscordDeps = lightbulb.di.INJECTED) -> None:
        """Stop the replies streaming in this channel (private ones only for their author)."""
        async with defer_if_slow(ctx, ephemeral=True):
            if not await admitted(ctx, deps):
                return
            stopped = await deps.chat.stop(ctx.channel_id, user_id=ctx.user.id)
            await ctx.respond("Stopped." if stopped
                              else "Nothing is being written here right now.", ephemeral=True)


@memory.register
class MemoryShow(lightbulb.SlashCommand, name="show", description="List your memories"):
    """``/memory show``."""

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context,
                     deps: DiscordDeps = lightbulb.di.INJECTED) -> None:
        """List the caller's memories with their ids."""
        async with defer_if_slow(ctx, ephemeral=True):
            items = await run_for(ctx, deps, lambda: deps.chat.memories(ctx.user.id))
            if items is None:
                return
            if not items:
                await ctx.respond("I don't remember anything about you yet.", ephemeral=True)
                return
            await ctx.respond(memory_list(
                [f"`#{m.id}` {m.content[:MEMORY_PREVIEW_CHARS]}" for m in items]),
                ephemeral=True)


def memory_list(lines: list[str]) -> str:
    """As many whole lines as fit in one message, then how many were left out."""
    shown: list[str] = []
    size = 0
    for line in lines:
        size += len(line) + 1
        if size > MEMORY_LIST_CHARS:
            break
        shown.append(line)
    if len(shown) < len(lines):
        shown.append(f"… and {len(lines) - len(shown)} more.")
    return "\n".join(shown)


@memory.register
class MemoryRemember(lightbulb.SlashCommand, name="remember", description="Remember something"):
    """``/memory remember <text>``."""

    text = lightbulb.string("text", "What to remember about you")

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context,
                     deps: DiscordDeps = lightbulb.di.INJECTED) -> None:
        """Store a memory for the caller."""
        async with defer_if_slow(ctx, ephemeral=True):
            stored = await run_for(ctx, deps,
                                   lambda: deps.chat.remember(ctx.user.id, self.text))
            if stored is None:
                return
            await ctx.respond(f"I'll remember that (`#{stored.id}`).", ephemeral=True)


@memory.register
class MemoryForget(lightbulb.SlashCommand, name="forget",
                   description="Forget one memory, or all of them"):
    """``/memory forget [id]``."""

    # Discord's client refuses other numbers; the chat service checks again for the rest.
    memory_id = lightbulb.integer("id", "The memory's number (all when omitted)", default=None,
                                  min_value=1, max_value=MAX_INTERNAL_ID)

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context,
                     deps: DiscordDeps = lightbulb.di.INJECTED) -> None:
        """Forget the caller's memories."""
        async with defer_if_slow(ctx, ephemeral=True):
            count = await run_for(ctx, deps,
                                  lambda: deps.chat.forget(ctx.user.id, self.memory_id))
            if count is None:
                return
            await ctx.respond(f"Forgotten: {count} memor{'y' if count == 1 else 'ies'}.",
                              ephemeral=True)
