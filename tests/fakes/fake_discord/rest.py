"""The fake REST API: recording and rate-limit middleware, bootstrap and command routes.

Channel, message, webhook and interaction routes are in ``rest_messages.py``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.fake_discord import payloads
from tests.fakes.fake_discord.gateway_limits import GatewayLimits
from tests.fakes.fake_discord.ratelimit import RateLimiter
from tests.fakes.fake_discord.uploads import UPLOADS, uploads_of
from tests.fakes.fake_discord.world import RestCall, World

API_PREFIX = "/api/v10"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
NO_AUTH_PREFIXES = ("/interactions/", "/webhooks/")


@dataclass
class RestContext:
    """What every REST handler needs: the world, the limiter and the server's addresses."""

    world: World
    limiter: RateLimiter
    token: str
    gateway_url: str = ""
    interactions: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Interaction token -> {id, type, channel_id, guild_id, user_id, created_at (monotonic),
    original (message id, 0 for a response without one, or None before the initial
    response); a component's also message_id (the message its button is on)}."""
    interaction_deadline: float = 3.0
    """Seconds Discord waits for the initial response (answer or defer) to an interaction."""
    token_lifetime: float = 15 * 60.0
    """Seconds an interaction token stays valid for follow-ups and edits."""
    dispatch: Callable[[str, dict[str, Any]], Awaitable[None]] | None = None
    """Sends a gateway event to the bot's live session (set by the server)."""

    async def echo(self, event: str, data: dict[str, Any]) -> None:
        """Tell the bot about a change it or a webhook made, as Discord's gateway does."""
        if self.dispatch is not None and self.world.echo_bot_messages:
            await self.dispatch(event, data)

    gateway: GatewayLimits = field(default_factory=GatewayLimits)
    """Shards, identify buckets and the session-start budget (``/gateway/bot``)."""


CONTEXT_KEY = web.AppKey("fake_discord_rest", RestContext)
# A typed key: a plain string key makes aiohttp warn, which pytest turns into an
# error inside the middleware (hikari then saw a 500 and retried).
JSON_BODY = web.RequestKey("fake_discord_json", object)
"""The request's decoded JSON body (``None`` when it has none)."""


def error(status: int, message: str, code: int = 0) -> web.Response:
    """A Discord-style JSON error."""
    return web.json_response({"message": message, "code": code}, status=status)


async def read_body(request: web.Request) -> Any:
    """The request's JSON, also when sent as multipart ``payload_json`` (attachments).

    Uploaded files (``files[n]``) go to ``request[UPLOADS]``.
    """
    request[UPLOADS] = []
    if not request.can_read_body:
        return None
    if request.content_type.startswith("multipart/"):
        form = await request.post()
        request[UPLOADS] = uploads_of(form)
        raw = form.get("payload_json")
        if isinstance(raw, bytes | bytearray):  # sent with an application/json part type
            raw = raw.decode()
        return json.loads(str(raw)) if raw is not None else None
    text = await request.text()
    return json.loads(text) if text else None


def route_template(request: web.Request) -> str:
    """``METHOD /path/{param}`` for the matched route, without the API prefix."""
    resource = request.match_info.route.resource
    canonical = resource.canonical if resource is not None else request.path
    return f"{request.method} {canonical.removeprefix(API_PREFIX)}"


def edit_channel_of(request: web.Request, ctx: RestContext, template: str) -> int | None:
    """The channel whose edit budget this request spends, if it is a message edit."""
    if request.method != "PATCH" or not template.endswith("/messages/{message}"):
        return None
    if "channel" in request.match_info:
        return int(request.match_info["channel"])
    message = request.match_info["message"]
    interaction = ctx.interactions.get(request.match_info.get("token", ""), {})
    message_id = interaction.get("original") if message == "@original" else int(message)
    stored = ctx.world.find_message(message_id) if message_id else None
    return stored.channel_id if stored else None


def post_channel_of(request: web.Request, template: str) -> int | None:
    """The channel whose new-message budget this request spends (bot posts only)."""
    if template == "POST /channels/{channel}/messages":
        return int(request.match_info["channel"])
    return None


REACT_ROUTE = "PUT /channels/{channel}/messages/{message}/reactions/{emoji}/@me"


def reaction_channel_of(request: web.Request, template: str) -> int | None:
    """The channel whose reaction budget this request spends (the bot's own reactions)."""
    if template == REACT_ROUTE:
        return int(request.match_info["channel"])
    return None


def webhook_channel_of(request: web.Request, ctx: RestContext, template: str) -> int | None:
    """The channel a channel webhook's execute posts in (``None`` for anything else)."""
    if template != "POST /webhooks/{app}/{token}":
        return None
    try:
        webhook = ctx.world.webhook(int(request.match_info["app"]))
    except ValueError:
        return None
    return webhook.channel_id if webhook is not None else None


def _in_left_guild(ctx: RestContext, request: web.Request) -> bool:
    """The request names a channel of a guild the bot was removed from."""
    channel_id = request.match_info.get("channel")
    channel = ctx.world.channel(int(channel_id)) if channel_id else None
    return channel is not None and channel.guild_id in ctx.world.left_guilds


@web.middleware
async def record_and_limit(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Record every call; apply auth, injected failures, the edit budget and headers."""
    if not request.path.startswith(API_PREFIX):
        return await handler(request)
    ctx = request.app[CONTEXT_KEY]
    template = route_template(request)
    body = await read_body(request)
    request[JSON_BODY] = body
    edit_channel = edit_channel_of(request, ctx, template)
    path = request.path.removeprefix(API_PREFIX)
    webhook = request.match_info.get("token") if path.startswith("/webhooks/") else None
    post_channel = post_channel_of(request, template)
    reaction_channel = reaction_channel_of(request, template)
    webhook_channel = webhook_channel_of(request, ctx, template)
    response: web.StreamResponse
    if (
        not path.startswith(NO_AUTH_PREFIXES)
        and request.headers.get("Authorization") != f"Bot {ctx.token}"
    ):
        response = error(401, "401: Unauthorized")
    elif _in_left_guild(ctx, request):
        response = error(403, "Missing Access", 50001)
    elif "channel" in request.match_info and ctx.world.channel(
        int(request.match_info["channel"])
    ) is None:
        response = error(404, "Unknown Channel", 10003)
    elif (failure := ctx.limiter.check(
            template, template, edit_channel, webhook, post_channel,
            webhook_channel=webhook_channel, reaction_channel=reaction_channel,
            global_budget=not path.startswith(NO_AUTH_PREFIXES))) is not None:
        response = failure
    else:
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            response = error(exc.status, exc.reason)
        if not template.endswith("/callback"):
            # Discord sends no bucket for interaction callbacks (hikari logs an error if it does).
            response.headers.update(ctx.limiter.headers(template, edit_channel, webhook,
                                                         post_channel, reaction_channel))
    ctx.world.rest_calls.append(
        RestCall(
            method=request.method,
            route=template.split(" ", 1)[1],
            path=path,
            query=dict(request.query),
            json=body,
            status=response.status,
            at=time.monotonic(),
        )
    )
    await ctx.world.notify()
    return response


def ctx_of(request: web.Request) -> RestContext:
    """The shared REST context."""
    return request.app[CONTEXT_KEY]


async def get_application(request: web.Request) -> web.Response:
    """``GET /oauth2/applications/@me``."""
    return web.json_response(payloads.application(ctx_of(request).world))


async def get_me(request: web.Request) -> web.Response:
    """``GET /users/@me``."""
    return web.json_response(payloads.own_user(ctx_of(request).world.bot_user))


async def get_gateway_bot(request: web.Request) -> web.Response:
    """``GET /gateway/bot``: where the shards connect, how many, and the identify budget."""
    ctx = ctx_of(request)
    gateway = ctx.gateway
    limit = {"total": gateway.session_total, "remaining": max(0, gateway.sessions_left),
             "reset_after": 14_400_000, "max_concurrency": gateway.max_concurrency}
    return web.json_response(
        {"url": ctx.gateway_url, "shards": gateway.shards, "session_start_limit": limit}
    )


def _missing_access(ctx: RestContext, request: web.Request) -> web.Response | None:
    """Discord's answer on guild-command routes of a guild without the commands scope."""
    if int(request.match_info["app"]) != ctx.world.application_id or (
        (guild := request.match_info.get("guild")) is not None
        and int(guild) in ctx.world.guilds_without_commands_scope
    ):
        return error(403, "Missing Access", 50001)
    return None


def _commands_for(ctx: RestContext, guild: str | None) -> list[dict[str, Any]]:
    if guild is None:
        return ctx.world.global_commands
    return ctx.world.guild_commands.setdefault(int(guild), [])


async def get_commands(request: web.Request) -> web.Response:
    """``GET /applications/{app}/[guilds/{guild}/]commands``."""
    ctx = ctx_of(request)
    if (refused := _missing_access(ctx, request)) is not None:
        return refused
    return web.json_response(_commands_for(ctx, request.match_info.get("guild")))


async def put_commands(request: web.Request) -> web.Response:
    """Bulk overwrite: keeps ids of commands whose name and type did not change."""
    ctx = ctx_of(request)
    if (refused := _missing_access(ctx, request)) is not None:
        return refused
    guild = request.match_info.get("guild")
    existing = {(c["name"], c["type"]): c for c in _commands_for(ctx, guild)}
    stored = []
    for body in request[JSON_BODY] or []:
        command = payloads.command(body, ctx.world, int(guild) if guild else None)
        if (old := existing.get((command["name"], command["type"]))) is not None:
            command["id"] = old["id"]
        stored.append(command)
    if guild is None:
        ctx.world.global_commands = stored
    else:
        ctx.world.guild_commands[int(guild)] = stored
    ctx.world.command_puts += 1
    return web.json_response(stored)


def add_bootstrap_routes(router: web.UrlDispatcher) -> None:
    """Application, user, gateway and command routes."""
    p = API_PREFIX
    router.add_get(f"{p}/oauth2/applications/@me", get_application)
    router.add_get(f"{p}/users/@me", get_me)
    router.add_get(f"{p}/gateway/bot", get_gateway_bot)
    router.add_get(f"{p}/applications/{{app}}/commands", get_commands)
    router.add_put(f"{p}/applications/{{app}}/commands", put_commands)
    router.add_get(f"{p}/applications/{{app}}/guilds/{{guild}}/commands", get_commands)
    router.add_put(f"{p}/applications/{{app}}/guilds/{{guild}}/commands", put_commands)
