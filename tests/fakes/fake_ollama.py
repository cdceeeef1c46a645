"""A fake Ollama server speaking the real HTTP protocol (NDJSON streaming).

Routes: ``POST /api/chat``, ``POST /api/generate`` (an empty prompt loads the
model, as Ollama does), ``GET /api/tags``, ``GET /api/ps``. Missing models get
Ollama's 404 ``{"error": "model \\"x\\" not found, try pulling it first"}``.

Use it through the pytest fixtures in ``tests/fakes/conftest_llm.py``::

    async def test_reply(fake_ollama):          # a started FakeOllama
        fake_ollama.answers["hi"] = "Hello there!"
        fake_ollama.tokens_per_second = 50
        settings = Settings(llm=LLMSettings(servers=(fake_ollama.url,)))
        ...
        assert fake_ollama.requests[-1].body["model"] == "llama3:8b-instruct-q4_K_M"

Behaviour knobs and recordings are described in ``tests/fakes/fake_llm_base.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import time
from typing import Any

from aiohttp import web

from tests.fakes.fake_llm_base import FakeLLMServer, split_tokens


def _stamp() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000000000Z", time.gmtime())


DEFAULT_MODEL_SIZE = 4_000_000_000
"""Bytes ``/api/tags`` and ``/api/ps`` report for a model (a 7B q4 model's download)."""


class FakeOllama(FakeLLMServer):
    """Fake Ollama; see the module docstring."""

    def __init__(self, *, model_sizes: dict[str, int] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.model_sizes: dict[str, int] = dict(model_sizes or {})
        """Size per model in ``/api/tags`` and ``/api/ps`` (default
        :data:`DEFAULT_MODEL_SIZE`)."""

    def routes(self, app: web.Application) -> None:
        """Ollama's API routes."""
        app.router.add_post("/api/chat", self._chat)
        app.router.add_post("/api/generate", self._generate)
        app.router.add_get("/api/tags", self._tags)
        app.router.add_get("/api/ps", self._ps)

    def _refusal(self, model: str) -> web.Response | None:
        if model not in self.models:
            return web.json_response(
                {"error": f'model "{model}" not found, try pulling it first'}, status=404
            )
        if self.fail_status is not None:
            return web.json_response({"error": self.fail_message}, status=self.fail_status)
        return None

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        recorded = await self.record(request)
        body = recorded.body
        model = str(body.get("model"))
        if (refusal := self._refusal(model)) is not None:
            return refusal
        self.loaded.add(model)
        tokens = split_tokens(self.answer_for(body))
        if body.get("stream") is False:
            return web.json_response(self._chunk(model, "".join(tokens), done=True, body=body))
        response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        await response.prepare(request)

        async def final() -> bytes:
            return self._line(self._chunk(model, "", done=True, body=body, count=len(tokens)))

        await self.stream_tokens(
            request, response, tokens,
            lambda token: self._line(self._chunk(model, token, done=False, body=body)), final,
        )
        return response

    def _chunk(
        self, model: str, text: str, *, done: bool, body: dict[str, Any], count: int = 0
    ) -> dict[str, Any]:
        chunk: dict[str, Any] = {
            "model": model,
            "created_at": _stamp(),
            "message": {"role": "assistant", "content": text},
            "done": done,
        }
        if done:
            chunk.update(
                done_reason="stop", total_duration=1000, load_duration=10,
                prompt_eval_count=self.prompt_tokens(body), prompt_eval_duration=100,
                eval_count=count, eval_duration=500,
            )
        return chunk

    @staticmethod
    def _line(data: dict[str, Any]) -> bytes:
        return json.dumps(data).encode() + b"\n"

    async def _generate(self, request: web.Request) -> web.StreamResponse:
        recorded = await self.record(request)
        body = recorded.body
        model = str(body.get("model"))
        if (refusal := self._refusal(model)) is not None:
            return refusal
        prompt = str(body.get("prompt") or "")
        if not prompt:
            if self.warm_delay:
                await asyncio.sleep(self.warm_delay)
            self.loaded.add(model)
            return web.json_response({"model": model, "created_at": _stamp(), "response": "",
                                      "done": True, "done_reason": "load"})
        self.loaded.add(model)
        tokens = split_tokens(self.answer_for(body, prompt))
        response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        await response.prepare(request)

        async def final() -> bytes:
            return self._line({"model": model, "response": "", "done": True,
                               "done_reason": "stop", "eval_count": len(tokens)})

        await self.stream_tokens(
            request, response, tokens,
            lambda t: self._line({"model": model, "response": t, "done": False}), final,
        )
        return response

    async def _tags(self, request: web.Request) -> web.Response:
        await self.record(request)
        return web.json_response({"models": [
            {"name": m, "model": m, "modified_at": _stamp(),
             "size": self.model_sizes.get(m, DEFAULT_MODEL_SIZE),
             "digest": "0" * 64, "details": {"format": "gguf"}} for m in sorted(self.models)
        ]})

    async def _ps(self, request: web.Request) -> web.Response:
        await self.record(request)
        return web.json_response({"models": [
            {"name": m, "model": m, "size": self.model_sizes.get(m, DEFAULT_MODEL_SIZE),
             "digest": "0" * 64,
             "expires_at": "2099-01-01T00:00:00Z", "size_vram": 0}
            for m in sorted(self.loaded)
        ]})


async def _serve(args: argparse.Namespace) -> None:
    fake = FakeOllama(tokens_per_second=args.tokens_per_second,
                      first_token_delay=args.first_token_delay)
    fake.port = args.port
    await fake.start()
    print(fake.url, flush=True)  # the parent process reads the URL from this line
    try:
        await asyncio.Event().wait()
    finally:
        await fake.stop()


def main() -> None:
    """Run a fake Ollama in its own process: ``python -m tests.fakes.fake_ollama``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--tokens-per-second", type=float, default=0.0)
    parser.add_argument("--first-token-delay", type=float, default=0.0)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(parser.parse_args()))


if __name__ == "__main__":
    main()
