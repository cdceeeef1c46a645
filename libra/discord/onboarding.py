"""What an operator needs to connect Libra to Discord: token steps, invite URL, intents.

Printed by ``libra run`` when no token is configured, and logged when Discord refuses
the privileged *Message Content* intent (gateway close code 4014).
"""

from __future__ import annotations

import functools
import operator
import re

import hikari

from libra.config import DiscordSettings
from libra.errors import PluginError

PORTAL_URL = "https://discord.com/developers/applications"
INVITE_SCOPES = ("bot", "applications.commands")
DISALLOWED_INTENTS_CLOSE_CODE = 4014
AUTHENTICATION_FAILED_CLOSE_CODE = 4004
_GUILD_IN_URL = re.compile(r"/guilds/(\d+)/")

REQUIRED_PERMISSIONS = functools.reduce(
    operator.or_,
    (
        hikari.Permissions.VIEW_CHANNEL,
        hikari.Permissions.SEND_MESSAGES,
        hikari.Permissions.SEND_MESSAGES_IN_THREADS,
        hikari.Permissions.CREATE_PUBLIC_THREADS,
        hikari.Permissions.READ_MESSAGE_HISTORY,
        hikari.Permissions.ADD_REACTIONS,
        hikari.Permissions.EMBED_LINKS,
        hikari.Permissions.ATTACH_FILES,
        hikari.Permissions.CONNECT,
        hikari.Permissions.SPEAK,
        hikari.Permissions.USE_VOICE_ACTIVITY,
    ),
)
"""Everything Libra does in a guild: read and answer text, threads, files, voice, and
react ⚠️ to a message whose translation failed (linked channels)."""


def intents_for(settings: DiscordSettings) -> hikari.Intents:
    """The gateway intents Libra asks for; Message Content only when configured."""
    intents = (
        hikari.Intents.GUILDS
        | hikari.Intents.GUILD_MESSAGES
        | hikari.Intents.DM_MESSAGES
        | hikari.Intents.GUILD_VOICE_STATES
    )
    if settings.message_content:
        intents |= hikari.Intents.MESSAGE_CONTENT
    return intents


def invite_url(application_id: int | str = "YOUR_APPLICATION_ID") -> str:
    """The OAuth2 URL that adds the bot to a server with the permissions it needs."""
    scopes = "%20".join(INVITE_SCOPES)
    return (
        "https://discord.com/oauth2/authorize"
        f"?client_id={application_id}&scope={scopes}&permissions={int(REQUIRED_PERMISSIONS)}"
    )


def missing_token_instructions() -> str:
    """Step-by-step setup for an operator who has not configured a bot token yet."""
    return f"""\
Libra needs a Discord bot token to run, and none is configured.

1. Open {PORTAL_URL} and click "New Application"; give it a name (e.g. Libra).
2. In "Bot", click "Reset Token" and copy the token (it is shown once).
3. Give it to Libra, either as an environment variable:
       export DISCORD_TOKEN='paste-the-token-here'
   or in a file only you can read:
       export DISCORD_TOKEN_FILE=/run/secrets/discord_token
4. Still in "Bot", under "Privileged Gateway Intents", enable "Message Content Intent"
   (Libra reads messages that mention it). To run without it, set
   LIBRA_DISCORD__MESSAGE_CONTENT=false; then only slash commands and DMs work.
5. Invite the bot to your server (replace YOUR_APPLICATION_ID with the
   "Application ID" from "General Information"):
       {invite_url()}
   Scopes: {" ".join(INVITE_SCOPES)}; permissions integer: {int(REQUIRED_PERMISSIONS)}
   (view channels, send messages, send messages in threads, create public threads,
   read message history, embed links, attach files, connect, speak, use voice activity).
6. Start it again: libra run

To try Libra without Discord, run: libra chat
"""


def disallowed_intents_explanation() -> str:
    """What to do when Discord closes the gateway with 4014 (disallowed intents)."""
    return (
        "Discord refused the privileged Message Content intent (close code 4014). "
        f"Enable it at {PORTAL_URL} -> your application -> Bot -> Privileged Gateway "
        "Intents -> 'Message Content Intent', or run without it by setting "
        "LIBRA_DISCORD__MESSAGE_CONTENT=false (then Libra answers slash commands and DMs)."
    )


def is_disallowed_intents(err: BaseException) -> bool:
    """True when ``err`` is the gateway closing with 4014."""
    code = getattr(err, "code", None)
    return isinstance(err, hikari.GatewayServerClosedConnectionError) and (
        code is not None and int(code) == DISALLOWED_INTENTS_CLOSE_CODE
    )


def commands_refused(err: hikari.ForbiddenError, application_id: int | None) -> PluginError:
    """Why a 403 on command sync happened and how to fix it, naming the guild.

    Discord answers *Missing Access* on a guild's commands when the bot was invited
    without the ``applications.commands`` scope, or is not in that guild at all.
    """
    match = _GUILD_IN_URL.search(err.url)
    if match is None:
        return PluginError(f"Discord refused to register the slash commands: {err.message}",
                           hint="re-invite the bot with the applications.commands scope: "
                                + invite_url(application_id or "YOUR_APPLICATION_ID"))
    guild = match.group(1)
    return PluginError(
        f"Discord refused to register slash commands in guild {guild} ({err.message}): the bot "
        "is not in that server, or was invited without the applications.commands scope",
        hint=f"re-invite it with {invite_url(application_id or 'YOUR_APPLICATION_ID')} or "
             "remove the guild from discord.guild_ids")
