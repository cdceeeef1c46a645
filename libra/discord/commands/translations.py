"""``/translations history|delete|me``: a user's own translations and personal opt-in.

Discord does not let a command with subcommands also run by itself, so these live
beside ``/translate`` under their own name. History and deletion are ephemeral: the
translations are the user's. ``/translations me state:on`` is acted on by
:mod:`libra.discord.translate_optin`.
"""

from __future__ import annotations

import lightbulb

from libra.discord.commands.common import language_of, run_for
from libra.discord.commands.deferral import defer_if_slow
from libra.discord.commands.translate import respond_long
from libra.discord.deps import DiscordDeps
from libra.language.names import english_name
from libra.translate.api import HistoryItem, TranslationFeature
from libra.translate.messages import translate_message

loader = lightbulb.Loader()
translations = lightbulb.Group("translations", "Your translations and automatic translation")
loader.command(translations)

PREVIEW_CHARS = 180
"""Characters of each original and translation shown per history entry."""


def _preview(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= PREVIEW_CHARS else flat[:PREVIEW_CHARS - 1] + "…"


def history_entry(item: HistoryItem) -> str:
    """One translation of a history page."""
    when = f"<t:{int(item.created_at.timestamp())}:R>"
    return (f"**{item.source_language} → {item.target_language}** {when}\n"
            f"> {_preview(item.source_text)}\n{_preview(item.translated_text)}")


@translations.register
class History(lightbulb.SlashCommand, name="history",
              description="Page through your translations, optionally searching them"):
    """``/translations history [query] [page]``."""

    query = lightbulb.string("query", "Only translations containing this", default=None)
    page = lightbulb.integer("page", "Which page (1 = newest)", default=1, min_value=1)

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context,
                     deps: DiscordDeps = lightbulb.di.INJECTED) -> None:
        """Show one page of the caller's history."""
        async with defer_if_slow(ctx, ephemeral=True):
            feature = await feature_of(ctx, deps)
            if feature is None:
                return
            size = deps.settings.translate.history_page_size
            page = await run_for(ctx, deps, lambda: feature.history.history(
                ctx.user.id, query=self.query, page=self.page - 1, page_size=size))
            if page is None:
                return
            language = await language_of(ctx, deps)
            if not page.total:
                key = "history_none_match" if self.query else "history_empty"
                await ctx.respond(translate_message(key, language, query=self.query),
                                  ephemeral=True)
                return
            matching = (translate_message("history_matching", language, query=self.query)
                        if self.query else "")
            lines = [translate_message("history_header", language, total=page.total,
                                       matching=matching, page=page.page + 1,
                                       pages=page.pages)]
            lines += [history_entry(item) for item in page.items]
            if page.page + 1 < page.pages:
                lines.append(translate_message("history_more", language, next=page.page + 2))
            await respond_long(ctx, "\n\n".join(lines), ephemeral=True)


@translations.register
class Delete(lightbulb.SlashCommand, name="delete",
             description="Delete every translation Libra stored for you"):
    """``/translations delete`` (``/privacy delete`` erases them with everything else)."""

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context,
                     deps: DiscordDeps = lightbulb.di.INJECTED) -> None:
        """Delete the caller's translation history."""
        async with defer_if_slow(ctx, ephemeral=True):
            feature = await feature_of(ctx, deps)
            if feature is None:
                return
            count = await run_for(ctx, deps,
                                  lambda: feature.history.delete_history(ctx.user.id))
            if count is None:
                return
            await ctx.respond(translate_message("history_deleted", await language_of(ctx, deps),
                                                count=count), ephemeral=True)


@translations.register
class Me(lightbulb.SlashCommand, name="me",
         description="Translate your own messages here into the channel's language"):
    """``/translations me state:on|off``."""

    state = lightbulb.string("state", "on or off", choices=[
        lightbulb.Choice("on", "on"), lightbulb.Choice("off", "off")])

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context,
                     deps: DiscordDeps = lightbulb.di.INJECTED) -> None:
        """Store the caller's opt-in for this channel."""
        async with defer_if_slow(ctx, ephemeral=True):
            feature = await feature_of(ctx, deps)
            if feature is None:
                return
            on = self.state == "on"
            done = await run_for(ctx, deps, lambda: _set(feature, ctx, on))
            if done is None:
                return
            language = await language_of(ctx, deps)
            text = (translate_message("opt_in_on", language, language=english_name(language))
                    if on else translate_message("opt_in_off", language))
            await ctx.respond(text, ephemeral=True)


async def _set(feature: TranslationFeature, ctx: lightbulb.Context, on: bool) -> bool:
    await feature.opt_in.set_opt_in(ctx.user.id, ctx.channel_id, on, guild_id=ctx.guild_id)
    return True


async def feature_of(ctx: lightbulb.Context, deps: DiscordDeps) -> TranslationFeature | None:
    """The translation parts, or ``None`` after telling the caller they are unavailable."""
    if deps.translation is None:
        await ctx.respond(translate_message("unavailable", await language_of(ctx, deps)),
                          ephemeral=True)
    return deps.translation
