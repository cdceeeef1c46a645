"""OpenAI-compatible servers (llama.cpp server, vLLM, LM Studio): SSE chat completions."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from libra.errors import LLMError, LLMServerError, ModelMissing, StreamCut
from libra.llm.api import LLMRequest, Token
from libra.llm.backends.http import HTTPBackend, HTTPTimeouts, StreamProgress

_META_TIMEOUT = 10.0


class OpenAIBackend(HTTPBackend):
    """One OpenAI-compatible server; ``base_url`` may or may not end in ``/v1``."""

    def __init__(
        self, base_url: str, *, api_key: str | None = None, timeouts: HTTPTimeouts | None = None
    ) -> None:
        super().__init__(base_url.rstrip("/").removesuffix("/v1"), timeouts=timeouts,
                         api_key=api_key)

    def _status_error(self, status: int, body: str, model: str) -> LLMError:
        if status == 404 and "model" in body.lower():
            return ModelMissing(
                f"model {model!r} is not served by {self.name}",
                hint="load the model on that server or fix llm.routes / llm.default_model",
            )
        return super()._status_error(status, body, model)

    @staticmethod
    def _body(request: LLMRequest, *, stream: bool) -> dict[str, Any]:
        opts = request.options
        body: dict[str, Any] = {
            "model": request.model,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            "stream": stream,
        }
        if stream:
            body["stream_options"] = {"include_usage": True}
        if opts.get("num_predict") is not None:
            body["max_tokens"] = opts["num_predict"]
        if opts.get("temperature") is not None:
            body["temperature"] = opts["temperature"]
        stop = opts.get("stop")
        if isinstance(stop, list | tuple) and stop:
            body["stop"] = list(stop)
        return body

    async def stream(self, request: LLMRequest) -> AsyncIterator[Token]:
        """Stream the answer from ``/v1/chat/completions``.

        Raises:
            LLMUnreachable, ModelMissing, LLMTimeout, StreamCut, LLMServerError.
        """
        progress = StreamProgress()
        body = self._body(request, stream=True)
        finished = False
        async with self._request(
            "POST", "/v1/chat/completions", request.model, body, timeout=self.timeouts.first_token
        ) as resp:
            lines = self._lines(resp, progress)
            while True:
                try:
                    line = await anext(lines)
                except StreamCut:
                    if not finished:
                        raise
                    # finish_reason came, then the server closed without [DONE] or a
                    # usage chunk (some llama.cpp builds): the answer is complete.
                    yield Token(text="", done=True)
                    return
                if line.startswith(b"error:"):
                    # llama.cpp's server (and so the embedded backend) reports a failure
                    # found after the headers this way, then still sends [DONE].
                    raise LLMServerError(f"{self.name} failed: {_error_text(line[6:])}")
                if not line.startswith(b"data:"):
                    continue  # SSE comments and event names carry nothing for us
                payload = line[5:].strip()
                if payload == b"[DONE]":
                    yield Token(text="", done=True)
                    return
                record = self._record(payload)
                if error := record.get("error"):
                    raise LLMServerError(f"{self.name} failed mid-answer: {error}")
                for choice in record.get("choices") or []:
                    text = (choice.get("delta") or {}).get("content") or ""
                    if text:
                        progress.parts.append(text)
                        yield Token(text=text)
                    finished = finished or bool(choice.get("finish_reason"))
                usage = record.get("usage")
                if usage and finished:
                    # The usage chunk comes last (before [DONE]); it ends the answer.
                    yield Token(
                        text="",
                        done=True,
                        prompt_tokens=usage.get("prompt_tokens"),
                        completion_tokens=usage.get("completion_tokens"),
                    )
                    return

    async def warm(self, model: str, keep_alive: str) -> None:
        """Generate one token so the server has the model loaded and its caches hot.

        Raises:
            LLMUnreachable, ModelMissing, LLMServerError.
        """
        del keep_alive  # OpenAI-compatible servers keep their model loaded themselves
        body = {"model": model, "messages": [{"role": "user", "content": "hi"}],
                "max_tokens": 1, "stream": False}
        async with self._request(
            "POST", "/v1/chat/completions", model, body, timeout=self.timeouts.first_token
        ) as resp:
            await resp.read()

    async def models(self) -> list[str]:
        """Models the server serves (``/v1/models``)."""
        async with self._request("GET", "/v1/models", "", timeout=_META_TIMEOUT) as resp:
            data = await resp.json()
        return [str(m.get("id")) for m in data.get("data", [])]


def _error_text(payload: bytes) -> str:
    """The message of an SSE error payload (JSON with ``message``, or plain text)."""
    text = payload.decode("utf-8", "replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        return text[:500]
    if isinstance(data, dict):
        inner = data.get("error", data)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])[:500]
    return text[:500]
