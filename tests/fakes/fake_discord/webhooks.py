"""Channel webhooks as Discord serves them, beside interaction webhooks on the same routes.

``/webhooks/{id}/{token}`` is both an interaction's follow-up route (``id`` is the
application, ``token`` the interaction's) and a channel webhook's execute route; the
handlers here serve whichever the id and token name.

Rules applied, as on Discord:

* creating or listing a channel's webhooks needs ``MANAGE_WEBHOOKS`` (403, code 50013);
* at most ``MAX_WEBHOOKS_PER_CHANNEL`` (15) per channel (400, code 30007);
* a webhook's name may not contain "clyde" or "discord" (400, code 50035);
* executing posts a message authored by the webhook (``webhook_id``, the ``username``
  asked for, ``bot: true``), returned only with ``?wait=true`` (204 otherwise);
  ``message_reference`` is not a webhook field (a webhook cannot reply) and is ignored;
* whom a message notifies follows its ``allowed_mentions`` (``mentions.py``);
* a webhook edits and deletes only its own messages (404 Unknown Message otherwise);
* every execute, edit and delete spends the webhook's budget (5 per 2 s, in the
  rate-limit middleware).
"""

from __future__ import annotations

import secrets
from typing import Any

from aiohttp import web

from tests.fakes.fake_discord import events, payloads, rest_messages
from tests.fakes.fake_discord.rest import API_PREFIX, JSON_BODY, RestContext, ctx_of, error
from tests.fakes.fake_discord.world import FakeWebhook, StoredMessage

MANAGE_WEBHOOKS = 1 << 29
ADMINISTRATOR = 1 << 3
MAX_WEBHOOKS_PER_CHANNEL = 15
WEBHOOK_INCOMING = 1


def webhook_payload(webhook: FakeWebhook, ctx: RestContext) -> dict[str, Any]:
    """A webhook object (with its token, as Discord shows it to whoever may manage it)."""
    creator = ctx.world.users.get(webhook.creator_id)
    return {
        "id": str(webhook.id),
        "type": WEBHOOK_INCOMING,
        "guild_id": str(webhook.guild_id) if webhook.guild_id else None,
        "channel_id": str(webhook.channel_id),
        "name": webhook.name,
        "avatar": None,
        "token": webhook.token,
        "application_id": str(webhook.application_id) if webhook.application_id else None,
        **({"user": payloads.user(creator)} if creator is not None else {}),
    }


def _may_manage(ctx: RestContext, channel_id: int) -> bool:
    bits = ctx.world.bot_permissions(channel_id)
    return bool(bits & (MANAGE_WEBHOOKS | ADMINISTRATOR))


async def create_webhook(request: web.Request) -> web.Response:
    """``POST /channels/{channel}/webhooks``."""
    ctx = ctx_of(request)
    channel_id = int(request.match_info["channel"])
    channel = ctx.world.channel(channel_id)
    if channel is None:
        return error(404, "Unknown Channel", 10003)
    if not _may_manage(ctx, channel_id):
        return error(403, "Missing Permissions", 50013)
    name = str((request[JSON_BODY] or {}).get("name") or "")
    if not 1 <= len(name) <= 80 or any(w in name.lower() for w in ("clyde", "discord")):
        return error(400, "Invalid Form Body: name", 50035)
    if sum(w.channel_id == channel_id for w in ctx.world.webhooks) >= MAX_WEBHOOKS_PER_CHANNEL:
        return error(400, "Maximum number of webhooks reached (15)", 30007)
    webhook = FakeWebhook(id=ctx.world.snowflakes.next(), token=secrets.token_urlsafe(48),
                          channel_id=channel_id, guild_id=channel.guild_id, name=name,
                          application_id=ctx.world.application_id,
                          creator_id=ctx.world.bot_user.id)
    ctx.world.webhooks.append(webhook)
    return web.json_response(webhook_payload(webhook, ctx))


async def list_webhooks(request: web.Request) -> web.Response:
    """``GET /channels/{channel}/webhooks``."""
    ctx = ctx_of(request)
    channel_id = int(request.match_info["channel"])
    if not _may_manage(ctx, channel_id):
        return error(403, "Missing Permissions", 50013)
    return web.json_response([webhook_payload(w, ctx) for w in ctx.world.webhooks
                              if w.channel_id == channel_id])


def _channel_webhook(request: web.Request) -> FakeWebhook | None:
    """The channel webhook the route names, if the id is one (else an interaction's)."""
    world = ctx_of(request).world
    try:
        webhook = world.webhook(int(request.match_info["app"]))
    except ValueError:
        return None
    return webhook


def _token_ok(webhook: FakeWebhook, request: web.Request) -> bool:
    return secrets.compare_digest(webhook.token, request.match_info["token"])


async def execute(request: web.Request) -> web.Response:
    """``POST /webhooks/{id}/{token}``: a channel webhook's execute, or a follow-up."""
    webhook = _channel_webhook(request)
    if webhook is None:
        return await rest_messages.followup(request)
    if not _token_ok(webhook, request):
        return error(401, "Invalid Webhook Token", 50027)
    ctx = ctx_of(request)
    body = request[JSON_BODY] or {}
    if not body.get("content") and not body.get("embeds"):
        return error(400, "Cannot send an empty message", 50006)
    if (refused := rest_messages.invalid_body(body)) is not None:
        return refused
    username = str(body.get("username") or webhook.name)
    if any(w in username.lower() for w in ("clyde", "discord")) or len(username) > 80:
        return error(400, "Invalid Form Body: username", 50035)
    author = {**payloads.user(ctx.world.bot_user), "id": str(webhook.id), "username": username,
              "discriminator": "0000", "bot": True}
    message_id = ctx.world.snowflakes.next()
    payload = payloads.message(message_id=message_id, channel_id=webhook.channel_id,
                               author=ctx.world.bot_user, content=str(body.get("content") or ""),
                               guild_id=webhook.guild_id, webhook_id=webhook.id,
                               application_id=webhook.application_id)
    payload["author"] = author
    payload["embeds"] = body.get("embeds") or []
    payload["flags"] = int(body.get("flags") or 0)
    stored = StoredMessage(message_id, webhook.channel_id, webhook.id, payload,
                           avatar_url=body.get("avatar_url"))
    rest_messages.note_mentions(None, stored, body)  # a webhook cannot reply: no replied user
    ctx.world.messages.setdefault(webhook.channel_id, []).append(stored)
    await ctx.echo("MESSAGE_CREATE", payload)
    if request.query.get("wait") == "true":
        return web.json_response(payload)
    return web.Response(status=204)


def _own_message(webhook: FakeWebhook, request: web.Request) -> StoredMessage | None:
    stored = ctx_of(request).world.find_message(int(request.match_info["message"]))
    if stored is None or str(stored.payload.get("webhook_id")) != str(webhook.id):
        return None
    return stored


async def message(request: web.Request) -> web.Response:
    """GET/PATCH/DELETE ``/webhooks/{id}/{token}/messages/{message}``."""
    webhook = _channel_webhook(request)
    if webhook is None:
        return await rest_messages.webhook_message(request)
    if not _token_ok(webhook, request):
        return error(401, "Invalid Webhook Token", 50027)
    stored = _own_message(webhook, request)
    if stored is None:
        return error(404, "Unknown Message", 10008)
    ctx = ctx_of(request)
    if request.method == "GET":
        return web.json_response(stored.payload)
    if request.method == "DELETE":
        ctx.world.messages[stored.channel_id].remove(stored)
        await ctx.echo("MESSAGE_DELETE", events.message_delete(stored))
        return web.Response(status=204)
    body = request[JSON_BODY] or {}
    if (refused := rest_messages.invalid_body(body)) is not None:
        return refused
    response = rest_messages.edit_message(stored, body, request)
    await ctx.echo("MESSAGE_UPDATE", stored.payload)
    return response


def add_webhook_routes(router: web.UrlDispatcher) -> None:
    """Channel webhook management, and the routes shared with interaction webhooks."""
    channel = f"{API_PREFIX}/channels/{{channel}}"
    router.add_post(f"{channel}/webhooks", create_webhook)
    router.add_get(f"{channel}/webhooks", list_webhooks)
    webhook = f"{API_PREFIX}/webhooks/{{app}}/{{token}}"
    router.add_post(webhook, execute)
    for method in ("GET", "PATCH", "DELETE"):
        router.add_route(method, f"{webhook}/messages/{{message}}", message)
