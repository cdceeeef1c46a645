"""Message components (buttons) and the interactions they create, as Discord runs them.

* A user can press only an enabled button of a message they can see: an ephemeral
  message (flag 64) is seen by the user it answered, nobody else.
* The press is an INTERACTION_CREATE of type 3 (MESSAGE_COMPONENT) carrying the
  message and ``data.custom_id``; like any interaction it must be acknowledged within
  ``interaction_deadline`` seconds of the press (3 on Discord), after which its
  callback is 404 Unknown interaction (10062) — checked in
  ``rest_messages.interaction_callback`` for every interaction.
* Callback types 6 (DEFERRED_UPDATE_MESSAGE) and 7 (UPDATE_MESSAGE) exist only for
  component interactions; the message they update becomes the original response.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tests.fakes.fake_discord.world import FakeUser, StoredMessage

INTERACTION_COMPONENT = 3
COMPONENT_ACTION_ROW, COMPONENT_BUTTON = 1, 2
RESPONSE_DEFERRED_UPDATE, RESPONSE_UPDATE = 6, 7
EPHEMERAL = 64


def numbered(rows: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Components as Discord stores them: each without an ``id`` gets the next number."""
    counter = 0
    out = []
    for given in rows or []:
        counter += 1
        row = {"id": counter, **given}
        children = []
        for child in row.get("components") or []:
            counter += 1
            children.append({"id": counter, **child})
        row["components"] = children
        out.append(row)
    return out


def button(message: StoredMessage, custom_id: str) -> dict[str, Any]:
    """The button ``custom_id`` of ``message``.

    Raises:
        LookupError: the message has no such button.
    """
    for row in message.payload.get("components") or []:
        for component in row.get("components") or []:
            if (component.get("type") == COMPONENT_BUTTON
                    and component.get("custom_id") == custom_id):
                return dict(component)
    msg = f"message {message.id} has no button {custom_id!r}"
    raise LookupError(msg)


def check_press(message: StoredMessage, custom_id: str, user: FakeUser) -> None:
    """Refuse what a Discord client cannot do: press a hidden, missing or disabled button.

    Raises:
        PermissionError: the message is ephemeral and ``user`` is not who sees it.
        LookupError: there is no such button, or it is disabled.
    """
    if int(message.payload.get("flags") or 0) & EPHEMERAL and message.visible_to != user.id:
        msg = f"{user.username} cannot see ephemeral message {message.id}"
        raise PermissionError(msg)
    if button(message, custom_id).get("disabled"):
        msg = f"button {custom_id!r} of message {message.id} is disabled"
        raise LookupError(msg)


def refusal(interaction: dict[str, Any], kind: int) -> web.Response | None:
    """Discord's answer to a callback type it does not take for this interaction, if any."""
    if (kind in (RESPONSE_DEFERRED_UPDATE, RESPONSE_UPDATE)
            and interaction.get("type") != INTERACTION_COMPONENT):
        return web.json_response(
            {"message": f"Invalid Form Body: type: interaction response type {kind} is "
                        "only valid for message components", "code": 50035}, status=400)
    return None
