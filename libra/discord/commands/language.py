"""``/lang show|set|auto``: the channel's reply language."""

from __future__ import annotations

import lightbulb

from libra.chat.messages import user_message
from libra.discord.commands.common import admitted, language_of
from libra.discord.commands.deferral import defer_if_slow
from libra.discord.deps import DiscordDeps
from libra.errors import UnknownLanguage

loader = lightbulb.Loader()
lang = lightbulb.Group("lang", "The language Libra answers in here")
loader.command(lang)


def _describe(language: str, pinned: bool, model: str) -> str:
    how = "pinned with /lang set" if pinned else "follows the conversation"
    return f"Reply language here: **{language}** ({how}); model: `{model}`."


@lang.register
class Show(lightbulb.SlashCommand, name="show", description="Show the reply language"):
    """``/lang show``."""

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context,
                     deps: DiscordDeps = lightbulb.di.INJECTED) -> None:
        """Show the channel's reply language and its model."""
        async with defer_if_slow(ctx, ephemeral=False):
            if not await admitted(ctx, deps):
                return
            current = await deps.language.current(ctx.channel_id)
            await ctx.respond(_describe(current.language, current.pinned,
                                        deps.language.model_for(current.language)))


@lang.register
class Set(lightbulb.SlashCommand, name="set", description="Always answer in one language here"):
    """``/lang set <language>``."""

    language = lightbulb.string("language", "A language code, e.g. en, ko, ja, zh-cn")

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context,
                     deps: DiscordDeps = lightbulb.di.INJECTED) -> None:
        """Pin the channel's reply language."""
        # Deferred publicly, as the answer is shown: a slow refusal is public too.
        async with defer_if_slow(ctx, ephemeral=False):
            if not await admitted(ctx, deps):
                return
            try:
                pinned = await deps.language.pin(ctx.channel_id, self.language)
            except UnknownLanguage:
                choices = ", ".join(deps.settings.language.languages)
                message = user_message("language_unknown", await language_of(ctx, deps),
                                       name=self.language, choices=choices)
                await ctx.respond(message, ephemeral=True)
                return
            await ctx.respond(_describe(pinned.language, True,
                                        deps.language.model_for(pinned.language)))


@lang.register
class Auto(lightbulb.SlashCommand, name="auto", description="Follow the conversation's language"):
    """``/lang auto``."""

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context,
                     deps: DiscordDeps = lightbulb.di.INJECTED) -> None:
        """Unpin the channel's reply language."""
        async with defer_if_slow(ctx, ephemeral=False):
            if not await admitted(ctx, deps):
                return
            current = await deps.language.pin(ctx.channel_id, None)
            await ctx.respond(_describe(current.language, False,
                                        deps.language.model_for(current.language)))
