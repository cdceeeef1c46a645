"""``/glossary add|remove|list``: this server's glossary and do-not-translate list.

``add term:<term>`` alone: the term is never translated (a name, a product). With
``translation:<text>`` (and optionally ``language:``) the term becomes that text in
translations (into that language only, or into every language). Adding and removing
are for server admins; anyone may list.
"""

from __future__ import annotations

import lightbulb

from libra.discord.commands.common import admin_admitted, admitted, language_of, run_for
from libra.discord.commands.deferral import defer_if_slow
from libra.discord.commands.translate import answer_failure, respond_long
from libra.discord.commands.translations import feature_of
from libra.discord.deps import DiscordDeps
from libra.errors import LanguageUnknown
from libra.language.names import english_name
from libra.translate.api import GlossaryEntry, TranslationFeature
from libra.translate.messages import translate_message

loader = lightbulb.Loader()
glossary = lightbulb.Group("glossary", "Terms translations keep or translate a fixed way")
loader.command(glossary)


async def _in_guild(ctx: lightbulb.Context, deps: DiscordDeps) -> bool:
    if ctx.guild_id is not None:
        return True
    await ctx.respond(translate_message("glossary_only_guild", await language_of(ctx, deps)),
                      ephemeral=True)
    return False



async def _admin_feature(ctx: lightbulb.Context, deps: DiscordDeps
                         ) -> tuple[TranslationFeature, int] | None:
    """Translation parts and guild for a server admin; answers (``None``) anyone else."""
    if not await _in_guild(ctx, deps) or not await admin_admitted(ctx, deps):
        return None
    feature = await feature_of(ctx, deps)
    if feature is None or ctx.guild_id is None:
        return None
    return feature, int(ctx.guild_id)


async def _language_code(ctx: lightbulb.Context, deps: DiscordDeps,
                         feature: TranslationFeature, name: str | None
                         ) -> tuple[bool, str | None]:
    """``(ok, code)`` of an optional language option; ``ok`` is false once a bad one is answered."""
    if not name:
        return True, None
    try:
        return True, feature.translator.parse_language(name)
    except LanguageUnknown as err:
        await answer_failure(ctx, deps, err)
        return False, None


def entry_line(entry: GlossaryEntry) -> str:
    """One glossary entry as listed."""
    if entry.keep:
        return f"- **{entry.term}** — {translate_message('glossary_keep')}"
    where = english_name(entry.language) if entry.language else translate_message(
        "every_language")
    return f"- **{entry.term}** → **{entry.rendering}** ({where})"


@glossary.register
class Add(lightbulb.SlashCommand, name="add", description="Add a term (admins)"):
    """``/glossary add term:<term> [translation:<text>] [language:<language>]``."""

    term = lightbulb.string("term", "The word or phrase", max_length=100)
    translation = lightbulb.string("translation", "What it becomes (leave out: never "
                                   "translate it)", default=None, max_length=100)
    language = lightbulb.string("language", "Only in translations into this language",
                                default=None)

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context,
                     deps: DiscordDeps = lightbulb.di.INJECTED) -> None:
        """Add or replace the entry."""
        async with defer_if_slow(ctx, ephemeral=True):
            if (admin := await _admin_feature(ctx, deps)) is None:
                return
            feature, guild_id = admin
            ok, code = await _language_code(ctx, deps, feature,
                                            self.language if self.translation else None)
            if not ok:
                return
            entry = GlossaryEntry(term=self.term, rendering=self.translation, language=code,
                                  created_by=ctx.user.id)
            saved = await run_for(ctx, deps, lambda: feature.glossary.add(guild_id, entry))
            if saved is None:
                return
            language = await language_of(ctx, deps)
            if saved.keep:
                text = translate_message("glossary_added_keep", language, term=saved.term)
            else:
                where = (english_name(saved.language) if saved.language
                         else translate_message("every_language", language))
                text = translate_message("glossary_added", language, term=saved.term,
                                         rendering=saved.rendering, language=where)
            await ctx.respond(text, ephemeral=True)


@glossary.register
class Remove(lightbulb.SlashCommand, name="remove", description="Remove a term (admins)"):
    """``/glossary remove term:<term> [language:<language>]``."""

    term = lightbulb.string("term", "The word or phrase", max_length=100)
    language = lightbulb.string("language", "Only its entry for this language", default=None)

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context,
                     deps: DiscordDeps = lightbulb.di.INJECTED) -> None:
        """Remove the term's entries."""
        async with defer_if_slow(ctx, ephemeral=True):
            if (admin := await _admin_feature(ctx, deps)) is None:
                return
            feature, guild_id = admin
            ok, code = await _language_code(ctx, deps, feature, self.language)
            if not ok:
                return
            count = await run_for(ctx, deps,
                                  lambda: feature.glossary.remove(guild_id, self.term, code))
            if count is None:
                return
            await ctx.respond(translate_message("glossary_removed", await language_of(ctx, deps),
                                                count=count, term=self.term), ephemeral=True)


@glossary.register
class List(lightbulb.SlashCommand, name="list", description="Show this server's glossary"):
    """``/glossary list``."""

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context,
                     deps: DiscordDeps = lightbulb.di.INJECTED) -> None:
        """List the entries."""
        async with defer_if_slow(ctx, ephemeral=True):
            if not await _in_guild(ctx, deps) or not await admitted(ctx, deps):
                return
            feature = await feature_of(ctx, deps)
            if feature is None or ctx.guild_id is None:
                return
            guild_id = ctx.guild_id
            entries = await run_for(ctx, deps, lambda: feature.glossary.entries(guild_id))
            if entries is None:
                return
            language = await language_of(ctx, deps)
            if not entries:
                await ctx.respond(translate_message("glossary_empty", language), ephemeral=True)
                return
            lines = [translate_message("glossary_header", language, count=len(entries))]
            lines += [entry_line(e) for e in entries]
            await respond_long(ctx, "\n".join(lines), ephemeral=True)
