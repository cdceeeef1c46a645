"""File attachments as Discord takes them: multipart ``files[n]`` beside ``payload_json``.

Rules applied, as Discord does:

* each entry of the JSON ``attachments`` array either names an upload (its ``id`` is
  the ``n`` of ``files[n]``) or an attachment the message already has (kept on edit);
  an entry naming neither, or an upload no entry names, is a 400;
* without an ``attachments`` array, uploads are attached as they are (on create) and
  an edit keeps the message's attachments;
* a file over the size limit (the ``attachment_size_limit`` of an interaction, else
  the world's) is refused with 413, code 40005, and nothing of the request is applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.fakes.fake_discord.world import World

UPLOADS = web.RequestKey("fake_discord_uploads", list)
"""The request's uploaded files (``Upload``), in form order."""

CDN = "https://cdn.discordapp.com/attachments"


@dataclass(frozen=True)
class Upload:
    """One ``files[n]`` part of a multipart request."""

    field: str
    filename: str
    content_type: str
    data: bytes


def _error(status: int, message: str, code: int) -> web.Response:
    return web.json_response({"message": message, "code": code}, status=status)


def uploads_of(form: Any) -> list[Upload]:
    """The file parts of a parsed multipart form."""
    return [Upload(name, value.filename, value.content_type, value.file.read())
            for name, value in form.items() if isinstance(value, web.FileField)]


def apply_attachments(world: World, payload: dict[str, Any], body: dict[str, Any],
                      uploads: list[Upload], *, limit: int | None = None) -> web.Response | None:
    """Set ``payload["attachments"]`` from the request; an error response if refused.

    Nothing is changed when the request is refused.
    """
    limit = world.attachment_size_limit if limit is None else limit
    files = {upload.field: upload for upload in uploads}
    if any(len(upload.data) > limit for upload in uploads):
        return _error(413, "Request entity too large", 40005)
    entries = body.get("attachments")
    if entries is None:
        if not files:
            return None  # an edit without the array keeps what the message has
        entries = [{"id": field.removeprefix("files[").rstrip("]")} for field in files]
    existing = {str(a["id"]): a for a in payload.get("attachments") or []}
    result: list[dict[str, Any]] = []
    named: set[str] = set()
    for entry in entries:
        key = f"files[{entry.get('id')}]"
        if key in files:
            named.add(key)
            result.append(_attachment(world, payload, files[key], entry))
        elif str(entry.get("id")) in existing:
            result.append(existing[str(entry["id"])])
        else:
            return _error(400, "Invalid Form Body: attachments: unknown attachment id "
                          f"{entry.get('id')!r}", 50035)
    if set(files) - named:
        return _error(400, "Invalid Form Body: attachments: every file needs an entry", 50035)
    payload["attachments"] = result
    return None


def _attachment(world: World, payload: dict[str, Any], upload: Upload,
                entry: dict[str, Any]) -> dict[str, Any]:
    attachment_id = world.snowflakes.next()
    filename = str(entry.get("filename") or upload.filename)
    world.attachments[attachment_id] = upload.data
    url = f"{CDN}/{payload['channel_id']}/{attachment_id}/{filename}"
    attachment: dict[str, Any] = {
        "id": str(attachment_id), "filename": filename, "size": len(upload.data),
        "url": url, "proxy_url": url, "content_type": upload.content_type,
    }
    if int(payload.get("flags") or 0) & 64:
        attachment["ephemeral"] = True
    return attachment
