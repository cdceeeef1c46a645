"""Personal opt-in (``/translations me state:on``): a user's messages translated beneath.

When a user who opted in for a channel writes there in another language than the
channel's, Libra replies to their message with its translation into the channel's
language (no ping), in several messages when it is longer than one. A translation
that fails its checks gets a one-line notice instead — never a silent wrong post.
Bots, webhooks and Libra itself are never translated (no loops), and the allow/block
lists apply as for any message.
"""

from __future__ import annotations

import hikari
import lightbulb
from loguru import logger

from libra.discord.deps import DiscordDeps
from libra.discord.permissions import Caller
from libra.discord.render import split_message
from libra.errors import LibraError, RateLimited, TranslationFailed
from libra.language.names import english_name
from libra.translate.api import ContextMessage, TranslationFeature
from libra.translate.messages import translate_message

loader = lightbulb.Loader()

TRANSLATED_TYPES = frozenset({hikari.MessageType.DEFAULT, hikari.MessageType.REPLY})


@loader.listener(hikari.GuildMessageCreateEvent)
async def on_message(event: hikari.GuildMessageCreateEvent,
                     deps: DiscordDeps = lightbulb.di.INJECTED) -> None:
    """Translate the message if its author opted in here (as a held task)."""
    message = event.message
    feature = deps.translation
    if (feature is None or message.author.is_bot or message.webhook_id is not None
            or message.type not in TRANSLATED_TYPES or not (message.content or "").strip()):
        return
    if not feature.translator.worth_translating(message.content or ""):
        return
    member = event.member
    caller = Caller(user_id=message.author.id, channel_id=message.channel_id,
                    guild_id=message.guild_id,
                    role_ids=member.role_ids if member is not None else ())
    if deps.policy.refusal(caller) is not None:
        return
    try:
        if not await feature.opt_in.opted_in(message.author.id, message.channel_id):
            return
    except LibraError as err:  # no database: nobody is opted in that we know of
        logger.debug("opt-in unknown for a message: {}", err)
        return
    deps.tasks.spawn(translate_beneath(event.app.rest, deps, feature, message),
                     name=f"discord:opt-in:{message.id}")


async def translate_beneath(rest: hikari.api.RESTClient, deps: DiscordDeps,
                            feature: TranslationFeature, message: hikari.Message) -> None:
    """Post the message's translation into the channel's language, replying to it."""
    text = message.content or ""
    target = (await deps.language.current(message.channel_id)).language
    if await deps.language.message_language(message.channel_id, text) == target:
        return  # already in the channel's language: the usual case costs no model call
    context = await _context(rest, message, deps.settings.translate.context_messages)
    try:
        async with deps.limiter.reply_slot(message.author.id, message.guild_id):
            result = await feature.translator.translate(
                text, target=target, guild_id=message.guild_id, channel_id=message.channel_id,
                user_id=message.author.id, context=context)
    except RateLimited as err:
        logger.info("opt-in translation skipped: {}", err)
        return
    except TranslationFailed as err:
        logger.info("opt-in translation refused: {}", err.reason)
        content = translate_message("failed_beneath", target, language=english_name(target))
    except LibraError as err:
        logger.warning("opt-in translation failed: {} ({})", err.code, err)
        return
    else:
        if not result.translated:
            return
        content = f"{result.text}\n-# {result.source} → {result.target}"
    try:
        # Longer than one message: parts with code blocks closed and reopened, so the
        # badge (the last line) ends the last part. Only the first replies.
        for index, part in enumerate(split_message(content)):
            await rest.create_message(
                message.channel_id, part, reply=message if index == 0 else hikari.UNDEFINED,
                reply_must_exist=False, mentions_reply=False, mentions_everyone=False,
                user_mentions=False, role_mentions=False)
    except hikari.HTTPError as err:
        logger.warning("could not post an opt-in translation: {}", err)


async def _context(rest: hikari.api.RESTClient, message: hikari.Message,
                   count: int) -> list[ContextMessage]:
    if count <= 0:
        return []
    try:
        earlier = await rest.fetch_messages(message.channel_id, before=message.id).limit(count)
    except hikari.HTTPError:
        return []
    return [ContextMessage(author=m.author.display_name or m.author.username, text=m.content)
            for m in reversed(earlier) if m.content]
