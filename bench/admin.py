"""Admin port: HMAC verification cost per request, and requests/s on loopback.

Prints JSON. Verification is timed in-process (µs per request, fresh nonce each,
1 KiB body). Throughput: the server runs in this process, the load generator (an
aiohttp client loop, ``wrk`` when installed) in another, for ``--seconds`` each on
``GET /api/health`` (no auth) and ``GET /metrics`` signed per request (hmac mode).
Run: python bench/admin.py [--seconds 5] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
from loguru import logger
from pydantic import SecretStr

from bench._stats import summary
from libra.admin.auth import HmacVerifier, check_shared_secret, signed_headers
from libra.admin.plugin import AdminPlugin
from libra.app import LibraApp
from libra.config import AdminSettings, LLMSettings, Settings


async def _hmac_samples(secret: bytes, body: bytes, count: int) -> list[float]:
    now = int(time.time())
    requests = [signed_headers(secret, "POST", "/api/cache/flush", body, ts=now)
                for _ in range(count)]
    verifier = HmacVerifier(secret, window=300)  # nonces in memory, as without Redis
    samples: list[float] = []
    for headers in requests:
        t0 = time.perf_counter_ns()
        await verifier.verify("POST", "/api/cache/flush", headers, body)
        samples.append((time.perf_counter_ns() - t0) / 1000)
    return samples


def verify_cost(count: int) -> dict[str, object]:
    secret = secrets.token_bytes(32)
    body = secrets.token_bytes(1024)
    samples = asyncio.run(_hmac_samples(secret, body, count))
    simple: list[float] = []
    header = {"X-Shared-Secret": secret.hex()}
    hex_secret = secret.hex().encode()
    for _ in range(count):
        t0 = time.perf_counter_ns()
        check_shared_secret(hex_secret, header)
        simple.append((time.perf_counter_ns() - t0) / 1000)
    return {"hmac_verify_us": summary(samples, 2), "simple_check_us": summary(simple, 2)}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _load(url: str, path: str, secret: bytes | None, seconds: float, concurrency: int,
          out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    async def run() -> tuple[int, int, list[float]]:
        done = errors = 0
        latencies: list[float] = []
        deadline = time.perf_counter() + seconds
        connector = aiohttp.TCPConnector(limit=concurrency)
        async with aiohttp.ClientSession(connector=connector) as http:

            async def worker() -> None:
                nonlocal done, errors
                while time.perf_counter() < deadline:
                    headers = signed_headers(secret, "GET", path) if secret else {}
                    t0 = time.perf_counter()
                    async with http.get(url + path, headers=headers) as resp:
                        await resp.read()
                        if resp.status == 200:
                            done += 1
                        else:
                            errors += 1
                    latencies.append((time.perf_counter() - t0) * 1000)

            await asyncio.gather(*(worker() for _ in range(concurrency)))
        return done, errors, latencies

    out.put(asyncio.run(run()))


def _wrk(url: str, seconds: float, concurrency: int) -> dict[str, object] | None:
    if shutil.which("wrk") is None:
        return None
    result = subprocess.run(["wrk", "-t1", f"-c{concurrency}", f"-d{int(seconds)}s",
                             url + "/api/health"], capture_output=True, text=True, check=False)
    for line in result.stdout.splitlines():
        if line.startswith("Requests/sec:"):
            return {"tool": "wrk", "requests_per_s": float(line.split()[1])}
    return None


async def throughput(seconds: float, concurrency: int) -> dict[str, object]:
    secret = secrets.token_hex(32)
    port = _free_port()
    data_dir = tempfile.mkdtemp(prefix="libra-bench-admin-")  # the nonce file goes here
    settings = Settings(admin=AdminSettings(port=port, secret=SecretStr(secret),
                                            failed_auth_limit=10**6),
                        app={"log_level": "WARNING", "data_dir": data_dir},
                        llm=LLMSettings(warmup=False))
    app = LibraApp(settings, [AdminPlugin()])
    logger.remove()  # the server's per-start log lines would interleave with the JSON
    await app.start()
    url = f"http://127.0.0.1:{port}"
    results: dict[str, object] = {"concurrency": concurrency, "seconds": seconds}
    ctx = multiprocessing.get_context("spawn")
    try:
        for label, path, key in (("health", "/api/health", None),
                                 ("metrics_signed", "/metrics", secret.encode())):
            queue: multiprocessing.Queue = ctx.Queue()  # type: ignore[type-arg]
            proc = ctx.Process(target=_load, args=(url, path, key, seconds, concurrency, queue))
            proc.start()
            done, errors, latencies = await asyncio.to_thread(queue.get, True, seconds + 60)
            proc.join()
            results[label] = {"requests_per_s": round(done / seconds, 1), "errors": errors,
                              "latency_ms": summary(latencies, 2)}
        results["wrk_health"] = await asyncio.to_thread(_wrk, url, seconds, concurrency)
    finally:
        await app.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--count", type=int, default=20_000)
    args = parser.parse_args()
    report = {"verify": verify_cost(args.count),
              "loopback": asyncio.run(throughput(args.seconds, args.concurrency)),
              "note": "server and load generator share a 2-core machine with other jobs"}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
