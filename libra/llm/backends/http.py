"""What the HTTP backends share: one session, error mapping, timed line reading.

Both Ollama (NDJSON) and OpenAI-compatible servers (SSE) stream one record per
line, so the only differences left to the subclasses are the request body and how
a line becomes a :class:`Token`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from libra.config_urls import redact_url
from libra.errors import (
    LLMError,
    LLMRequestRejected,
    LLMServerError,
    LLMTimeout,
    LLMUnreachable,
    StreamCut,
)

_ERROR_BODY_LIMIT = 2000


REJECTED_STATUSES = frozenset({400, 413, 422})
"""Statuses that blame the request, not the server (see :class:`LLMRequestRejected`)."""


def rejected(server: str, status: int, message: str) -> LLMRequestRejected:
    """The failure for a request the server refused as such."""
    return LLMRequestRejected(
        f"LLM server {server} refused the request ({status}): {message}",
        hint="a shorter conversation (/reset) or smaller llm options (num_ctx, num_predict)",
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class HTTPTimeouts:
    """How long each phase of a request may take, in seconds."""

    connect: float = 5.0
    first_token: float = 120.0
    idle: float = 30.0


@dataclass(slots=True)
class StreamProgress:
    """Text received so far, so a failure can hand the partial answer on."""

    parts: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        """Everything received so far."""
        return "".join(self.parts)


class HTTPBackend:
    """Base of the HTTP backends: owns an ``aiohttp`` session created on first use."""

    def __init__(
        self,
        base_url: str,
        *,
        timeouts: HTTPTimeouts | None = None,
        api_key: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        # The name appears in errors, health details and events; the URL keeps the password.
        self.name = redact_url(self.base_url)
        self.timeouts = timeouts or HTTPTimeouts()
        self._api_key = api_key
        self._session: aiohttp.ClientSession | None = None

    # -- session --------------------------------------------------------------------

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            timeout = aiohttp.ClientTimeout(
                total=None, connect=self.timeouts.connect, sock_connect=self.timeouts.connect
            )
            headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
            self._session = aiohttp.ClientSession(timeout=timeout, headers=headers)
        return self._session

    async def close(self) -> None:
        """Close the HTTP session (idempotent)."""
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    # -- errors ---------------------------------------------------------------------

    def _unreachable(self, err: BaseException) -> LLMUnreachable:
        return LLMUnreachable(
            f"cannot reach LLM server {self.name}: {err or type(err).__name__}",
            hint=f"check that the server runs and that llm.servers lists {self.name}",
        )

    def _status_error(self, status: int, body: str, model: str) -> LLMError:
        """Map an error status to a typed failure (subclasses add model-missing rules)."""
        if status in REJECTED_STATUSES:
            return rejected(self.name, status, body)
        hint = "check llm.api_key" if status in (401, 403) else "see the server's log"
        return LLMServerError(f"LLM server {self.name} answered {status}: {body}", hint=hint)

    # -- requests -------------------------------------------------------------------

    @asynccontextmanager
    async def _request(
        self, method: str, path: str, model: str, body: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """Send a request and yield the response; a non-2xx status raises a typed error.

        A response that was not read to its end is closed rather than released, so an
        abandoned stream really disconnects and the server stops generating.
        """
        try:
            async with asyncio.timeout(timeout):
                response = await self._client().request(method, self.base_url + path, json=body)
        except aiohttp.ClientError as err:
            # First: aiohttp's connect timeout is also a TimeoutError, but a host that
            # never completes the handshake is unreachable, not a slow model.
            raise self._unreachable(err) from err
        except TimeoutError as err:
            raise LLMTimeout(
                f"{self.name} did not answer within {timeout:g}s",
                hint="raise llm.first_token_timeout or use a smaller model",
            ) from err
        try:
            if response.status >= 400:
                try:
                    text = (await response.text())[:_ERROR_BODY_LIMIT]
                except (aiohttp.ClientError, UnicodeDecodeError):
                    text = ""
                raise self._status_error(response.status, text, model)
            yield response
        finally:
            if response.content.is_eof():
                response.release()
            else:
                response.close()

    async def _lines(
        self, response: aiohttp.ClientResponse, progress: StreamProgress
    ) -> AsyncIterator[bytes]:
        """Yield non-empty lines; waits ``first_token`` before text arrives, then ``idle``.

        Raises:
            LLMTimeout: nothing arrived before the first-token timeout.
            StreamCut: the connection broke, went idle, or ended without finishing.
        """
        while True:
            waiting_first = not progress.parts
            limit = self.timeouts.first_token if waiting_first else self.timeouts.idle
            try:
                async with asyncio.timeout(limit):
                    line = await response.content.readline()
            except TimeoutError as err:
                if waiting_first:
                    raise LLMTimeout(
                        f"no answer from {self.name} within {limit:g}s",
                        hint="raise llm.first_token_timeout or use a smaller model",
                    ) from err
                raise StreamCut(
                    f"{self.name} stopped sending for {limit:g}s", partial=progress.text
                ) from err
            except aiohttp.ClientError as err:
                raise StreamCut(
                    f"connection to {self.name} broke mid-answer: {err}", partial=progress.text
                ) from err
            if not line:
                raise StreamCut(
                    f"{self.name} closed the stream before the answer finished",
                    partial=progress.text,
                )
            stripped = line.strip()
            if stripped:
                yield stripped

    def _record(self, line: bytes) -> dict[str, Any]:
        """Decode one JSON object line.

        Raises:
            LLMServerError: the server sent something that is not a JSON object.
        """
        try:
            data = json.loads(line)
        except ValueError as err:
            raise LLMServerError(
                f"{self.name} sent a line that is not JSON: {line[:80]!r}"
            ) from err
        if not isinstance(data, dict):
            raise LLMServerError(f"{self.name} sent a JSON line that is not an object")
        return data
