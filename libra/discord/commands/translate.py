"""``/translate`` and the **Translate** message context menu.

``/translate text:<text> to:<language> [from:<language>]`` answers in the channel with
the translation and a ``source → target`` badge. **Translate** (right-click a message
→ Apps) translates any message into the invoking user's own language — the one
they chose with ``/lang``, else their Discord language — and only they see it.
Why there is no translation (a failure, "already in Spanish") is for the caller alone,
even when a slow ``/translate`` was already deferred in public.

Both count against the user's rate (the same bucket as questions to Libra): a
translation costs a model call like an answer does.
"""

from __future__ import annotations

import hikari
import lightbulb
from loguru import logger

from libra.chat.answer import failure_message
from libra.discord.commands.common import admitted, language_of
from libra.discord.commands.deferral import defer_if_slow
from libra.discord.deps import DiscordDeps
from libra.errors import (
    LanguageUnknown,
    LibraError,
    TranslationFailed,
    TranslationTooLong,
)
from libra.events import new_correlation_id
from libra.language.names import english_name
from libra.translate.api import ContextMessage, Translation, TranslationOutcome, Translator
from libra.translate.messages import translate_message

loader = lightbulb.Loader()

DISCORD_LIMIT = 2000
"""Characters in one Discord message."""


def badge(result: Translation) -> str:
    """The ``source → target`` line under a translation."""
    return translate_message("badge", source=result.source, target=result.target)


def parts_of(text: str, limit: int = DISCORD_LIMIT) -> list[str]:
    """``text`` in pieces Discord accepts, cut at line ends or spaces where possible."""
    pieces: list[str] = []
    while len(text) > limit:
        cut = max(text.rfind("\n", 0, limit), text.rfind(" ", 0, limit))
        cut = cut if cut > limit // 2 else limit
        pieces.append(text[:cut])
        text = text[cut:].lstrip("\n")
    return [*pieces, text] if text else pieces


def outcome_text(result: Translation, language: str) -> str:
    """What to show for ``result``: the translation with its badge, or why there is none."""
    if result.outcome is TranslationOutcome.NOTHING_TO_TRANSLATE:
        return translate_message("nothing", language)
    if result.outcome is TranslationOutcome.SAME_LANGUAGE:
        return translate_message("same", language, language=english_name(result.target))
    return f"{result.text}\n{badge(result)}"


def unknown_language_text(err: LanguageUnknown, language: str) -> str:
    """The "unknown language" answer, listing every supported one."""
    choices = ", ".join(f"{english_name(c)} (`{c}`)" for c in err.supported)
    return translate_message("unknown_language", language, name=err.name, choices=choices)


async def answer_failure(ctx: lightbulb.Context, deps: DiscordDeps, err: LibraError, *,
                         after_public_defer: bool = False) -> None:
    """Answer a translation that could not be made, in words the user can act on.

    Only the caller sees it; ``after_public_defer``: see :func:`respond_privately`.
    """
    language = await language_of(ctx, deps)
    if isinstance(err, LanguageUnknown):
        text = unknown_language_text(err, language)
    elif isinstance(err, TranslationFailed):
        text = translate_message("failed", language, reason=err.reason)
    elif isinstance(err, TranslationTooLong):
        text = translate_message("too_long", language, length=err.length, limit=err.limit)
    else:
        ref = new_correlation_id()
        logger.info("/{} refused: {} ({}) [{}]", ctx.command_data.name, err.code, err, ref)
        await respond_privately(ctx, failure_message(err, language, ref=ref),
                                after_public_defer=after_public_defer)
        return
    logger.info("/{} refused: {} ({})", ctx.command_data.name, err.code, err)
    await respond_privately(ctx, text, after_public_defer=after_public_defer)


async def respond_privately(ctx: lightbulb.Context, text: str, *,
                            after_public_defer: bool) -> None:
    """Answer ``text`` so that only the caller sees it.

    A deferred response keeps the visibility of the defer: after a public defer the
    first follow-up fills the public "thinking…" message whatever it asks for. So that
    placeholder is deleted first; the follow-up then is a message of its own, and an
    ephemeral one.
    """
    if after_public_defer:
        try:
            await ctx.interaction.delete_initial_response()
        except hikari.HTTPError as err:  # already gone, or Discord refused: still answer
            logger.warning("/{}: the deferred response could not be deleted: {}",
                           ctx.command_data.name, err)
    await respond_long(ctx, text, ephemeral=True)


async def respond_long(ctx: lightbulb.Context, text: str, *, ephemeral: bool) -> None:
    """Respond with ``text``, as several messages when it is over Discord's limit."""
    for piece in parts_of(text):
        await ctx.respond(piece, ephemeral=ephemeral, user_mentions=False, role_mentions=False,
                          mentions_everyone=False)


def translator_of(deps: DiscordDeps) -> Translator | None:
    """The translator, when translation is part of this bot."""
    return deps.translation.translator if deps.translation is not None else None


@loader.command
class Translate(lightbulb.SlashCommand, name="translate",
                description="Translate a text into another language"):
    """``/translate text:<text> to:<language> [from:<language>]``."""

    text = lightbulb.string("text", "What to translate", max_length=4000)
    to = lightbulb.string("to", "The language to translate into (name or code: Korean, ko)")
    source = lightbulb.string("from", "The language of the text (detected when left out)",
                              default=None)

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context,
                     deps: DiscordDeps = lightbulb.di.INJECTED) -> None:
        """Translate and answer with the translation and its badge."""
        result: Translation | None = None
        failure: LibraError | None = None
        async with defer_if_slow(ctx, ephemeral=False):
            if not await admitted(ctx, deps):
                return
            translator = translator_of(deps)
            if translator is None:
                await ctx.respond(translate_message("unavailable", await language_of(ctx, deps)),
                                  ephemeral=True)
                return
            try:
                async with deps.limiter.reply_slot(ctx.user.id, ctx.guild_id):
                    result = await translator.translate(
                        self.text, target=self.to, source=self.source, guild_id=ctx.guild_id,
                        channel_id=ctx.channel_id, user_id=ctx.user.id)
            except LibraError as err:
                failure = err
        # Answered here, once the defer (if any) has settled: whether the answer fills a
        # public placeholder or is a message of its own depends on it.
        deferred = ctx.initial_response_sent.is_set()
        if failure is not None:
            await answer_failure(ctx, deps, failure, after_public_defer=deferred)
            return
        assert result is not None
        text = outcome_text(result, await language_of(ctx, deps))
        if result.translated:
            await respond_long(ctx, text, ephemeral=False)
        else:  # "nothing to translate", "already in Spanish": for the caller only
            await respond_privately(ctx, text, after_public_defer=deferred)


def locale_language(locale: str | None, translator: Translator) -> str | None:
    """A supported language for a Discord locale (``es-ES`` → ``es``), if there is one."""
    if not locale:
        return None
    try:
        return translator.parse_language(str(locale))
    except LanguageUnknown:
        return None


async def context_before(ctx: lightbulb.Context, message: hikari.Message,
                         count: int) -> list[ContextMessage]:
    """The ``count`` messages before ``message`` in its channel, oldest first."""
    if count <= 0:
        return []
    try:
        earlier = await ctx.client.rest.fetch_messages(
            message.channel_id, before=message.id).limit(count)
    except hikari.HTTPError as err:  # no history permission: translate without context
        logger.debug("no context for a translation: {}", err)
        return []
    return [ContextMessage(author=m.author.display_name or m.author.username,
                           text=m.content) for m in reversed(earlier) if m.content]


@loader.command
class TranslateMessage(lightbulb.MessageCommand, name="Translate"):
    """The **Translate** context menu: a message in the caller's own language, for them."""

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context,
                     deps: DiscordDeps = lightbulb.di.INJECTED) -> None:
        """Translate the target message into the caller's language, ephemerally."""
        async with defer_if_slow(ctx, ephemeral=True):
            if not await admitted(ctx, deps):
                return
            translator = translator_of(deps)
            own = str(ctx.interaction.locale or "en")
            if translator is None:
                await ctx.respond(translate_message("unavailable", own), ephemeral=True)
                return
            target = (await translator.preferred_language(ctx.user.id)
                      or locale_language(own, translator)
                      or await language_of(ctx, deps))
            message: hikari.Message = self.target
            if not (message.content or "").strip():
                await ctx.respond(translate_message("empty_message", target), ephemeral=True)
                return
            assert deps.translation is not None
            context = await context_before(ctx, message,
                                           deps.settings.translate.context_messages)
            try:
                async with deps.limiter.reply_slot(ctx.user.id, ctx.guild_id):
                    result = await translator.translate(
                        message.content or "", target=target, guild_id=ctx.guild_id,
                        channel_id=message.channel_id, user_id=ctx.user.id, context=context)
            except LibraError as err:
                await answer_failure(ctx, deps, err)
                return
            await respond_long(ctx, outcome_text(result, target), ephemeral=True)
