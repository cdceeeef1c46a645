"""``/reset``, ``/stop`` and ``/memory show|remember|forget``."""

from __future__ import annotations

import hikari
import lightbulb

from libra.chat.messages import user_message
from libra.discord.commands.common import admitted, language_of, run_for
from libra.discord.commands.deferral import defer_if_slow
from libra.discord.deps import DiscordDeps
from libra.storage.api import MAX_INTERNAL_ID, Memory, MemoryScope, Place

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
        """List the caller's memories, of every place, with their ids and scopes."""
        async with defer_if_slow(ctx, ephemeral=True):
            items = await run_for(ctx, deps, lambda: deps.chat.memories(ctx.user.id))
            if items is None:
                return
            language = await language_of(ctx, deps)
            if not items:
                await ctx.respond(user_message("memory_none", language), ephemeral=True)
                return
            # Every place's memories: the list is ephemeral, so only their author sees it.
            here = Place.of(ctx.guild_id)
            await ctx.respond(memory_list(
                [f"`#{m.id}` [{scope_label(ctx, m, here, language)}] "
                 f"{m.content[:MEMORY_PREVIEW_CHARS]}" for m in items]), ephemeral=True)


def scope_label(ctx: lightbulb.Context, memory: Memory, here: Place, language: str) -> str:
    """Where ``memory`` is used, said from where the command runs."""
    if memory.scope is not MemoryScope.GUILD:
        return user_message(f"memory_scope_{memory.scope}", language)
    if memory.guild_id == here.guild_id:
        return user_message("memory_scope_this_server", language)
    app = ctx.interaction.app
    guild = (app.cache.get_guild(memory.guild_id)
             if isinstance(app, hikari.CacheAware) and memory.guild_id is not None else None)
    if guild is None:  # the bot left that server, or its cache does not hold it
        return user_message("memory_scope_other_server", language)
    return user_message("memory_scope_server", language, name=guild.name)


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
    scope = lightbulb.string(
        "scope", "Where I may use it: only here (this server, or our DMs), or everywhere",
        choices=[lightbulb.Choice("here", "here"), lightbulb.Choice("everywhere", "everywhere")],
        default="here")

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context,
                     deps: DiscordDeps = lightbulb.di.INJECTED) -> None:
        """Store a memory for the caller, used only here unless they said everywhere."""
        async with defer_if_slow(ctx, ephemeral=True):
            here = Place.of(ctx.guild_id)
            place = Place(MemoryScope.EVERYWHERE) if self.scope == "everywhere" else here
            stored = await run_for(
                ctx, deps, lambda: deps.chat.remember(ctx.user.id, self.text, place=place))
            if stored is None:
                return
            language = await language_of(ctx, deps)
            await ctx.respond(user_message("memory_saved", language, id=stored.id,
                                           scope=scope_label(ctx, stored, here, language)),
                              ephemeral=True)


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
