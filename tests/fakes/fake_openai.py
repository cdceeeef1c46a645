"""A fake OpenAI-compatible server (llama.cpp server / vLLM / LM Studio style).

Routes: ``POST /v1/chat/completions`` (``stream: true`` answers with SSE
``data: {chunk}`` lines, a ``finish_reason`` chunk, a usage chunk when
``stream_options.include_usage`` is set, then ``data: [DONE]``) and
``GET /v1/models``. Set ``api_key`` to demand ``Authorization: Bearer <key>``
(401 otherwise). Set ``stream_error`` to end the stream as llama.cpp's server
reports a failure after the headers went out: an ``error: {...}`` SSE line, then
``data: [DONE]``. ``sends_done = False`` imitates servers (ik_llama.cpp, older
llama.cpp builds) that ignore ``stream_options`` and close the stream after the
``finish_reason`` chunk without ``[DONE]``. Knobs and recordings: see
``tests/fakes/fake_llm_base.py``; fixture ``fake_openai`` in ``tests/fakes/conftest_llm.py``.
"""

from __future__ import annotations

import json
import time
from typing import Any

from aiohttp import web

from tests.fakes.fake_llm_base import FakeLLMServer, split_tokens


class FakeOpenAI(FakeLLMServer):
    """Fake OpenAI-compatible server; see the module docstring."""

    api_key: str | None = None
    stream_error: dict[str, Any] | None = None
    sends_done = True

    def routes(self, app: web.Application) -> None:
        """The OpenAI routes Libra uses."""
        app.router.add_post("/v1/chat/completions", self._completions)
        app.router.add_get("/v1/models", self._models)

    def _unauthorised(self, request: web.Request) -> web.Response | None:
        if self.api_key and request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return web.json_response(
                {"error": {"message": "Invalid API Key", "type": "authentication_error"}},
                status=401,
            )
        return None

    def _chunk(self, model: str, delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
        return {"id": "chatcmpl-fake", "object": "chat.completion.chunk",
                "created": int(time.time()), "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    @staticmethod
    def _sse(data: dict[str, Any] | str) -> bytes:
        payload = data if isinstance(data, str) else json.dumps(data)
        return f"data: {payload}\n\n".encode()

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        recorded = await self.record(request)
        if (denied := self._unauthorised(request)) is not None:
            return denied
        body = recorded.body
        model = str(body.get("model"))
        if model not in self.models:
            return web.json_response(
                {"error": {"message": f"The model `{model}` does not exist.",
                           "type": "invalid_request_error", "code": "model_not_found"}},
                status=404,
            )
        if self.fail_status is not None:
            return web.json_response({"error": {"message": self.fail_message}},
                                     status=self.fail_status)
        self.loaded.add(model)
        tokens = split_tokens(self.answer_for(body))
        usage = {"prompt_tokens": self.prompt_tokens(body), "completion_tokens": len(tokens),
                 "total_tokens": self.prompt_tokens(body) + len(tokens)}
        if not body.get("stream"):
            return web.json_response({
                "id": "chatcmpl-fake", "object": "chat.completion", "model": model,
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": "".join(tokens)}}],
                "usage": usage,
            })
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))

        async def final() -> bytes:
            if self.stream_error is not None:
                return f"error: {json.dumps(self.stream_error)}\n\n".encode() + self._sse("[DONE]")
            out = self._sse(self._chunk(model, {}, "stop"))
            if not self.sends_done:
                return out
            if include_usage:
                out += self._sse({"id": "chatcmpl-fake", "object": "chat.completion.chunk",
                                  "model": model, "choices": [], "usage": usage})
            return out + self._sse("[DONE]")

        await self.stream_tokens(
            request, response, tokens,
            lambda token: self._sse(self._chunk(model, {"content": token}, None)), final,
        )
        return response

    async def _models(self, request: web.Request) -> web.Response:
        await self.record(request)
        if (denied := self._unauthorised(request)) is not None:
            return denied
        return web.json_response({"object": "list", "data": [
            {"id": m, "object": "model", "owned_by": "fake"} for m in sorted(self.models)
        ]})
