"""Ollama: ``/api/chat`` NDJSON streaming, warm-up, ``/api/tags`` and ``/api/ps``."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from libra.errors import LLMError, LLMServerError, ModelMissing
from libra.llm.api import LLMRequest, Token
from libra.llm.backends.http import (
    REJECTED_STATUSES,
    HTTPBackend,
    HTTPTimeouts,
    StreamProgress,
    rejected,
)

OLLAMA_OPTIONS = ("num_ctx", "num_predict", "temperature", "num_thread", "num_batch", "stop")
"""Request options Ollama understands; anything else in ``LLMRequest.options`` is dropped."""

_META_TIMEOUT = 10.0


def _model_missing(model: str, server: str) -> ModelMissing:
    return ModelMissing(
        f"model {model!r} is not on the Ollama server {server}",
        hint=f"run `ollama pull {model}` on that server (or `libra models pull {model}`)",
    )


def _is_model_missing(message: str) -> bool:
    lowered = message.lower()
    return "not found" in lowered and "model" in lowered


class OllamaBackend(HTTPBackend):
    """One Ollama server."""

    def __init__(
        self, base_url: str, *, keep_alive: str = "30m", timeouts: HTTPTimeouts | None = None
    ) -> None:
        super().__init__(base_url, timeouts=timeouts)
        self.keep_alive = keep_alive

    def _status_error(self, status: int, body: str, model: str) -> LLMError:
        message = _error_message(body)
        if status == 404 and _is_model_missing(message):
            return _model_missing(model, self.name)
        if status in REJECTED_STATUSES:
            return rejected(self.name, status, message)
        return LLMServerError(
            f"Ollama server {self.name} answered {status}: {message}",
            hint="see the Ollama server's log",
        )

    def _body(self, request: LLMRequest) -> dict[str, Any]:
        options = {k: v for k, v in request.options.items()
                   if k in OLLAMA_OPTIONS and v is not None}
        stop = options.pop("stop", None)
        if isinstance(stop, list | tuple) and stop:
            options["stop"] = list(stop)
        return {
            "model": request.model,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            "stream": True,
            "options": options,
            "keep_alive": self.keep_alive,
        }

    async def stream(self, request: LLMRequest) -> AsyncIterator[Token]:
        """Stream the answer; closing the iterator closes the HTTP connection.

        Raises:
            LLMUnreachable, ModelMissing, LLMTimeout, StreamCut, LLMServerError.
        """
        progress = StreamProgress()
        async with self._request(
            "POST", "/api/chat", request.model, self._body(request),
            timeout=self.timeouts.first_token,
        ) as resp:
            async for line in self._lines(resp, progress):
                record = self._record(line)
                if error := record.get("error"):
                    if _is_model_missing(str(error)):
                        raise _model_missing(request.model, self.name)
                    raise LLMServerError(f"Ollama server {self.name} failed: {error}")
                text = (record.get("message") or {}).get("content") or ""
                if text:
                    progress.parts.append(text)
                    yield Token(text=text)
                if record.get("done"):
                    yield Token(
                        text="",
                        done=True,
                        prompt_tokens=record.get("prompt_eval_count"),
                        completion_tokens=record.get("eval_count"),
                    )
                    return

    async def warm(self, model: str, keep_alive: str) -> None:
        """Load ``model`` by sending an empty prompt with ``keep_alive``.

        Raises:
            LLMUnreachable, ModelMissing, LLMServerError.
        """
        body = {"model": model, "prompt": "", "keep_alive": keep_alive, "stream": False}
        async with self._request(
            "POST", "/api/generate", model, body, timeout=self.timeouts.first_token
        ) as resp:
            await resp.read()

    async def models(self) -> list[str]:
        """Models the server has (``/api/tags``)."""
        return await self._names("/api/tags")

    async def loaded(self) -> list[str]:
        """Models loaded in memory right now (``/api/ps``)."""
        return await self._names("/api/ps")

    async def _names(self, path: str) -> list[str]:
        async with self._request("GET", path, "", timeout=_META_TIMEOUT) as resp:
            data = await resp.json()
        return [str(m.get("name") or m.get("model")) for m in data.get("models", [])]


def _error_message(body: str) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        return body.strip()
    if isinstance(data, dict) and "error" in data:
        return str(data["error"])
    return body.strip()
