"""``/privacy export|delete``: a user sees, or erases, everything Libra stores about them.

Both work wherever the user can run them, also where Libra is blocked: the data is
theirs whatever the allow and block lists say. Every answer is ephemeral and in the
user's own Discord language (these messages are for them alone). Deleting needs a
press of a confirmation button that only the caller sees and that works once.
"""

from __future__ import annotations

import gzip
import json
from typing import Any

import hikari
import lightbulb
from loguru import logger

from libra.chat.answer import failure_message
from libra.chat.messages import user_message
from libra.discord.confirmations import CONFIRM_SECONDS, Claim
from libra.discord.deps import DiscordDeps
from libra.errors import LibraError
from libra.events import new_correlation_id

loader = lightbulb.Loader()
privacy = lightbulb.Group("privacy", "See or delete what Libra stores about you")
loader.command(privacy)

BUTTON_PREFIX = "libra:privacy:"
"""Custom ids of the confirmation buttons: ``libra:privacy:<delete|cancel>:<nonce>``."""


def language_of(interaction: hikari.PartialInteraction) -> str:
    """The user's Discord language (``zh-CN`` → ``zh-cn``); no database involved."""
    locale = getattr(interaction, "locale", None)
    return str(locale).lower() if locale else "en"


def export_file(document: dict[str, Any], user_id: int, limit: int) -> tuple[str, bytes]:
    """The export as a file within ``limit`` bytes: JSON, gzipped only when it must be.

    Returns the name and the bytes; the bytes may still exceed ``limit``.
    """
    raw = json.dumps(document, ensure_ascii=False, indent=2).encode()
    name = f"libra-data-{user_id}.json"
    if len(raw) <= limit:
        return name, raw
    return f"{name}.gz", gzip.compress(raw, mtime=0)


def _size(count: int) -> str:
    return f"{count / 1024:.1f} KiB" if count < 1024**2 else f"{count / 1024**2:.1f} MiB"


async def _failed(err: Exception, language: str, what: str) -> str:
    ref = new_correlation_id()
    if isinstance(err, LibraError):
        logger.warning("{} failed: {} ({}) [{}]", what, err.code, err, ref)
    else:
        logger.opt(exception=err).error("{} failed [{}]", what, ref)
    return failure_message(err, language, ref=ref)


@privacy.register
class Export(lightbulb.SlashCommand, name="export",
             description="Get a file of everything Libra stores about you"):
    """``/privacy export``."""

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context,
                     deps: DiscordDeps = lightbulb.di.INJECTED) -> None:
        """Send the caller's data as a JSON file only they see."""
        # Deferred at once: reading the database may take longer than Discord's 3 s.
        await ctx.defer(ephemeral=True)
        language = language_of(ctx.interaction)
        try:
            document = await deps.chat.export_data(ctx.user.id)
        except Exception as err:
            await ctx.respond(await _failed(err, language, "/privacy export"), ephemeral=True)
            return
        if document["user"] is None:
            await ctx.respond(user_message("privacy_export_empty", language), ephemeral=True)
            return
        limit = ctx.interaction.attachment_size_limit
        name, data = export_file(document, ctx.user.id, limit)
        if len(data) > limit:
            await ctx.respond(user_message("privacy_export_too_large", language,
                                           size=_size(len(data)), limit=_size(limit)),
                              ephemeral=True)
            return
        await ctx.respond(user_message("privacy_export_ready", language, size=_size(len(data))),
                          attachment=hikari.Bytes(data, name, mimetype="application/json"),
                          ephemeral=True)


@privacy.register
class Delete(lightbulb.SlashCommand, name="delete",
             description="Delete everything Libra stores about you (asks first)"):
    """``/privacy delete``."""

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context,
                     deps: DiscordDeps = lightbulb.di.INJECTED) -> None:
        """Ask the caller to confirm with a button; nothing is deleted yet."""
        language = language_of(ctx.interaction)
        nonce = deps.erasures.open(ctx.user.id)
        row = (ctx.client.rest.build_message_action_row()
               .add_interactive_button(hikari.ButtonStyle.DANGER, f"{BUTTON_PREFIX}delete:{nonce}",
                                       label=user_message("privacy_button_delete", language))
               .add_interactive_button(hikari.ButtonStyle.SECONDARY,
                                       f"{BUTTON_PREFIX}cancel:{nonce}",
                                       label=user_message("privacy_button_cancel", language)))
        await ctx.respond(user_message("privacy_delete_confirm", language,
                                       minutes=int(CONFIRM_SECONDS // 60)),
                          components=[row], ephemeral=True)


@loader.listener(hikari.InteractionCreateEvent)
async def on_button(event: hikari.InteractionCreateEvent,
                    deps: DiscordDeps = lightbulb.di.INJECTED) -> None:
    """A confirmation button was pressed: delete, cancel, or say why not."""
    interaction = event.interaction
    if (not isinstance(interaction, hikari.ComponentInteraction)
            or not interaction.custom_id.startswith(BUTTON_PREFIX)):
        return
    action, _, nonce = interaction.custom_id.removeprefix(BUTTON_PREFIX).partition(":")
    language = language_of(interaction)
    # Acknowledged before any database work: Discord allows 3 s for the first answer.
    await interaction.create_initial_response(hikari.ResponseType.DEFERRED_MESSAGE_UPDATE)
    claim = deps.erasures.claim(nonce, interaction.user.id)
    if claim is Claim.USED:
        return  # a second press while the first is being handled: its answer stands
    if claim is Claim.NOT_YOURS:
        await interaction.execute(user_message("privacy_not_yours", language),
                                  flags=hikari.MessageFlag.EPHEMERAL)
        return
    if claim is Claim.EXPIRED:
        text = user_message("privacy_delete_expired", language)
    elif action != "delete":
        text = user_message("privacy_delete_cancelled", language)
    else:
        text = await erase(deps, interaction.user.id, language)
    # An edit of a message in the channel: it spends the edit budget that replies
    # streaming there share, so it waits its turn like theirs (a final text: urgent).
    async with deps.pacer.edit(interaction.channel_id, urgent=True):
        await interaction.edit_initial_response(text, components=[])


async def erase(deps: DiscordDeps, user_id: int, language: str) -> str:
    """Delete the user's rows and caches, the bot's own included; the message to show."""
    # The prompts of their public /asks, kept to rebuild reply chains, go first.
    deps.asked.drop_where(lambda _, asked: asked.user_id == user_id)
    try:
        erased = await deps.chat.erase(user_id)
    except Exception as err:
        return await _failed(err, language, "/privacy delete")
    logger.info("erased the data of a user on their request")  # no id: it is theirs too
    return user_message("privacy_deleted" if erased else "privacy_delete_nothing", language)
