"""``FakeDiscord``: the server object tests start, configure, drive and inspect."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from tests.fakes.fake_discord import components, events, payloads
from tests.fakes.fake_discord.gateway import GatewaySession, VoiceEndpoint
from tests.fakes.fake_discord.gateway_limits import GatewayLimits
from tests.fakes.fake_discord.ratelimit import RateLimiter
from tests.fakes.fake_discord.rest import (
    API_PREFIX,
    CONTEXT_KEY,
    RestContext,
    add_bootstrap_routes,
    record_and_limit,
)
from tests.fakes.fake_discord.rest_guilds import add_guild_routes
from tests.fakes.fake_discord.rest_messages import add_message_routes
from tests.fakes.fake_discord.tokens import make_token
from tests.fakes.fake_discord.webhooks import add_webhook_routes
from tests.fakes.fake_discord.world import (
    FakeChannel,
    FakeUser,
    FakeVoiceState,
    GatewayOp,
    RestCall,
    StoredMessage,
    World,
    build_default_world,
)


class FakeDiscord:
    """A local Discord: REST under ``/api/v10`` and a gateway websocket on 127.0.0.1."""

    def __init__(
        self,
        world: World | None = None,
        *,
        heartbeat_interval_ms: int = 41_250,
        edit_limit: int = 5,
        edit_window: float = 5.0,
        interaction_deadline: float = 3.0,
        token_lifetime: float = 15 * 60.0,
        message_limit: int = 5,
        message_window: float = 5.0,
        shards: int = 1,
        max_concurrency: int = 1,
        session_starts: int = 1000,
        global_limit: int = 50,
        identify_interval: float = 0.0,
    ) -> None:
        """``interaction_deadline``/``token_lifetime``: Discord's 3 s and 15 min (tests shorten).

        ``message_limit`` per ``message_window``: new bot messages per channel (Discord's 5/5 s).
        ``shards``, ``max_concurrency`` and ``session_starts`` are what ``/gateway/bot``
        says, ``identify_interval`` Discord's 5 s between identifies of a bucket (0 =
        not enforced; see ``gateway_limits.py``); ``global_limit`` the REST requests
        per second.
        """
        self.world = world or build_default_world()
        self.token = make_token(self.world.application_id)
        self.limiter = RateLimiter(edit_limit=edit_limit, edit_window=edit_window,
                                   message_limit=message_limit, message_window=message_window,
                                   global_limit=global_limit)
        self.gateway_limits = GatewayLimits(shards=shards, max_concurrency=max_concurrency,
                                            session_total=session_starts,
                                            sessions_left=session_starts,
                                            identify_interval=identify_interval)
        self.voice_endpoint = "127.0.0.1:1"
        """``host:port`` sent in VOICE_SERVER_UPDATE; tests point it at a fake voice server."""
        self.voice_servers: VoiceEndpoint | None = None
        """Called at each voice join or move with ``(guild_id, channel_id, session_id,
        token)``; returns the endpoint (a test starts a fake voice server per channel).
        Unset: ``voice_endpoint`` is sent."""
        self.sessions: dict[str, GatewaySession] = {}
        self.connections: list[GatewaySession] = []
        self._heartbeat_interval_ms = heartbeat_interval_ms
        self._rest = RestContext(world=self.world, limiter=self.limiter, token=self.token,
                                 interaction_deadline=interaction_deadline,
                                 token_lifetime=token_lifetime, dispatch=self._echo,
                                 gateway=self.gateway_limits)
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Listen on a random loopback port."""
        # Room for any upload: Discord's own size rules answer (413), not aiohttp's.
        app = web.Application(middlewares=[record_and_limit], client_max_size=256 * 1024**2)
        app[CONTEXT_KEY] = self._rest
        add_bootstrap_routes(app.router)
        add_message_routes(app.router)
        add_guild_routes(app.router)
        add_webhook_routes(app.router)
        app.router.add_get("/gateway", self._gateway)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert isinstance(server, asyncio.Server)
        self.port = server.sockets[0].getsockname()[1]
        self._rest.gateway_url = f"ws://127.0.0.1:{self.port}/gateway"

    async def stop(self) -> None:
        """Close every websocket and the server."""
        for session in self.connections:
            await session.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def rest_url(self) -> str:
        """What to pass as ``GatewayBot(rest_url=...)``."""
        return f"http://127.0.0.1:{self.port}{API_PREFIX}"

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True, max_msg_size=0)
        await ws.prepare(request)
        session = GatewaySession(
            self.world,
            ws,
            request.query.get("compress"),
            heartbeat_interval_ms=self._heartbeat_interval_ms,
            gateway_url=self._rest.gateway_url,
            token=self.token,
            voice_endpoint=self._voice_endpoint_for,
            limits=self.gateway_limits,
            peers=self.connections,
        )
        self.connections.append(session)
        await session.run(self.sessions)
        return ws

    async def _voice_endpoint_for(self, guild_id: int, channel_id: int, session_id: str,
                                  token: str) -> str:
        if self.voice_servers is not None:
            return await self.voice_servers(guild_id, channel_id, session_id, token)
        return self.voice_endpoint

    # -- driving the bot ---------------------------------------------------------------

    @property
    def session(self) -> GatewaySession:
        """The most recent identified gateway connection."""
        live = [s for s in self.connections if s.identified.is_set() and not s.ws.closed]
        if not live:
            msg = "the bot has no identified gateway connection"
            raise RuntimeError(msg)
        return live[-1]

    async def _echo(self, event: str, data: dict[str, Any]) -> None:
        """A gateway event about the bot's own doing, to its live session (if any)."""
        live = [s for s in self.connections if s.identified.is_set() and not s.ws.closed]
        if live:
            await live[-1].dispatch(event, data)

    async def wait_ready(self, timeout: float = 10.0) -> None:
        """Wait until the bot identified (READY and GUILD_CREATEs sent)."""
        await self.wait_until(lambda: any(s.identified.is_set() for s in self.connections), timeout)

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Send any dispatch event to the bot, on the shard its guild belongs to."""
        guild_id = data.get("guild_id")
        await self.session_for(int(guild_id) if guild_id else None).dispatch(event, data)

    def session_for(self, guild_id: int | None) -> GatewaySession:
        """The live connection of the shard that receives ``guild_id``'s events (DMs: 0)."""
        live = [s for s in self.connections if s.identified.is_set() and not s.ws.closed]
        for session in reversed(live):
            shard_id, count = session.shard
            wanted = GatewayLimits.shard_of(guild_id, count) if guild_id is not None else 0
            if shard_id == wanted:
                return session
        return self.session

    async def user_message(
        self,
        content: str,
        *,
        channel: FakeChannel | None = None,
        author: FakeUser | None = None,
        mention_bot: bool = False,
        mention_bot_role: bool = False,
        reply_to: int | None = None,
    ) -> StoredMessage:
        """A user posts a message (MESSAGE_CREATE); returns it as stored.

        ``mention_bot_role`` mentions the bot's managed role (``<@&id>``) instead of
        the bot user, as Discord's autocomplete often makes people do.
        """
        channel = channel or self.text_channel
        author = author or self.user("alice")
        mentions = [self.world.bot_user] if mention_bot else []
        if mention_bot:
            content = f"<@{self.world.bot_user.id}> {content}"
        role_ids: list[int] = []
        if mention_bot_role and channel.guild_id is not None:
            guild = self.world.guild(channel.guild_id)
            role_ids = [r.id for r in guild.roles if r.bot_id == self.world.bot_user.id]
            content = f"<@&{role_ids[0]}> {content}"
        payload = events.message_create(
            self.world,
            author=author,
            channel=channel,
            content=content,
            mentions=mentions,
            mention_roles=role_ids,
            reply_to=reply_to,
        )
        stored = StoredMessage(int(payload["id"]), channel.id, author.id, payload)
        self.world.messages.setdefault(channel.id, []).append(stored)
        await self.dispatch("MESSAGE_CREATE", payload)
        return stored

    async def user_edit(self, message: StoredMessage, content: str) -> StoredMessage:
        """The author edits their message (MESSAGE_UPDATE with the whole message)."""
        await self.dispatch("MESSAGE_UPDATE", events.message_update(self.world, message, content))
        return message

    async def user_delete(self, message: StoredMessage) -> None:
        """The author deletes their message (MESSAGE_DELETE carries only ids)."""
        self.world.messages[message.channel_id].remove(message)
        await self.dispatch("MESSAGE_DELETE", events.message_delete(message))

    async def foreign_webhook_message(self, content: str, *, channel: FakeChannel | None = None,
                                      username: str = "GitHub") -> StoredMessage:
        """Someone else's webhook (an integration) posts in a channel (MESSAGE_CREATE)."""
        channel = channel or self.text_channel
        webhook_id = self.world.snowflakes.next()
        author = FakeUser(id=webhook_id, username=username, bot=True)
        payload = payloads.message(message_id=self.world.snowflakes.next(),
                                   channel_id=channel.id, author=author, content=content,
                                   guild_id=channel.guild_id, webhook_id=webhook_id)
        payload["author"]["discriminator"] = "0000"
        stored = StoredMessage(int(payload["id"]), channel.id, webhook_id, payload)
        self.world.messages.setdefault(channel.id, []).append(stored)
        await self.dispatch("MESSAGE_CREATE", payload)
        return stored

    async def user_forward(
        self, original: StoredMessage, *, channel: FakeChannel | None = None,
        author: FakeUser | None = None,
    ) -> StoredMessage:
        """A user forwards ``original`` into ``channel`` (MESSAGE_CREATE); returns it."""
        channel = channel or self.text_channel
        author = author or self.user("alice")
        payload = events.forward_create(self.world, author=author, channel=channel,
                                        original=original.payload)
        stored = StoredMessage(int(payload["id"]), channel.id, author.id, payload)
        self.world.messages.setdefault(channel.id, []).append(stored)
        await self.dispatch("MESSAGE_CREATE", payload)
        return stored

    async def slash_command(
        self,
        name: str,
        options: dict[str, str | int | bool | float] | None = None,
        *,
        channel: FakeChannel | None = None,
        user: FakeUser | None = None,
        locale: str = "en-US",
    ) -> str:
        """A user runs a registered slash command; returns the interaction token."""
        channel = channel or self.text_channel
        data = events.command_data(self.world, name=name, channel=channel)
        data["options"] = events.slash_options(options or {})
        return await self._interact(channel, user or self.user("alice"), data, locale)

    async def slash_subcommand(
        self,
        group: str,
        subcommand: str,
        options: dict[str, events.OptionValue] | None = None,
        *,
        channel: FakeChannel | None = None,
        user: FakeUser | None = None,
        locale: str = "en-US",
    ) -> str:
        """A user runs ``/group subcommand`` (type-1 option wrapping the options)."""
        channel = channel or self.text_channel
        data = events.command_data(self.world, name=group, channel=channel)
        data["options"] = [
            {"name": subcommand, "type": 1, "options": events.slash_options(options or {})}
        ]
        if (resolved := events.resolved(options or {}, self.world)) is not None:
            data["resolved"] = resolved
        return await self._interact(channel, user or self.user("alice"), data, locale)

    async def message_command(
        self,
        name: str,
        target_message_id: int,
        *,
        channel: FakeChannel | None = None,
        user: FakeUser | None = None,
        locale: str = "en-US",
    ) -> str:
        """A user runs a message context-menu command on a message; returns the token.

        ``locale`` is the user's Discord language, as the interaction carries it.
        """
        channel = channel or self.text_channel
        data = events.command_data(
            self.world, name=name, channel=channel, command_type=events.COMMAND_MESSAGE
        )
        data |= events.message_target(self.world, target_message_id)
        return await self._interact(channel, user or self.user("alice"), data, locale)

    async def press_button(
        self, message: StoredMessage, custom_id: str, *, user: FakeUser | None = None
    ) -> str:
        """A user presses a button of ``message``; returns the interaction token.

        Raises:
            PermissionError: the message is ephemeral and someone else's.
            LookupError: the message has no such enabled button.
        """
        user = user or self.user("alice")
        components.check_press(message, custom_id, user)
        channel = self.world.channel(message.channel_id)
        assert channel is not None
        data = {"custom_id": custom_id, "component_type": components.COMPONENT_BUTTON}
        return await self._interact(channel, user, data, "en-US", message=message)

    async def _interact(
        self, channel: FakeChannel, user: FakeUser, data: dict[str, Any], locale: str,
        *, message: StoredMessage | None = None,
    ) -> str:
        kind = events.INTERACTION_COMMAND if message is None else components.INTERACTION_COMPONENT
        payload, token = events.interaction_create(
            self.world, user=user, channel=channel, data=data, locale=locale, kind=kind,
            message=message.payload if message is not None else None,
        )
        self._rest.interactions[token] = {
            "id": int(payload["id"]),
            "type": payload["type"],
            "channel_id": channel.id,
            "guild_id": channel.guild_id,
            "user_id": user.id,
            "original": None,
            "created_at": time.monotonic(),
            "expired": False,
        }
        if message is not None:
            # Its 3 s count from ``created_at``, as any interaction's (rest_messages._age).
            self._rest.interactions[token]["message_id"] = message.id
        await self.dispatch("INTERACTION_CREATE", payload)
        return token

    async def user_voice(self, user: FakeUser, channel: FakeChannel | None, *,
                         guild_id: int | None = None) -> None:
        """``user`` joins (or moves to) voice ``channel``, or leaves voice (``None``).

        Updates the world (later GUILD_CREATEs list it) and sends VOICE_STATE_UPDATE, as
        Discord does for every member's voice state with the voice-states intent.
        """
        gid = channel.guild_id if channel is not None else guild_id
        guild = self.world.guild(gid) if gid is not None else None
        assert guild is not None, "a guild channel (or guild_id to leave) is needed"
        state = None
        if channel is None:
            guild.voice_states.pop(user.id, None)
        else:
            state = guild.voice_states[user.id] = FakeVoiceState(
                user.id, channel.id, f"voice-{user.id}-{self.world.snowflakes.next()}")
        await self.dispatch("VOICE_STATE_UPDATE",
                            payloads.voice_state(state, guild, user_id=user.id))

    async def move_bot(self, channel: FakeChannel) -> None:
        """An admin drags the bot into another voice channel of the same guild.

        Discord sends the bot's new voice state, then a VOICE_SERVER_UPDATE for the new
        channel's call (the old voice server closes the bot's socket with 4014: the test
        does that on its fake voice server).
        """
        assert channel.guild_id is not None
        guild = self.world.guild(channel.guild_id)
        assert guild is not None
        bot_id = self.world.bot_user.id
        old = guild.voice_states[bot_id]
        state = guild.voice_states[bot_id] = FakeVoiceState(bot_id, channel.id, old.session_id)
        await self.dispatch("VOICE_STATE_UPDATE", payloads.voice_state(state, guild))
        token = f"voice-token-{guild.id}"
        endpoint = await self._voice_endpoint_for(guild.id, channel.id, state.session_id, token)
        await self.dispatch("VOICE_SERVER_UPDATE",
                            {"token": token, "guild_id": str(guild.id), "endpoint": endpoint})

    async def disconnect_bot_from_voice(self, guild_id: int) -> None:
        """An admin uses "Disconnect" on the bot in voice: its voice state goes null."""
        guild = self.world.guild(guild_id)
        assert guild is not None
        bot_id = self.world.bot_user.id
        guild.voice_states.pop(bot_id, None)
        await self.dispatch("VOICE_STATE_UPDATE",
                            payloads.voice_state(None, guild, user_id=bot_id))

    async def request_reconnect(self) -> None:
        """Send op 7 so the bot reconnects and RESUMEs."""
        await self.session.close_for_reconnect()

    async def remove_bot_from_guild(self, guild_id: int) -> None:
        """A moderator kicks the bot: GUILD_DELETE (no ``unavailable``), then 403s there."""
        self.world.left_guilds.add(guild_id)
        await self.dispatch("GUILD_DELETE", {"id": str(guild_id)})

    async def add_bot_to_guild(self, guild_id: int) -> None:
        """The bot is invited back: GUILD_CREATE with the whole guild."""
        self.world.left_guilds.discard(guild_id)
        guild = self.world.guild(guild_id)
        assert guild is not None
        await self.dispatch("GUILD_CREATE", payloads.guild_create(guild, self.world))

    async def delete_channel(self, channel: FakeChannel) -> None:
        """A moderator deletes a channel: CHANNEL_DELETE, then 404 Unknown Channel there."""
        guild = self.world.guild(channel.guild_id) if channel.guild_id is not None else None
        assert guild is not None
        payload = payloads.channel(channel, self.world)
        guild.channels.remove(channel)
        await self.dispatch("CHANNEL_DELETE", payload)

    async def revoke_token(self) -> None:
        """The owner resets the token: REST answers 401, the gateway closes with 4004."""
        self._rest.token = self.token = "revoked." + self.token
        for session in self.connections:
            session.revoke()
            if not session.ws.closed:
                await session.close_with(4004, "Authentication failed.")

    # -- inspection -----------------------------------------------------------------------

    @property
    def text_channel(self) -> FakeChannel:
        """The first guild text channel."""
        return self.world.guilds[0].channels[0]

    def channel_named(self, name: str) -> FakeChannel:
        """A guild channel by name."""
        return next(c for g in self.world.guilds for c in g.channels if c.name == name)

    def user(self, username: str) -> FakeUser:
        """A user by name."""
        return next(u for u in self.world.users.values() if u.username == username)

    def rest_calls(self, method: str | None = None, route: str | None = None) -> list[RestCall]:
        """Recorded REST calls, optionally filtered by method and route template."""
        return [
            c
            for c in self.world.rest_calls
            if (method is None or c.method == method) and (route is None or c.route == route)
        ]

    def gateway_ops(self, op: int | None = None) -> list[GatewayOp]:
        """Recorded gateway payloads the bot sent."""
        return [o for o in self.world.gateway_ops if op is None or o.op == op]

    def webhook_messages(self, channel_id: int) -> list[StoredMessage]:
        """Messages the bot's webhooks posted in a channel, oldest first."""
        ours = {w.id for w in self.world.webhooks}
        return [m for m in self.world.messages.get(channel_id, [])
                if m.payload.get("webhook_id") is not None
                and int(m.payload["webhook_id"]) in ours]

    def channel_messages(self, channel_id: int) -> list[StoredMessage]:
        """Every message in a channel, oldest first."""
        return list(self.world.messages.get(channel_id, []))

    def bot_messages(self, channel_id: int) -> list[StoredMessage]:
        """The bot's messages in a channel, oldest first."""
        stored = self.world.messages.get(channel_id, [])
        return [m for m in stored if m.author_id == self.world.bot_user.id]

    def attachment(self, message: StoredMessage, index: int = 0) -> bytes:
        """The bytes of one of a message's attachments, as the CDN would serve them."""
        return self.world.attachments[int(message.payload["attachments"][index]["id"])]

    def original_response(self, token: str) -> StoredMessage | None:
        """The original response message of an interaction, if it has one."""
        message_id = self._rest.interactions.get(token, {}).get("original")
        return self.world.find_message(message_id) if message_id else None

    def acknowledged_late(self) -> list[str]:
        """Tokens of interactions whose initial response came after Discord's deadline."""
        return [token for token, i in self._rest.interactions.items() if i.get("expired")]

    def broken_limits(self) -> list[str]:
        """What Discord would have refused because the bot broke a limit (empty if none).

        A 429 from a real budget (not an injected one) and an interaction acknowledged
        after 3 s both mean the bot failed a user; test fixtures assert this is empty.
        """
        broken = []
        if (count := self.limiter.stats.budget_429) > 0:
            broken.append(f"{count} request(s) over a rate-limit budget (429)")
        broken.extend(self.gateway_limits.violations)
        if late := self.acknowledged_late():
            broken.append(f"{len(late)} interaction(s) acknowledged after "
                          f"{self._rest.interaction_deadline:g} s")
        return broken

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """Wait until ``predicate()`` holds after some REST or gateway traffic."""
        async with asyncio.timeout(timeout), self.world.changed:
            await self.world.changed.wait_for(predicate)

    async def wait_for_bot_content(
        self, channel_id: int, content: str | Callable[[str], bool], timeout: float = 10.0
    ) -> StoredMessage:
        """Wait until one of the bot's messages in the channel shows ``content``."""
        matches = content if callable(content) else (lambda text: text == content)

        def found() -> StoredMessage | None:
            return next((m for m in self.bot_messages(channel_id) if matches(m.content)), None)

        await self.wait_until(lambda: found() is not None, timeout)
        result = found()
        assert result is not None
        return result
