"""LLM service overhead: added first-token latency and cache-hit reply time.

A fake Ollama runs in its own process with a fixed first-token delay. For each of
N sequential requests (unique prompts, so the cache is consulted and misses) we
measure request -> first text token delivered to the caller and subtract the
fake's delay. For reference the same is measured on the bare Ollama backend
(HTTP + NDJSON only), so the service's own share (cache lookup, queue slot,
failover wrapper, coalescer task, event) is visible. Then N cache hits are timed
from request to the done token.

Targets: added p50 < 5 ms, p99 < 20 ms; full reply on a cache hit p50 < 2 ms.
Prints JSON. Run: .venv/bin/python bench/llm.py [--requests 300]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._fakes import fake_ollama_process  # noqa: E402
from bench._stats import summary  # noqa: E402
from libra.bus import EventBus  # noqa: E402
from libra.config import LLMSettings  # noqa: E402
from libra.llm.api import ChatMessage, LLMRequest  # noqa: E402
from libra.llm.backends.ollama import OllamaBackend  # noqa: E402
from libra.llm.cache import ResponseCache  # noqa: E402
from libra.llm.pool import ServerPool  # noqa: E402
from libra.llm.service import PooledLLMService  # noqa: E402

MODEL = "llama3:8b-instruct-q4_K_M"


def make_request(text: str) -> LLMRequest:
    return LLMRequest(model=MODEL, language="en",
                      messages=(ChatMessage(role="user", content=text),))


async def first_token_ms(stream_factory: object, prompt: str) -> float:
    t0 = time.perf_counter()
    first = None
    async for token in stream_factory(make_request(prompt)):  # type: ignore[operator]
        if first is None and token.text:
            first = time.perf_counter()
    assert first is not None
    return (first - t0) * 1000


async def run(requests: int, delay_ms: float, url: str) -> dict[str, object]:
    settings = LLMSettings(servers=(url,), warmup=False, cache_ttl=300)
    backend = OllamaBackend(url)
    service = PooledLLMService(
        settings,
        ServerPool([backend], max_concurrency=2, max_queue=32, backoff=15),
        ResponseCache(ttl=300),
        EventBus(),
    )
    for i in range(20):  # warm connections and code paths
        await first_token_ms(service.stream, f"warm {i}")
        await first_token_ms(backend.stream, f"warm raw {i}")
    added: list[float] = []
    raw: list[float] = []
    for i in range(requests):
        added.append(await first_token_ms(service.stream, f"question {i}") - delay_ms)
        raw.append(await first_token_ms(backend.stream, f"raw question {i}") - delay_ms)
    hits: list[float] = []
    for _ in range(requests):
        t0 = time.perf_counter()
        async for token in service.stream(make_request("question 0")):
            if token.done:
                hits.append((time.perf_counter() - t0) * 1000)
    await backend.close()
    added_summary = summary(added)
    hit_summary = summary(hits)
    return {
        "benchmark": "llm",
        "requests": requests,
        "fake_first_token_delay_ms": delay_ms,
        "added_first_token_ms": added_summary,
        "bare_backend_added_first_token_ms": summary(raw),
        "service_share_ms": summary([a - r for a, r in zip(added, raw, strict=True)]),
        "cache_hit_full_reply_ms": hit_summary,
        "targets": {"added_p50_ms": 5, "added_p99_ms": 20, "cache_hit_p50_ms": 2},
        "pass": added_summary["p50"] < 5 and added_summary["p99"] < 20
        and hit_summary["p50"] < 2,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--first-token-delay-ms", type=float, default=20.0)
    args = parser.parse_args()
    with fake_ollama_process(args.first_token_delay_ms) as url:
        result = asyncio.run(run(args.requests, args.first_token_delay_ms, url))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
