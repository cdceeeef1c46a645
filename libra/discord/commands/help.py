"""``/help``: what Libra does and how to talk to it."""

from __future__ import annotations

import lightbulb

from libra.discord.commands.common import admitted
from libra.discord.commands.deferral import defer_if_slow
from libra.discord.deps import DiscordDeps

loader = lightbulb.Loader()

HELP_TEXT = """\
**Libra** answers in your language, streaming as it writes.
**Talk to me**: mention me, reply to one of my messages, DM me, or write in a thread I \
started{chat_channels}.
**Commands**
`/ask prompt [private]` ask something (private: only you see the answer)
`/stop` stop the answer being written in this channel
`/reset` start a fresh conversation here
`/lang show|set|auto` see or pin the reply language here
`/memory show|remember|forget` what I remember about you (here, or everywhere)
`/privacy export|delete` get a file of everything I store about you, or delete it all
`/voice join|leave|status` talk with me in your voice channel, send me away, or check the call
`/voice mode|voice` how and with which voice I answer in voice (server admins)
`/model`, `/stats` model routing and usage (server admins)"""


@loader.command
class Help(lightbulb.SlashCommand, name="help", description="How to use Libra"):
    """``/help``."""

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context,
                     deps: DiscordDeps = lightbulb.di.INJECTED) -> None:
        """Explain the triggers and commands."""
        async with defer_if_slow(ctx, ephemeral=True):
            if not await admitted(ctx, deps):
                return
            chat_channels = deps.settings.discord.chat_channel_ids
            extra = (", or in " + ", ".join(f"<#{c}>" for c in chat_channels)
                     if chat_channels else "")
            await ctx.respond(HELP_TEXT.format(chat_channels=extra), ephemeral=True)
