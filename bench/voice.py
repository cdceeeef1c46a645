"""Voice connection cost: CPU per received speaker and per sent stream, pacing, loss.

Prints JSON. The fake voice server and its peers (Opus encoding, their own DAVE
sessions, transport encryption) run in a child process, so this process's CPU time
is the client's alone: gateway, UDP, transport decryption, DAVE, reordering, Opus
decoding and bus publishing (receive), or Opus encoding, DAVE, encryption and pacing
(send). The test PCM is generated before the clock starts. CPU share = CPU seconds /
wall seconds (1.0 = one core), measured two ways: ``process`` (every thread) and
``loop`` (the event-loop thread only, i.e. Libra's own work without the helper
thread that waits on the pipe to the child).

Each scenario runs ``--runs`` times (default 3) with a fresh child and connection;
the figures are medians, with every run's value listed. The machine is shared, so
single runs scatter by about +-20 %.

Figures:
- ``idle``: a keyed connection with one silent member.
- ``receive_1`` / ``receive_5``: simultaneous speakers (no network loss), CPU share
  total and per speaker, and frames lost to our own processing.
- ``send_1``: one stream, CPU share and pacing lateness p50/p99/max (ms).
Run: python bench/voice.py [--seconds 5] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import statistics
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import hikari
import numpy as np
from loguru import logger

from bench._stats import summary
from libra.bus import EventBus
from libra.config import Settings
from libra.discord.voice.connection import LibraVoiceConnection
from libra.voice.api import AudioChunk, VoiceLink
from tests.fakes.fake_voice import CallIdentity, FakeVoiceServer

IDENTITY_ARGS = {
    "guild_id": 4242, "channel_id": 777, "user_id": 9001,
    "session_id": "bench-session", "token": "bench-token",
}


def tone(seconds: float, freq: float) -> bytes:
    t = np.arange(int(seconds * 48000)) / 48000
    signal = 8000 * (0.7 + 0.3 * np.sin(2 * np.pi * 2 * t)) * np.sin(2 * np.pi * freq * t)
    return np.repeat(signal.astype("<i2"), 2).tobytes()


# --- child: the fake voice server and its peers --------------------------------------


def serve(pipe: Connection, speakers: int) -> None:
    asyncio.run(_serve(pipe, speakers))


async def _serve(pipe: Connection, speakers: int) -> None:
    loop = asyncio.get_running_loop()
    async with FakeVoiceServer(CallIdentity(**IDENTITY_ARGS), heartbeat_ms=5000) as server:
        peers = [await server.add_peer(2000 + i) for i in range(speakers)]
        pipe.send(server.endpoint)
        while True:
            command = await loop.run_in_executor(None, pipe.recv)
            if command[0] == "settle":
                await server.wait_for(server.dave_settled, timeout=20, what="settled")
                pipe.send("settled")
            elif command[0] == "idle":
                await asyncio.sleep(command[1])
                pipe.send("idled")
            elif command[0] == "speak":
                seconds = command[1]
                await asyncio.gather(
                    *(p.speak(tone(seconds, 300 + 100 * i)) for i, p in enumerate(peers))
                )
                pipe.send({p.user_id: p.log.frames_sent for p in peers})
            elif command[0] == "heard":
                await asyncio.sleep(0.5)
                log = peers[0].log
                pipe.send({
                    "decoded": len(peers[0].heard.get(IDENTITY_ARGS["user_id"], [])),
                    "silence": log.silence_frames,
                    "decrypt_failures": log.decrypt_failures,
                    "refused_before_speaking": server.udp.record.refused_before_speaking,
                    "unencrypted": server.udp.record.unencrypted_frames,
                    "nonce_violations": len(server.udp.record.nonce_violations),
                })
            else:
                return


# --- parent: the client under test ---------------------------------------------------


async def _ask(pipe: Connection, *command: Any) -> Any:
    pipe.send(command)
    return await asyncio.get_running_loop().run_in_executor(None, pipe.recv)


async def _hear(link: VoiceLink, audio: list[AudioChunk]) -> None:
    """Read every speaker's stream, as the voice pipeline would, until the link closes."""
    readers: list[asyncio.Task[None]] = []

    async def read(user_id: int) -> None:
        async for chunk in link.audio(user_id):
            audio.append(chunk)

    async for user_id in link.speakers():
        readers.append(asyncio.create_task(read(user_id), name=f"bench-hear-{user_id}"))
    await asyncio.gather(*readers)


async def _connect(endpoint: str) -> tuple[Any, Any, list[Any]]:
    bus = EventBus()
    audio: list[Any] = []

    async def on_close(_conn: Any) -> None:
        return None

    conn = await LibraVoiceConnection.initialize(
        channel_id=hikari.Snowflake(IDENTITY_ARGS["channel_id"]),
        endpoint=f"wss://{endpoint}",
        guild_id=hikari.Snowflake(IDENTITY_ARGS["guild_id"]),
        on_close=on_close, owner=None,  # type: ignore[arg-type]
        session_id=str(IDENTITY_ARGS["session_id"]), shard_id=0,
        token=str(IDENTITY_ARGS["token"]), user_id=hikari.Snowflake(IDENTITY_ARGS["user_id"]),
        bus=bus, settings=Settings(),
    )
    return conn, bus, audio


async def _cpu_share(coro: Any) -> tuple[Any, dict[str, float], float]:
    wall0, cpu0, loop0 = time.perf_counter(), time.process_time(), time.thread_time()
    result = await coro
    wall = time.perf_counter() - wall0
    shares = {
        "process": (time.process_time() - cpu0) / wall,
        "loop": (time.thread_time() - loop0) / wall,
    }
    return result, shares, wall


@dataclass
class _Session:
    """A fake voice server in a child process and our connection to it."""

    server: Connection
    conn: Any
    bus: Any
    audio: list[Any]


@asynccontextmanager
async def _session(speakers: int) -> AsyncIterator[_Session]:
    """Start the fake server with ``speakers`` peers, connect, settle; tear down after."""
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=serve, args=(child, speakers), daemon=True)
    proc.start()
    try:
        endpoint = await asyncio.get_running_loop().run_in_executor(None, parent.recv)
        conn, bus, audio = await _connect(endpoint)
        hearing = asyncio.create_task(_hear(conn, audio), name="bench-hear")
        await _ask(parent, "settle")
        yield _Session(parent, conn, bus, audio)
        await conn.disconnect()
        await asyncio.wait_for(hearing, 5)  # ends when the connection closes
        await bus.close()
        parent.send(("quit",))
    finally:
        proc.join(5)
        if proc.is_alive():
            proc.terminate()


async def bench_idle(seconds: float) -> dict[str, Any]:
    async with _session(1) as session:
        _, share, wall = await _cpu_share(_ask(session.server, "idle", seconds))
    return {"wall_s": round(wall, 2), "cpu_share": round(share["process"], 4),
            "cpu_share_loop": round(share["loop"], 4)}


async def bench_receive(speakers: int, seconds: float) -> dict[str, Any]:
    async with _session(speakers) as session:
        sent, share, wall = await _cpu_share(_ask(session.server, "speak", seconds))
        await asyncio.sleep(0.5)  # let talk spurts end
        await session.bus.drain()
        snapshot = session.conn.snapshot()
        decoded: dict[int, int] = {}
        for event in session.audio:  # chunks carry several 20 ms frames (receive_chunk_ms)
            decoded[event.user_id] = decoded.get(event.user_id, 0) + len(event.pcm) // 3840
    return {
        "speakers": speakers,
        "wall_s": round(wall, 2),
        "cpu_share_total": round(share["process"], 4),
        "cpu_share_per_speaker": round(share["process"] / speakers, 4),
        "cpu_share_loop_total": round(share["loop"], 4),
        "frames_sent_by_peers": sum(sent.values()),
        "frames_published": sum(decoded.values()),
        "events_published": len(session.audio),
        "frames_lost_in_client": sum(s["lost"] for s in snapshot["streams"]),
        "frames_concealed": sum(s["concealed"] for s in snapshot["streams"]),
        "decrypt_failures": snapshot["decrypt_failures"],
    }


async def bench_send(seconds: float) -> dict[str, Any]:
    pcm = tone(seconds, 440)

    async def source() -> Any:
        for i in range(0, len(pcm), 8820):
            yield pcm[i : i + 8820]

    async with _session(1) as session:

        async def play() -> Any:
            handle = await session.conn.play(source())
            await handle.wait()
            return handle

        handle, share, wall = await _cpu_share(play())
        heard = await _ask(session.server, "heard")
    lateness_ms = [x * 1000 for x in handle.clock.lateness]
    return {
        "wall_s": round(wall, 2),
        "cpu_share": round(share["process"], 4),
        "cpu_share_loop": round(share["loop"], 4),
        "frames_sent": handle.frames_sent,
        "peer": heard,
        "pacing_lateness_ms": summary(lateness_ms, 3),
        "reanchors": handle.clock.reanchors,
    }


CPU_KEYS = ("cpu_share", "cpu_share_loop", "cpu_share_total", "cpu_share_per_speaker",
            "cpu_share_loop_total")


async def repeated(runs: int, scenario: Callable[[], Awaitable[dict[str, Any]]]) -> dict[str, Any]:
    """Run ``scenario`` ``runs`` times: the median run's details, CPU figures as medians."""
    results = [await scenario() for _ in range(runs)]
    key = "cpu_share" if "cpu_share" in results[0] else "cpu_share_total"
    ordered = sorted(results, key=lambda r: float(r[key]))
    out = dict(ordered[len(ordered) // 2])
    for name in CPU_KEYS:
        if name in out:
            values = [float(r[name]) for r in results]
            out[name] = round(statistics.median(values), 4)
            out[f"{name}_runs"] = values
    return out


async def main(seconds: float, runs: int) -> None:
    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    result = {
        "runs": runs,
        "idle": await repeated(runs, lambda: bench_idle(seconds)),
        "receive_1": await repeated(runs, lambda: bench_receive(1, seconds)),
        "receive_5": await repeated(runs, lambda: bench_receive(5, seconds)),
        "send_1": await repeated(runs, lambda: bench_send(seconds)),
        "targets": {
            "cpu_share_per_stream": "< 0.03",
            "pacing_p99_ms": "< 5",
            "frames_lost_in_client_5_speakers": 0,
        },
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.seconds, args.runs))
