"""``/autotranslate link|unlink|show|on|off``: linked and auto-translated channels (admins).

``link channel:<#> language:<code> [here:<code>]`` adds ``channel`` (written in
``language``) to this channel's group, creating the group when this channel has none
(``here`` is this channel's language, by default its reply language). ``on
languages:<codes>`` makes this channel auto-translated: each message gets its
translations in those languages beneath it. ``unlink``/``off`` take this channel out.
Each linked channel's reply language is pinned to its language, so Libra answers
there in it too.
"""

from __future__ import annotations

import contextlib
import re
from typing import TYPE_CHECKING

import hikari
import lightbulb

from libra.discord.commands.common import admin_admitted, language_of, respond_error
from libra.discord.commands.deferral import defer_if_slow
from libra.discord.deps import DiscordDeps
from libra.errors import LibraError, UnknownLanguage
from libra.translate.api import TranslationFeature
from libra.translate.links import GroupKind, TranslationGroup
from libra.translate.messages import translate_message

if TYPE_CHECKING:
    from libra.discord.translate_relay import TranslationRelay

loader = lightbulb.Loader()
group = lightbulb.Group("autotranslate", "Linked and auto-translated channels (admins)")
loader.command(group)

def describe(group: TranslationGroup, language: str = "en") -> str:
    """One line per channel of a group, in ``language``."""
    if group.kind is GroupKind.AUTO:
        channel = group.channels[0]
        return translate_message(
            "links_auto", language, channel=f"<#{channel.channel_id}>",
            languages=", ".join(f"`{lang}`" for lang in channel.languages))
    lines = [translate_message("links_header", language)]
    lines += [f"- <#{c.channel_id}>: `{c.languages[0]}`" for c in group.channels]
    return "\n".join(lines)


async def _say(ctx: lightbulb.Context, deps: DiscordDeps, key: str) -> None:
    """Answer privately with the message ``key`` in the channel's language."""
    await ctx.respond(translate_message(key, await language_of(ctx, deps)), ephemeral=True)


async def _admin_relay(ctx: lightbulb.Context, deps: DiscordDeps) -> TranslationRelay | None:
    """The relay for an admin caller; answers (and returns ``None``) otherwise."""
    if not await admin_admitted(ctx, deps):
        return None
    if deps.relay is None:
        await _say(ctx, deps, "links_not_set_up")
    return deps.relay


async def _admin_linking(ctx: lightbulb.Context, deps: DiscordDeps
                         ) -> tuple[TranslationRelay, TranslationFeature, int] | None:
    """Relay, translation and guild for an admin linking channels; answers when not set up."""
    if not await admin_admitted(ctx, deps):
        return None
    if deps.relay is None or deps.translation is None or ctx.guild_id is None:
        await _say(ctx, deps, "links_not_set_up")
        return None
    return deps.relay, deps.translation, int(ctx.guild_id)


async def _webhook_note(deps: DiscordDeps, group: TranslationGroup, language: str) -> str:
    """What the admin should know when webhooks are not permitted (said here, once)."""
    relay = deps.relay
    if relay is None or group.kind is GroupKind.AUTO:
        return ""
    refused = [c.channel_id for c in group.channels
               if not await relay.webhooks.may_use(c.channel_id)]
    if not refused:
        return ""
    where = ", ".join(f"<#{c}>" for c in refused)
    return "\n" + translate_message("links_no_webhooks", language, channels=where)


@group.register
class Link(lightbulb.SlashCommand, name="link",
           description="Link another channel to this one; messages cross, translated"):
    """``/autotranslate link``."""

    channel = lightbulb.channel("channel", "The channel to link to this one",
                                channel_types=[hikari.ChannelType.GUILD_TEXT])
    language = lightbulb.string("language", "The language written there, e.g. ko")
    here = lightbulb.string("here", "The language written in this channel (default: its "
                            "reply language)", default=None)

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context,
                     deps: DiscordDeps = lightbulb.di.INJECTED) -> None:
        """Link ``channel`` into this channel's group."""
        async with defer_if_slow(ctx, ephemeral=True):
            if (ready := await _admin_linking(ctx, deps)) is None:
                return
            relay, translation, guild_id = ready
            other = int(self.channel.id)
            if other == ctx.channel_id:
                await _say(ctx, deps, "link_pick_other")
                return
            try:
                language = translation.translator.parse_language(self.language)
                here = (translation.translator.parse_language(self.here) if self.here
                        else (await deps.language.current(ctx.channel_id)).language)
                linked = await relay.store.link(
                    guild_id, other, language, to=ctx.channel_id, to_language=here,
                    by=int(ctx.user.id))
                for entry in linked.channels:
                    await _pin(deps, entry.channel_id, entry.languages[0])
            except LibraError as err:
                await respond_error(ctx, deps, err)
                return
            relay.invalidate()
            said = await language_of(ctx, deps)
            await ctx.respond(describe(linked, said) + await _webhook_note(deps, linked, said),
                              ephemeral=True)


async def _pin(deps: DiscordDeps, channel_id: int, language: str) -> None:
    # Translation may know more languages than replies do: the link stands regardless.
    with contextlib.suppress(UnknownLanguage):
        await deps.language.pin(channel_id, language)


@group.register
class On(lightbulb.SlashCommand, name="on",
         description="Post translations beneath every message here"):
    """``/autotranslate on``."""

    languages = lightbulb.string("languages", "Languages written here, e.g. en ko ja")

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context,
                     deps: DiscordDeps = lightbulb.di.INJECTED) -> None:
        """Make this channel auto-translated."""
        async with defer_if_slow(ctx, ephemeral=True):
            if (ready := await _admin_linking(ctx, deps)) is None:
                return
            relay, translation, guild_id = ready
            try:
                names = [n for n in re.split(r"[\s,]+", self.languages) if n]
                parse = translation.translator.parse_language
                codes = list(dict.fromkeys(parse(n) for n in names))
                if len(codes) < 2:
                    await _say(ctx, deps, "auto_needs_two")
                    return
                made = await relay.store.set_auto(guild_id, ctx.channel_id, codes,
                                                       by=int(ctx.user.id))
            except LibraError as err:
                await respond_error(ctx, deps, err)
                return
            relay.invalidate()
            await ctx.respond(describe(made, await language_of(ctx, deps)), ephemeral=True)


async def _unlink(ctx: lightbulb.Context, deps: DiscordDeps) -> None:
    async with defer_if_slow(ctx, ephemeral=True):
        if (relay := await _admin_relay(ctx, deps)) is None:
            return
        try:
            before = await relay.store.unlink(ctx.channel_id)
        except LibraError as err:
            await respond_error(ctx, deps, err)
            return
        relay.invalidate()
        await _say(ctx, deps, "links_none" if before is None else "links_removed")


@group.register
class Unlink(lightbulb.SlashCommand, name="unlink",
             description="Take this channel out of its linked channels"):
    """``/autotranslate unlink``."""

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context,
                     deps: DiscordDeps = lightbulb.di.INJECTED) -> None:
        """Unlink this channel."""
        await _unlink(ctx, deps)


@group.register
class Off(lightbulb.SlashCommand, name="off", description="Stop translating this channel"):
    """``/autotranslate off``."""

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context,
                     deps: DiscordDeps = lightbulb.di.INJECTED) -> None:
        """Stop auto-translating this channel."""
        await _unlink(ctx, deps)


@group.register
class Show(lightbulb.SlashCommand, name="show",
           description="Show this channel's linked channels"):
    """``/autotranslate show``."""

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context,
                     deps: DiscordDeps = lightbulb.di.INJECTED) -> None:
        """Describe this channel's group."""
        async with defer_if_slow(ctx, ephemeral=True):
            if (relay := await _admin_relay(ctx, deps)) is None:
                return
            relay.invalidate()
            current = await relay.group_of(ctx.channel_id)
            if current is None:
                await _say(ctx, deps, "links_none")
                return
            said = await language_of(ctx, deps)
            await ctx.respond(describe(current, said)
                              + await _webhook_note(deps, current, said), ephemeral=True)
