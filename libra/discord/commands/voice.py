"""``/voice join|leave|status|mode|voice``: Libra in voice channels.

The lifecycle (connecting, moves, leaving when alone, rejoining after a restart) is
:class:`~libra.discord.voice_sessions.VoiceSessions`'s; these commands ask it and say
the outcome in the channel's language. ``mode`` and ``voice`` change guild settings,
so only admins may run them.
"""

from __future__ import annotations

from typing import Any

import hikari
import lightbulb

from libra.chat.messages import user_message
from libra.discord.commands.common import admin_admitted, admitted, language_of
from libra.discord.commands.deferral import defer_if_slow
from libra.discord.deps import DiscordDeps
from libra.discord.voice_sessions import JoinOutcome, VoiceSession, VoiceSessions, failure_text
from libra.errors import VoiceChannelRequired, VoiceError
from libra.storage.api import VoiceMode, VoicePreferences

loader = lightbulb.Loader()
voice = lightbulb.Group("voice", "Libra in voice channels")
loader.command(voice)

MAX_SPEAKERS_SHOWN = 10


async def _sessions(ctx: lightbulb.Context, deps: DiscordDeps) -> VoiceSessions | None:
    """The bot's voice sessions; answers (and returns ``None``) when voice is off here."""
    if deps.voice is not None and deps.settings.voice.enabled and ctx.guild_id is not None:
        return deps.voice
    await ctx.respond(user_message("service_unavailable", await language_of(ctx, deps)),
                      ephemeral=True)
    return None



async def _voice_here(ctx: lightbulb.Context, deps: DiscordDeps, *, admin: bool = False
                      ) -> tuple[VoiceSessions, int, str] | None:
    """Sessions, guild and reply language for an admitted (or admin) caller; else answered."""
    allowed = await (admin_admitted if admin else admitted)(ctx, deps)
    if not allowed or (sessions := await _sessions(ctx, deps)) is None:
        return None
    assert ctx.guild_id is not None
    return sessions, int(ctx.guild_id), await language_of(ctx, deps)


@voice.register
class Join(lightbulb.SlashCommand, name="join",
           description="Join a voice channel (default: the one you are in) and listen"):
    """``/voice join [channel]``."""

    channel = lightbulb.channel("channel", "The voice channel (default: yours)", default=None,
                                channel_types=[hikari.ChannelType.GUILD_VOICE])

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context,
                     deps: DiscordDeps = lightbulb.di.INJECTED) -> None:
        """Join the caller's (or the named) voice channel and say so in its text chat."""
        # Connecting takes a moment: deferred publicly, as the announcement is public.
        async with defer_if_slow(ctx, ephemeral=False):
            if (here := await _voice_here(ctx, deps)) is None:
                return
            sessions, guild_id, language = here
            channel_id = (int(self.channel.id) if self.channel is not None
                          else sessions.voice_channel_of(guild_id, int(ctx.user.id)))
            mention = f"<#{channel_id}>"
            try:
                if channel_id is None:
                    raise VoiceChannelRequired("the caller is in no voice channel",
                                               hint="join one or name it")
                outcome = await sessions.join(
                    guild_id, channel_id, text_channel_id=int(ctx.channel_id),
                    # Run from the voice channel's own chat, this answer is the notice.
                    announce=int(ctx.channel_id) != channel_id)
            except VoiceError as err:
                await ctx.respond(failure_text(err, language, mention), ephemeral=True)
                return
            if outcome is JoinOutcome.ALREADY:
                await ctx.respond(user_message("voice_already_here", language, channel=mention),
                                  ephemeral=True)
                return
            await ctx.respond(user_message("voice_listening", language, channel=mention))


@voice.register
class Leave(lightbulb.SlashCommand, name="leave", description="Leave the voice channel"):
    """``/voice leave``."""

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context,
                     deps: DiscordDeps = lightbulb.di.INJECTED) -> None:
        """Leave this server's voice channel and forget it (no rejoin after a restart)."""
        async with defer_if_slow(ctx, ephemeral=False):
            if (here := await _voice_here(ctx, deps)) is None:
                return
            sessions, guild_id, language = here
            left = await sessions.leave(guild_id)
            if left is None:
                await ctx.respond(user_message("voice_not_joined", language), ephemeral=True)
                return
            await ctx.respond(user_message("voice_left", language, channel=f"<#{left}>"))


@voice.register
class Status(lightbulb.SlashCommand, name="status",
             description="The voice connection, its encryption and what Libra hears"):
    """``/voice status``."""

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context,
                     deps: DiscordDeps = lightbulb.di.INJECTED) -> None:
        """Show the connection, DAVE state, per-speaker packets, loss and decrypt failures."""
        async with defer_if_slow(ctx, ephemeral=True):
            if (here := await _voice_here(ctx, deps)) is None:
                return
            sessions, guild_id, language = here
            session = sessions.get(guild_id)
            if session is None:
                await ctx.respond(user_message("voice_not_joined", language), ephemeral=True)
                return
            preferences = await sessions.preferences(guild_id)
            extra: list[str] = []
            if sessions.conversations is not None:
                extra = sessions.conversations.status_lines(guild_id, language)
            await ctx.respond(status_text(session, preferences, extra), ephemeral=True)


@voice.register
class Mode(lightbulb.SlashCommand, name="mode",
           description="How Libra answers in voice here (admins)"):
    """``/voice mode open|wake-word|off``."""

    mode = lightbulb.string("mode", "open: answer everyone; wake-word: only when named; "
                            "off: listen and transcribe only",
                            choices=[lightbulb.Choice(m.value, m.value) for m in VoiceMode])

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context,
                     deps: DiscordDeps = lightbulb.di.INJECTED) -> None:
        """Store the guild's voice mode."""
        async with defer_if_slow(ctx, ephemeral=False):
            if (here := await _voice_here(ctx, deps, admin=True)) is None:
                return
            sessions, guild_id, language = here
            mode = VoiceMode(self.mode)  # Discord only sends one of the choices
            current = await sessions.preferences(guild_id)
            saved = await sessions.set_preferences(
                guild_id, VoicePreferences(mode=mode, voice=current.voice))
            text = user_message("voice_mode_set", language, mode=mode.value,
                                meaning=user_message(f"voice_mode_{mode.value}", language))
            await ctx.respond(_with_saved_note(text, saved, language))


@voice.register
class Voice(lightbulb.SlashCommand, name="voice",
            description="The voice Libra speaks with here (admins)"):
    """``/voice voice <name>``."""

    name_ = lightbulb.string("name", "A Piper voice, e.g. en_US-joe-medium", max_length=100)

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context,
                     deps: DiscordDeps = lightbulb.di.INJECTED) -> None:
        """Store the guild's voice (checked against the installed ones when known)."""
        async with defer_if_slow(ctx, ephemeral=False):
            if (here := await _voice_here(ctx, deps, admin=True)) is None:
                return
            sessions, guild_id, language = here
            name = self.name_.strip()
            known = (sessions.conversations.known_voices()
                     if sessions.conversations is not None else None)
            if known is not None and name not in known:
                await ctx.respond(user_message("voice_voice_unknown", language, voice=name,
                                               choices=", ".join(sorted(known)) or "-"),
                                  ephemeral=True)
                return
            current = await sessions.preferences(guild_id)
            saved = await sessions.set_preferences(
                guild_id, VoicePreferences(mode=current.mode, voice=name))
            text = user_message("voice_voice_set", language, voice=name)
            await ctx.respond(_with_saved_note(text, saved, language))


def _with_saved_note(text: str, saved: bool, language: str) -> str:
    """``text``, noting when the setting could not be stored (it lasts until a restart)."""
    return text if saved else f"{text}\n{user_message('voice_not_saved', language)}"


def _privacy_code(code: str | None) -> str:
    """The privacy code in groups of five digits, as Discord's clients show it."""
    if not code:
        return "none yet"
    return " ".join(code[i:i + 5] for i in range(0, len(code), 5))


def status_text(session: VoiceSession, preferences: VoicePreferences, extra: list[str]) -> str:
    """``/voice status``: connection, DAVE, per-speaker packets, loss, decrypt failures."""
    snap: dict[str, Any] = session.link.snapshot()
    dave = snap["dave"]
    rtt = snap.get("heartbeat_rtt_ms")
    reconnects = ", ".join(f"{k} {v}" for k, v in sorted(snap["reconnects"].items())) or "none"
    state = "connected" if session.link.is_alive else "closed"
    lines = [
        f"**Voice in <#{session.channel_id}>**",
        f"connection: {state} for {snap['uptime_s']:.0f} s, transport `{snap['mode']}`, "
        f"heartbeat {f'{rtt:.0f} ms' if rtt is not None else 'not measured yet'}, "
        f"reconnects: {reconnects}",
    ]
    if dave["protocol_version"]:
        keyed = "keyed" if dave["can_encrypt"] else "not keyed yet"
        lines.append(f"end-to-end encryption (DAVE): v{dave['protocol_version']}, epoch "
                     f"{dave['epoch']}, {keyed}; privacy code: "
                     f"`{_privacy_code(dave['privacy_code'])}`")
    else:
        lines.append("end-to-end encryption (DAVE): off")
    failures = snap["decrypt_failures"]
    lines.append(
        f"packets: in {snap['packets_in']}, out {snap['packets_out']}; loss "
        f"{snap['loss_ratio']:.1%}; jitter max {snap['jitter_ms_max']} ms; decrypt failures: "
        + (", ".join(f"{k} {v}" for k, v in sorted(failures.items())) if failures else "none"))
    streams = [s for s in snap["streams"] if s.get("user_id") is not None]
    for stream in streams[:MAX_SPEAKERS_SHOWN]:
        lines.append(f"• <@{stream['user_id']}>: {stream['received']} packets, "
                     f"{stream['lost']} lost, jitter {stream['jitter_ms']} ms")
    if len(streams) > MAX_SPEAKERS_SHOWN:
        lines.append(f"• … and {len(streams) - MAX_SPEAKERS_SHOWN} more")
    if not streams:
        lines.append("speakers: nobody heard yet")
    if snap.get("alarms"):
        lines.append("problems: " + ", ".join(snap["alarms"]))
    lines.append(f"mode: {preferences.mode.value}; voice: {preferences.voice or 'default'}")
    lines.extend(extra)
    return "\n".join(lines)
