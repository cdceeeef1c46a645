"""A fake model mirror: a local HTTP server serving files the test builds.

It speaks HTTP as the real hosts do (Alpha Cephei's web server, Hugging Face's CDN):
``Range: bytes=N-`` gets ``206`` with ``Content-Range``, a range past the end gets
``416``, unknown paths ``404``. Knobs per file make it misbehave the way networks do:
cut the connection mid-body, ignore ``Range``, send wrong bytes, send slowly, or
answer an error status. Every request is recorded.

    mirror = FakeModelMirror()
    await mirror.start()
    mirror.add("/models.example/vosk/tiny.zip", data, cut_after=1000, cuts=1)
    settings mirror URL: mirror.url
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field

from aiohttp import web

_RANGE = re.compile(r"^bytes=(\d+)-$")


@dataclass
class ServedFile:
    """A file and how to misbehave while serving it."""

    body: bytes
    """What is served."""
    status: int = 200
    """Answer this status with no body instead (404, 500 ...) when not 200."""
    cut_after: int | None = None
    """Close the connection after this many body bytes of a response ..."""
    cuts: int = 0
    """... for this many responses (then serve normally)."""
    ignore_range: bool = False
    """Answer 200 with the whole file even when a range is asked."""
    chunk: int = 64 * 1024
    """Bytes per write."""
    delay: float = 0.0
    """Seconds between writes (a slow link)."""


@dataclass
class RecordedRequest:
    """One request the mirror received."""

    path: str
    range: str | None
    user_agent: str | None
    started: float = field(default_factory=time.monotonic)
    ended: float | None = None
    """When the response was over (whole, cut, or abandoned by the client)."""


@dataclass
class FakeModelMirror:
    """See the module docstring."""

    files: dict[str, ServedFile] = field(default_factory=dict)
    requests: list[RecordedRequest] = field(default_factory=list)
    sent: dict[str, int] = field(default_factory=dict)
    """Body bytes written per path, over all responses."""
    _runner: web.AppRunner | None = None
    _port: int = 0
    _progress: asyncio.Condition = field(default_factory=asyncio.Condition)

    @property
    def url(self) -> str:
        """Base URL to use as ``voice.models_mirror``."""
        return f"http://127.0.0.1:{self._port}"

    def add(self, path: str, body: bytes, **knobs: object) -> ServedFile:
        """Serve ``body`` at ``path`` (``/<host>/<path>`` of the official URL)."""
        served = ServedFile(body=body, **knobs)  # type: ignore[arg-type]
        self.files[path] = served
        return served

    async def start(self) -> None:
        """Listen on a free loopback port."""
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._serve)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None and server.sockets
        self._port = server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Close the server."""
        if self._runner is not None:
            await self._runner.cleanup()

    async def wait_for_bytes(self, path: str, count: int, timeout: float = 30) -> None:
        """Return once at least ``count`` body bytes of ``path`` were written."""
        async with asyncio.timeout(timeout), self._progress:
            await self._progress.wait_for(lambda: self.sent.get(path, 0) >= count)

    async def wait_for_requests(self, count: int, timeout: float = 30) -> None:
        """Return once at least ``count`` requests arrived."""
        async with asyncio.timeout(timeout), self._progress:
            await self._progress.wait_for(lambda: len(self.requests) >= count)

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        asked = request.headers.get("Range")
        record = RecordedRequest(path=path, range=asked,
                                 user_agent=request.headers.get("User-Agent"))
        async with self._progress:
            self.requests.append(record)
            self._progress.notify_all()
        try:
            return await self._respond(request, path, asked)
        finally:
            record.ended = time.monotonic()

    async def _respond(self, request: web.Request, path: str,
                       asked: str | None) -> web.StreamResponse:
        served = self.files.get(path)
        if served is None:
            return web.Response(status=404, text="not found")
        if served.status != 200:
            return web.Response(status=served.status, text="refused")
        body, start = served.body, 0
        match = _RANGE.match(asked or "")
        if asked and not match:
            return web.Response(status=400, text="only bytes=N- ranges here")
        if match and not served.ignore_range:
            start = int(match.group(1))
            if start >= len(body):
                return web.Response(status=416,
                                    headers={"Content-Range": f"bytes */{len(body)}"})
        resp = web.StreamResponse(status=206 if start else 200)
        resp.content_length = len(body) - start
        resp.headers["Accept-Ranges"] = "bytes"
        if start:
            resp.headers["Content-Range"] = f"bytes {start}-{len(body) - 1}/{len(body)}"
        await resp.prepare(request)
        limit = len(body)
        if served.cut_after is not None and served.cuts > 0:
            served.cuts -= 1
            limit = min(limit, start + served.cut_after)
        position = start
        while position < limit:
            piece = body[position:min(position + served.chunk, limit)]
            try:
                await resp.write(piece)
            except ConnectionResetError:
                return resp  # the client went away (a cancelled pull)
            position += len(piece)
            async with self._progress:
                self.sent[path] = self.sent.get(path, 0) + len(piece)
                self._progress.notify_all()
            if served.delay:
                await asyncio.sleep(served.delay)
        if position < len(body):
            # Cut mid-body: the client sees fewer bytes than Content-Length.
            assert request.transport is not None
            request.transport.abort()
            return resp
        await resp.write_eof()
        return resp
