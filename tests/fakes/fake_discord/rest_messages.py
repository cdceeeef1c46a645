"""Fake REST routes for channels, messages, threads, interactions and guilds.

What the bot posts, edits or deletes in a channel comes back to it as MESSAGE_CREATE,
MESSAGE_UPDATE and MESSAGE_DELETE, as on Discord. Webhook routes: ``webhooks.py``.
Each message records whom it notified (``mentions.py``). A message's visibility is
fixed when it is created: a deferred response stays as public or private as the
defer, whatever flags the follow-up filling it asks for.
"""

from __future__ import annotations

import json
import time
from typing import Any

from aiohttp import web

from tests.fakes.fake_discord import components, events, mentions, payloads
from tests.fakes.fake_discord.rest import API_PREFIX, JSON_BODY, RestContext, ctx_of, error
from tests.fakes.fake_discord.uploads import UPLOADS, apply_attachments
from tests.fakes.fake_discord.world import (
    ADD_REACTIONS,
    ChannelType,
    FakeChannel,
    StoredMessage,
    World,
)

RESPONSE_MESSAGE, RESPONSE_DEFERRED = 4, 5
FLAG_LOADING = 128
EPHEMERAL = components.EPHEMERAL
CONTENT_LIMIT = 2000
"""Characters (code points: Discord's API counts like Python's ``len``) per message."""


def invalid_body(body: dict[str, Any]) -> web.Response | None:
    """Discord's 400 for content over the limit or contradictory ``allowed_mentions``.

    Checked on every route that takes content.
    """
    if len(str(body.get("content") or "")) > CONTENT_LIMIT:
        return error(400, "Invalid Form Body: content must be 2000 or fewer in length.", 50035)
    if (reason := mentions.refusal(body.get("allowed_mentions"))) is not None:
        return error(400, f"Invalid Form Body: {reason}", 50035)
    return None


def note_mentions(world: World | None, stored: StoredMessage, body: dict[str, Any]) -> None:
    """Record whom a message (or the filling of a deferred response) notifies."""
    allowed = body.get("allowed_mentions")
    reference = body.get("message_reference")
    replied = (world.find_message(int(reference["message_id"]))
               if reference and world is not None else None)
    stored.allowed_mentions = allowed
    stored.pings = mentions.pinged(stored.content, allowed, replied_author=(
        replied.author_id if replied is not None else None))


def store_message(
    world: World, channel_id: int, body: dict[str, Any], *, application: bool = False,
    viewer: int | None = None,
) -> StoredMessage:
    """Create a message from the bot in a channel, as Discord would.

    ``viewer``: who sees it when it is ephemeral (the interaction's user).
    """
    channel = world.channel(channel_id)
    message_id = world.snowflakes.next()
    reference = body.get("message_reference")
    if reference is not None:
        # Discord fills in the channel (and guild) of the referenced message.
        reference = {"type": 0, "channel_id": str(channel_id), **reference}
        if channel is not None and channel.guild_id is not None:
            reference.setdefault("guild_id", str(channel.guild_id))
    payload = payloads.message(
        message_id=message_id,
        channel_id=channel_id,
        author=world.bot_user,
        content=str(body.get("content") or ""),
        guild_id=channel.guild_id if channel else None,
        reference=reference,
        application_id=world.application_id if application else None,
        webhook_id=world.application_id if application else None,
    )
    payload["embeds"] = body.get("embeds") or []
    payload["components"] = components.numbered(body.get("components"))
    payload["flags"] = int(body.get("flags") or 0)
    stored = StoredMessage(message_id, channel_id, world.bot_user.id, payload,
                           visible_to=viewer if payload["flags"] & EPHEMERAL else None)
    note_mentions(world, stored, body)
    world.messages.setdefault(channel_id, []).append(stored)
    return stored


def _with_uploads(request: web.Request, stored: StoredMessage,
                  body: dict[str, Any]) -> web.Response:
    """Attach the request's files to a message just created (undone when refused)."""
    world = ctx_of(request).world
    if (refused := apply_attachments(world, stored.payload, body, request[UPLOADS])) is not None:
        world.messages[stored.channel_id].remove(stored)
        return refused
    return web.json_response(stored.payload)


def edit_message(stored: StoredMessage, body: dict[str, Any],
                 request: web.Request | None = None) -> web.Response:
    """Apply a PATCH body (and its uploads) to a stored message."""
    if request is not None and (refused := apply_attachments(
            ctx_of(request).world, stored.payload, body, request[UPLOADS])) is not None:
        return refused
    flags = int(stored.payload.get("flags") or 0)
    for key in ("content", "embeds", "components"):
        if key in body:
            stored.payload[key] = body[key] if body[key] is not None else ""
    if "components" in body:
        stored.payload["components"] = components.numbered(body["components"] or [])
    if body.get("flags") is not None:
        # A message's visibility is fixed when it is created (for a deferred response:
        # by the defer); an edit or the follow-up that fills it cannot change it.
        flags = (int(body["flags"]) & ~EPHEMERAL) | (flags & EPHEMERAL) | (flags & FLAG_LOADING)
    stored.payload["flags"] = flags & ~FLAG_LOADING
    if flags & FLAG_LOADING:
        # Filling a deferred response is when its mentions notify; later edits do not.
        note_mentions(ctx_of(request).world if request is not None else None, stored, body)
    stored.payload["edited_timestamp"] = payloads.now_iso()
    stored.edits += 1
    return web.json_response(stored.payload)


def _channel_or_404(ctx: RestContext, request: web.Request) -> FakeChannel | web.Response:
    channel = ctx.world.channel(int(request.match_info["channel"]))
    return channel if channel is not None else error(404, "Unknown Channel", 10003)


def _message_in(ctx: RestContext, request: web.Request) -> StoredMessage | None:
    stored = ctx.world.find_message(int(request.match_info["message"]))
    if stored is None or stored.channel_id != int(request.match_info["channel"]):
        return None
    return stored


async def get_channel(request: web.Request) -> web.Response:
    """``GET /channels/{channel}``."""
    ctx = ctx_of(request)
    channel = _channel_or_404(ctx, request)
    if isinstance(channel, web.Response):
        return channel
    return web.json_response(payloads.channel(channel, ctx.world))


async def create_message(request: web.Request) -> web.Response:
    """``POST /channels/{channel}/messages``."""
    ctx = ctx_of(request)
    channel = _channel_or_404(ctx, request)
    if isinstance(channel, web.Response):
        return channel
    body = request[JSON_BODY] or {}
    if not body.get("content") and not body.get("embeds") and not request[UPLOADS]:
        return error(400, "Cannot send an empty message", 50006)
    if (refused := invalid_body(body)) is not None:
        return refused
    reference = body.get("message_reference")
    if (reference is not None and reference.get("fail_if_not_exists", True)
            and ctx.world.find_message(int(reference["message_id"])) is None):
        # Discord refuses a reply to a deleted message unless told not to mind.
        return error(400, "Invalid Form Body: message_reference: Unknown message", 50035)
    response = _with_uploads(request, store_message(ctx.world, channel.id, body), body)
    if response.status == 200:
        stored = ctx.world.find_message(int(json.loads(response.text or "{}")["id"]))
        if stored is not None:
            await ctx.echo("MESSAGE_CREATE", events.with_member(
                ctx.world, dict(stored.payload), ctx.world.bot_user))
    return response


async def list_messages(request: web.Request) -> web.Response:
    """``GET /channels/{channel}/messages`` (newest first, as Discord).

    ``after`` gives the ``limit`` messages right after that id, ``before`` those
    right before it.
    """
    ctx = ctx_of(request)
    stored = ctx.world.messages.get(int(request.match_info["channel"]), [])
    limit = int(request.query.get("limit", "50"))
    if "after" in request.query:
        after = int(request.query["after"])
        stored = [m for m in stored if m.id > after][:limit]
    if "before" in request.query:
        before = int(request.query["before"])
        stored = [m for m in stored if m.id < before]
    return web.json_response([m.payload for m in reversed(stored)][:limit])


async def get_message(request: web.Request) -> web.Response:
    """``GET /channels/{channel}/messages/{message}``."""
    stored = _message_in(ctx_of(request), request)
    if stored is None:
        return error(404, "Unknown Message", 10008)
    return web.json_response(stored.payload)


async def patch_message(request: web.Request) -> web.Response:
    """``PATCH /channels/{channel}/messages/{message}``."""
    stored = _message_in(ctx_of(request), request)
    if stored is None:
        return error(404, "Unknown Message", 10008)
    body = request[JSON_BODY] or {}
    if (refused := invalid_body(body)) is not None:
        return refused
    response = edit_message(stored, body, request)
    if response.status == 200 and stored.author_id == ctx_of(request).world.bot_user.id:
        world = ctx_of(request).world
        await ctx_of(request).echo("MESSAGE_UPDATE", events.with_member(
            world, dict(stored.payload), world.bot_user))
    return response


async def delete_message(request: web.Request) -> web.Response:
    """``DELETE /channels/{channel}/messages/{message}`` (any message: the fake's bot may
    manage messages; a user's deletion reaches the bot as MESSAGE_DELETE too)."""
    ctx = ctx_of(request)
    stored = _message_in(ctx, request)
    if stored is None:
        return error(404, "Unknown Message", 10008)
    ctx.world.messages[stored.channel_id].remove(stored)
    await ctx.echo("MESSAGE_DELETE", events.message_delete(stored))
    return web.Response(status=204)


async def add_own_reaction(request: web.Request) -> web.Response:
    """``PUT /channels/{channel}/messages/{message}/reactions/{emoji}/@me``.

    As on Discord: 404 Unknown Message (10008) for a message not in the channel; a
    reaction no one has made yet needs Add Reactions (403, 50013); reacting twice
    with the same emoji changes nothing. The budget (1 per 0.25 s per channel) is in
    the rate-limit middleware.
    """
    ctx = ctx_of(request)
    stored = _message_in(ctx, request)
    if stored is None:
        return error(404, "Unknown Message", 10008)
    emoji = request.match_info["emoji"]
    reactions: list[dict[str, Any]] = stored.payload.setdefault("reactions", [])
    existing = next((r for r in reactions if r["emoji"]["name"] == emoji), None)
    if existing is None and not ctx.world.bot_permissions(stored.channel_id) & ADD_REACTIONS:
        return error(403, "Missing Permissions", 50013)
    if existing is None:
        reactions.append({"emoji": {"id": None, "name": emoji}, "count": 1, "me": True})
    elif not existing["me"]:
        existing["me"] = True
        existing["count"] += 1
    return web.Response(status=204)


async def trigger_typing(request: web.Request) -> web.Response:
    """``POST /channels/{channel}/typing``."""
    channel = _channel_or_404(ctx_of(request), request)
    return channel if isinstance(channel, web.Response) else web.Response(status=204)


def _new_thread(ctx: RestContext, parent: FakeChannel, thread_id: int, name: str) -> web.Response:
    thread = FakeChannel(
        id=thread_id,
        name=name,
        type=ChannelType.PUBLIC_THREAD,
        guild_id=parent.guild_id,
        parent_id=parent.id,
    )
    guild = ctx.world.guild(parent.guild_id or 0)
    if guild is None:
        return error(400, "Cannot create a thread here", 50024)
    guild.channels.append(thread)
    return web.json_response(payloads.channel(thread, ctx.world), status=201)


async def thread_from_message(request: web.Request) -> web.Response:
    """``POST /channels/{channel}/messages/{message}/threads``: the thread takes the message id."""
    ctx = ctx_of(request)
    parent = _channel_or_404(ctx, request)
    if isinstance(parent, web.Response):
        return parent
    if _message_in(ctx, request) is None:
        return error(404, "Unknown Message", 10008)
    body = request[JSON_BODY] or {}
    return _new_thread(ctx, parent, int(request.match_info["message"]), str(body.get("name")))


async def thread_without_message(request: web.Request) -> web.Response:
    """``POST /channels/{channel}/threads``."""
    ctx = ctx_of(request)
    parent = _channel_or_404(ctx, request)
    if isinstance(parent, web.Response):
        return parent
    body = request[JSON_BODY] or {}
    return _new_thread(ctx, parent, ctx.world.snowflakes.next(), str(body.get("name")))


def _age(interaction: dict[str, Any]) -> float:
    """Seconds since the interaction was sent to the bot."""
    return time.monotonic() - interaction.setdefault("created_at", time.monotonic())


async def interaction_callback(request: web.Request) -> web.Response:
    """``POST /interactions/{id}/{token}/callback``: 200 JSON with ``with_response=true``."""
    ctx = ctx_of(request)
    interaction = ctx.interactions.get(request.match_info["token"])
    if interaction is None or str(interaction["id"]) != request.match_info["id"]:
        return error(404, "Unknown interaction", 10062)
    if _age(interaction) > ctx.interaction_deadline:
        # Discord gives up after 3 s: the user already sees "The application did not respond".
        interaction["expired"] = True
        return error(404, "Unknown interaction", 10062)
    if interaction.get("original") is not None:
        return error(400, "Interaction has already been acknowledged.", 40060)
    body = request[JSON_BODY] or {}
    kind, data = int(body.get("type", 0)), body.get("data") or {}
    if (refused := invalid_body(data) or components.refusal(interaction, kind)) is not None:
        return refused
    message: StoredMessage | None = None
    if kind in (RESPONSE_MESSAGE, RESPONSE_DEFERRED):
        message = store_message(ctx.world, interaction["channel_id"], data, application=True,
                                viewer=interaction.get("user_id"))
        if kind == RESPONSE_DEFERRED:
            message.payload["flags"] = int(message.payload["flags"]) | FLAG_LOADING
        elif (refused := apply_attachments(ctx.world, message.payload, data,
                                           request[UPLOADS])) is not None:
            ctx.world.messages[message.channel_id].remove(message)
            return refused
        interaction["original"] = message.id
    elif kind in (components.RESPONSE_DEFERRED_UPDATE, components.RESPONSE_UPDATE):
        # The message the button is on becomes the original response.
        message = ctx.world.find_message(interaction["message_id"])
        if message is None:
            return error(404, "Unknown Message", 10008)
        if kind == components.RESPONSE_UPDATE:
            updated = edit_message(message, data, request)
            if updated.status != 200:
                return updated
        interaction["original"] = message.id
    else:
        interaction["original"] = 0
    if request.query.get("with_response") != "true":
        return web.Response(status=204)
    callback: dict[str, Any] = {
        "id": str(interaction["id"]),
        "type": interaction["type"],
        "response_message_loading": kind == RESPONSE_DEFERRED,
        "response_message_ephemeral": bool(int(data.get("flags") or 0) & 64),
    }
    resource: dict[str, Any] = {"type": kind}
    if message is not None:
        callback["response_message_id"] = str(message.id)
        resource["message"] = message.payload
    return web.json_response({"interaction": callback, "resource": resource})


def _interaction_of_webhook(
    ctx: RestContext, request: web.Request
) -> dict[str, Any] | web.Response:
    """The interaction a webhook request's token belongs to, while the token is valid."""
    interaction = ctx.interactions.get(request.match_info["token"])
    if (int(request.match_info["app"]) != ctx.world.application_id or interaction is None
            or _age(interaction) > ctx.token_lifetime):
        return error(401, "Invalid Webhook Token", 50027)
    return interaction


def _webhook_message(request: web.Request) -> StoredMessage | web.Response:
    ctx = ctx_of(request)
    interaction = _interaction_of_webhook(ctx, request)
    if isinstance(interaction, web.Response):
        return interaction
    raw = request.match_info["message"]
    message_id = interaction.get("original") if raw == "@original" else int(raw)
    stored = ctx.world.find_message(message_id) if message_id else None
    return stored if stored is not None else error(404, "Unknown Message", 10008)


async def webhook_message(request: web.Request) -> web.Response:
    """GET/PATCH/DELETE ``/webhooks/{app}/{token}/messages/{message|@original}``."""
    stored = _webhook_message(request)
    if isinstance(stored, web.Response):
        return stored
    if request.method == "GET":
        return web.json_response(stored.payload)
    if request.method == "DELETE":
        ctx_of(request).world.messages[stored.channel_id].remove(stored)
        return web.Response(status=204)
    body = request[JSON_BODY] or {}
    if (refused := invalid_body(body)) is not None:
        return refused
    return edit_message(stored, body, request)


async def followup(request: web.Request) -> web.Response:
    """``POST /webhooks/{app}/{token}``: a follow-up message to an interaction."""
    ctx = ctx_of(request)
    interaction = _interaction_of_webhook(ctx, request)
    if isinstance(interaction, web.Response):
        return interaction
    if interaction.get("original") is None:
        return error(401, "Invalid Webhook Token", 50027)
    body = request[JSON_BODY] or {}
    if (refused := invalid_body(body)) is not None:
        return refused
    original = ctx.world.find_message(interaction["original"] or 0)
    if original is not None and original.payload["flags"] & FLAG_LOADING:
        # Discord turns the first follow-up after a defer into the original response.
        return edit_message(original, body, request)
    stored = store_message(ctx.world, interaction["channel_id"], body, application=True,
                           viewer=interaction.get("user_id"))
    return _with_uploads(request, stored, body)


def add_message_routes(router: web.UrlDispatcher) -> None:
    """Channel, message, thread, webhook and interaction routes."""
    channel = f"{API_PREFIX}/channels/{{channel}}"
    router.add_get(channel, get_channel)
    router.add_post(f"{channel}/messages", create_message)
    router.add_get(f"{channel}/messages", list_messages)
    router.add_get(f"{channel}/messages/{{message}}", get_message)
    router.add_patch(f"{channel}/messages/{{message}}", patch_message)
    router.add_delete(f"{channel}/messages/{{message}}", delete_message)
    router.add_post(f"{channel}/typing", trigger_typing)
    router.add_put(f"{channel}/messages/{{message}}/reactions/{{emoji}}/@me", add_own_reaction)
    router.add_post(f"{channel}/messages/{{message}}/threads", thread_from_message)
    router.add_post(f"{channel}/threads", thread_without_message)
    router.add_post(f"{API_PREFIX}/interactions/{{id}}/{{token}}/callback", interaction_callback)
    # ``/webhooks/...`` routes (follow-ups and channel webhooks): ``webhooks.py``.
