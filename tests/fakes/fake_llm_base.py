"""Shared machinery of the fake LLM servers (``fake_ollama``, ``fake_openai``).

A fake is a real aiohttp server on a loopback port. Its behaviour is plain
attributes that a test may change at any time (they are read per request):

- ``answers``: last user message -> scripted answer; else ``default_answer``;
  ``answer_fn(body)`` overrides both when set.
- ``tokens_per_second`` (0 = as fast as possible) and ``first_token_delay`` (s).
- ``models``: what the server has; other models get the server's 404.
- ``fail_status`` / ``fail_message``: answer every generation with that error.
- ``disconnect_after``: abort the connection after that many tokens (a crash
  mid-answer); ``kill()`` does the same to every open stream and stops listening.

It records ``requests`` (path + JSON body), ``disconnects`` (streams the client
closed before the end; ``disconnected`` is set on each) and ``completed``.
"""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

_TOKEN_RE = re.compile(r"\s*\S+|\s+")


def split_tokens(text: str) -> list[str]:
    """Split text the way a model streams it: words with their leading spaces."""
    return _TOKEN_RE.findall(text)


@dataclass
class RecordedRequest:
    """One request the fake received."""

    method: str
    path: str
    body: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


class FakeLLMServer:
    """Base: lifecycle, recording, and the timed token loop."""

    def __init__(
        self,
        *,
        models: tuple[str, ...] = ("llama3:8b-instruct-q4_K_M", "qwen2.5:7b-instruct"),
        default_answer: str = "Hello! I am a fake model and this is my answer.",
        tokens_per_second: float = 0.0,
        first_token_delay: float = 0.0,
    ) -> None:
        self.models: set[str] = set(models)
        self.default_answer = default_answer
        self.answers: dict[str, str] = {}
        self.answer_fn: Callable[[dict[str, Any]], str] | None = None
        self.tokens_per_second = tokens_per_second
        self.first_token_delay = first_token_delay
        self.fail_status: int | None = None
        self.fail_message = "internal error"
        self.disconnect_after: int | None = None
        self.warm_delay = 0.0
        self.requests: list[RecordedRequest] = []
        self.disconnects = 0
        self.completed = 0
        self.disconnected = asyncio.Event()
        self.streaming = 0
        """Generations being streamed right now."""
        self.peak_streaming = 0
        """The most generations ever streamed at once (what a concurrency limit must cap)."""
        self.loaded: set[str] = set()
        self._runner: web.AppRunner | None = None
        self._transports: set[asyncio.BaseTransport] = set()
        self.port = 0

    # -- lifecycle -------------------------------------------------------------------

    def routes(self, app: web.Application) -> None:
        """Add the protocol's routes (subclasses)."""
        raise NotImplementedError

    @property
    def model_calls(self) -> list[RecordedRequest]:
        """The requests that asked a model for text (not health probes such as the
        running process's heartbeat listing models)."""
        return [r for r in self.requests
                if r.path in ("/api/chat", "/api/generate", "/v1/chat/completions")]

    @property
    def url(self) -> str:
        """Base URL of the server."""
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> FakeLLMServer:
        """Listen on a free loopback port."""
        app = web.Application()
        self.routes(app)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None,
                                     shutdown_timeout=0.5)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()
        return self

    async def kill(self) -> None:
        """Crash: stop listening and abort every open connection mid-stream."""
        for transport in list(self._transports):
            transport.abort()  # type: ignore[attr-defined]
        await self.stop()

    async def stop(self) -> None:
        """Stop listening and close connections (idempotent)."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    # -- helpers ---------------------------------------------------------------------

    async def record(self, request: web.Request) -> RecordedRequest:
        """Store the request and return it."""
        body: dict[str, Any] = {}
        if request.can_read_body:
            body = await request.json()
        recorded = RecordedRequest(request.method, request.path, body, dict(request.headers))
        self.requests.append(recorded)
        return recorded

    def answer_for(self, body: dict[str, Any], prompt: str | None = None) -> str:
        """The scripted answer for this request."""
        if self.answer_fn is not None:
            return self.answer_fn(body)
        if prompt is None:
            users = [m for m in body.get("messages", []) if m.get("role") == "user"]
            prompt = users[-1]["content"] if users else ""
        return self.answers.get(prompt, self.default_answer)

    async def stream_tokens(
        self,
        request: web.Request,
        response: web.StreamResponse,
        tokens: list[str],
        line: Callable[[str], bytes],
        final: Callable[[], Awaitable[bytes | None]],
    ) -> None:
        """Write one line per token at the configured pace, then ``final()``.

        Records a disconnect when the client goes away before the end.
        """
        transport = request.transport
        if transport is not None:
            self._transports.add(transport)
        self.streaming += 1
        self.peak_streaming = max(self.peak_streaming, self.streaming)
        try:
            if self.first_token_delay:
                await asyncio.sleep(self.first_token_delay)
            for index, token in enumerate(tokens):
                if self.disconnect_after is not None and index >= self.disconnect_after:
                    if transport is not None:
                        transport.abort()
                    return
                await response.write(line(token))
                if self.tokens_per_second:
                    await asyncio.sleep(1 / self.tokens_per_second)
            closing = await final()
            if closing:
                await response.write(closing)
            await response.write_eof()
            self.completed += 1
        except ConnectionResetError:
            self.disconnects += 1
            self.disconnected.set()
        finally:
            self.streaming -= 1
            if transport is not None:
                self._transports.discard(transport)

    def prompt_tokens(self, body: dict[str, Any]) -> int:
        """A plausible prompt token count."""
        text = " ".join(str(m.get("content", "")) for m in body.get("messages", []))
        return max(1, len(split_tokens(text)))

    async def wait_disconnect(self, timeout: float = 5.0) -> None:
        """Wait until a client closed a stream early."""
        async with asyncio.timeout(timeout):
            await self.disconnected.wait()
