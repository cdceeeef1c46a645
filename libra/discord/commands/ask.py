"""``/ask``: answer a prompt, streamed into the deferred interaction response."""

from __future__ import annotations

import hikari
import lightbulb
from loguru import logger

from libra.chat.answer import failure_message
from libra.chat.api import ChatTurn
from libra.discord.commands.common import admitted
from libra.discord.commands.deferral import defer_if_slow
from libra.discord.conversation import Outlet
from libra.discord.deps import AskedPrompt, DiscordDeps
from libra.discord.pacing import EditPacer
from libra.errors import RateLimited

loader = lightbulb.Loader()
WEBHOOK_LIMIT = 5
WEBHOOK_WINDOW = 2.0
"""Requests per seconds an interaction's webhook (its follow-ups and their edits) takes."""


async def stream_answer(
    interaction: hikari.CommandInteraction, deps: DiscordDeps, prompt: str, *, private: bool
) -> None:
    """Answer ``prompt`` by editing the original response (continuations as follow-ups)."""
    flags = hikari.MessageFlag.EPHEMERAL if private else hikari.MessageFlag.NONE
    original: list[hikari.Message] = []
    # Follow-ups are free of the channel's edit budget but not of the webhook's: a long
    # answer arriving at once would post them all in a burst and draw 429s.
    webhook = EditPacer(limit=WEBHOOK_LIMIT, window=WEBHOOK_WINDOW)
    token = interaction.token

    async def send(content: str) -> hikari.Message:
        async with webhook.edit(token):
            if not original:
                message = await interaction.edit_initial_response(
                    content, mentions_everyone=False, user_mentions=False, role_mentions=False)
                original.append(message)
            else:
                message = await interaction.execute(content, flags=flags,
                                                    mentions_everyone=False,
                                                    user_mentions=False, role_mentions=False)
        if not private:
            deps.asked[message.id] = AskedPrompt(interaction.user.id, prompt)
        return message

    async def edit(handle: hikari.Message, content: str) -> None:
        async with webhook.edit(token):
            if original and handle.id == original[0].id:
                await interaction.edit_initial_response(content)
            else:
                await interaction.edit_message(handle, content)

    # The first send fills the deferred response: an edit of @original on the wire.
    outlet: Outlet[hikari.Message] = Outlet(send=send, edit=edit,
                                            channel_id=int(interaction.channel_id),
                                            send_is_edit=lambda: not original)
    turn = ChatTurn(user_id=interaction.user.id, channel_id=interaction.channel_id,
                    guild_id=interaction.guild_id, text=prompt, private=private)
    try:
        async with deps.limiter.reply_slot(turn.user_id, turn.guild_id):
            await deps.responder.answer(turn, outlet)
    except RateLimited as err:
        language = await deps.responder.channel_language(turn.channel_id)
        logger.info("rate limited: {} [{}]", err, turn.correlation_id)
        await deps.responder.say(outlet, failure_message(err, language, ref=turn.correlation_id))


@loader.command
class Ask(lightbulb.SlashCommand, name="ask", description="Ask Libra; the answer streams in"):
    """``/ask prompt [private]``."""

    prompt = lightbulb.string("prompt", "What to ask")
    private = lightbulb.boolean("private", "Only you see the answer", default=False)

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context,
                     deps: DiscordDeps = lightbulb.di.INJECTED) -> None:
        """Defer at once, then stream the answer into the original response."""
        async with defer_if_slow(ctx, ephemeral=self.private):  # a refusal may be slow
            if not await admitted(ctx, deps):
                return
        await ctx.defer(ephemeral=self.private)
        # Held by the plugin so a shutdown cancels it; awaited so errors reach lightbulb.
        await deps.tasks.spawn(
            stream_answer(ctx.interaction, deps, self.prompt, private=self.private),
            name=f"discord:ask:{ctx.interaction.id}")
