"""A spoken conversation in a Discord voice channel: latency, barge-in, CPU and memory.

``libra run`` runs as its own process, as in production, against the fake Discord and
a fake voice server per voice channel (DAVE included) that this script runs; the fake
Ollama (also here) answers at 150 ms to the first token and 30 tokens/s. A fake peer
in each call asks questions in Piper English, in real time, and decodes Libra's answer.

Reported (JSON):

* ``latency``: end of the peer's speech → the first audio packet of the answer arriving
  at the peer, p50/p95, with Libra's own breakdown of the same turns (its
  ``VoiceTurnLatency`` log line: endpoint wait, STT final, chat, LLM first token, first
  sentence, TTS first audio, first packet) and **Libra's own share** (its total minus
  the endpoint silence and the LLM's time to its first sentence; target p50 < 250 ms);
* ``barge_in``: the peer interrupts an answer; from the onset of its voice to the last
  frame of Libra's voice arriving, and Libra's own detection → playback stop, p95
  (target < 200 ms);
* ``resources``: Libra's CPU (share of one core while the conversation is active, and
  while idle in the call) and RSS (before joining, after, and at the end).

Run: .venv/bin/python bench/voice_conversation.py [--turns 8] [--barge-ins 5] [--channels 1]
(``--channels 3``: three guilds, a call in each, questions asked in all at once).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from bench._stats import pct  # noqa: E402
from tests.e2e.voice.voice_call import VoiceServers, onset_s  # noqa: E402
from tests.fakes.audio_fixtures import pcm_to_mono, speech  # noqa: E402
from tests.fakes.fake_discord import FakeDiscord  # noqa: E402
from tests.fakes.fake_discord.world import ChannelType, FakeChannel, add_guild  # noqa: E402
from tests.fakes.fake_ollama import FakeOllama  # noqa: E402
from tests.fakes.fake_voice.peer import FakePeer  # noqa: E402
from tests.fakes.fake_voice.server import FakeVoiceServer  # noqa: E402

QUESTIONS = ["What is the capital of France?", "How far away is the moon?",
             "Can you recommend a good book?", "What time does the sun set in winter?",
             "Why is the sky blue?", "How do I make a cup of tea?",
             "What is the tallest mountain in the world?", "Tell me a joke about cats.",
             "Who wrote the first computer program?", "How many legs does a spider have?"]
ANSWER = ("That is a good question. The short answer is that it depends on where you are, "
          "and on the time of year. Most people find the details surprising.")
INTERRUPTION = "Wait, stop."
STAGES = ("endpoint_ms", "stt_final_ms", "chat_ms", "llm_first_token_ms", "first_sentence_ms",
          "tts_first_audio_ms", "first_packet_ms", "total_ms", "libra_ms")
TICKS = os.sysconf("SC_CLK_TCK")


class LibraProcess:
    """``libra run`` in a child process; its JSON log lines parsed as they come."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[dict[str, Any]] = []
        self.reader = asyncio.create_task(self._read(), name="libra-log")

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        async for raw in self.proc.stdout:
            try:
                self.lines.append(json.loads(raw))
            except json.JSONDecodeError:
                self.lines.append({"message": raw.decode(errors="replace")})

    def messages(self, contains: str) -> list[str]:
        return [str(line.get("message", "")) for line in self.lines
                if contains in str(line.get("message", ""))]

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 30)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        await asyncio.gather(self.reader, return_exceptions=True)


async def start_libra(fake: FakeDiscord, ollama: FakeOllama, data: Path) -> LibraProcess:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(data),
        "LIBRA_DATA_DIR": str(data / "data"), "DISCORD_TOKEN": fake.token,
        "LIBRA_DISCORD__REST_URL": fake.rest_url, "LIBRA_LLM__SERVERS": ollama.url,
        "LIBRA_LLM__WARMUP": "false", "LIBRA_APP__LOG_FORMAT": "json",
        "LIBRA_APP__LOG_LEVEL": "INFO", "PYTHONPATH": str(ROOT),
        "LIBRA_DISCORD__GUILD_IDS": ",".join(str(g.id) for g in fake.world.guilds),
    }
    if os.environ.get("TEST_DATABASE_URL"):
        env["DATABASE_URL"] = os.environ["TEST_DATABASE_URL"]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "libra", "run", stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT, cwd=data, env=env)
    libra = LibraProcess(proc)
    await fake.wait_until(lambda: any(s.identified.is_set() for s in fake.connections),
                          timeout=60)
    return libra


def speech_end_s(pcm: bytes) -> float:
    """Where Piper's speech ends in ``pcm`` (its trailing silence excluded), in seconds."""
    mono = pcm_to_mono(pcm)
    blocks = mono[: mono.size // 480 * 480].reshape(-1, 480)
    power = 10 * np.log10((blocks**2).mean(axis=1) + 1e-9)
    active = (power > power.max() - 40).nonzero()[0]
    return float((active[-1] + 1) * 480 / 48_000)


async def poll(predicate: Callable[[], bool], *, timeout: float, step: float = 0.005) -> bool:
    """Check ``predicate`` every ``step`` seconds until it holds or ``timeout`` passes."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if predicate():
            return True
        await asyncio.sleep(step)
    return predicate()


class Seat:
    """One call: its channel, voice server, and the peer who talks to Libra."""

    def __init__(self, fake: FakeDiscord, channel: FakeChannel, server: FakeVoiceServer,
                 peer: FakePeer) -> None:
        self.fake, self.channel, self.server, self.peer = fake, channel, server, peer
        self.bot_id = fake.world.bot_user.id

    def frames(self) -> int:
        return len(self.peer.heard.get(self.bot_id, []))

    async def quiet(self, quiet_s: float = 1.2, timeout: float = 60.0) -> float:
        """Wait until Libra's voice stopped arriving for ``quiet_s``; return its last frame."""
        count, last = self.frames(), time.perf_counter()
        deadline = time.perf_counter() + timeout
        while time.perf_counter() - last < quiet_s and time.perf_counter() < deadline:
            await asyncio.sleep(0.005)
            if self.frames() != count:
                count, last = self.frames(), time.perf_counter()
        return last

    async def ask(self, question: str) -> float | None:
        """Ask; return end of speech → first frame of the answer at the peer (ms)."""
        pcm = speech(question)
        before = self.frames()
        start = time.perf_counter()
        speaking = asyncio.create_task(self.peer.speak(pcm), name="peer-asks")
        ended = start + speech_end_s(pcm)
        await poll(lambda: self.frames() > before, timeout=30, step=0.002)
        first = time.perf_counter()
        await speaking
        await self.quiet()
        return (first - ended) * 1000 if self.frames() > before else None

    async def interrupt(self, question: str) -> float | None:
        """Ask, let Libra talk for ~1 s, interrupt: onset → Libra's last frame (ms)."""
        before = self.frames()
        asking = asyncio.create_task(self.peer.speak(speech(question)), name="peer-asks")
        await poll(lambda: self.frames() >= before + 50, timeout=30)
        await asking
        if self.frames() < before + 50:
            return None
        pcm = speech(INTERRUPTION)
        began = time.perf_counter() + onset_s(pcm)
        count, last = self.frames(), time.perf_counter()
        speaking = asyncio.create_task(self.peer.speak(pcm), name="peer-interrupts")
        while not speaking.done() or time.perf_counter() - last < 0.8:
            await asyncio.sleep(0.003)
            if self.frames() != count:
                count, last = self.frames(), time.perf_counter()
        await speaking
        # The interruption itself is answered ("Sure.") after its own turn ends: wait
        # for that too, or the next question would barge in on it.
        await poll(lambda: self.frames() > count, timeout=5)
        await self.quiet()
        return max(0.0, (last - began) * 1000)


async def seat(fake: FakeDiscord, servers: VoiceServers, channel: FakeChannel,
               text: FakeChannel) -> Seat:
    alice = fake.user("alice")
    await fake.user_voice(alice, channel)
    await fake.slash_subcommand("voice", "join", channel=text)
    deadline = time.perf_counter() + 30
    while (channel.id not in servers.by_channel
           or servers.by_channel[channel.id].bot_session is None):
        if time.perf_counter() > deadline:
            raise RuntimeError(f"Libra did not join {channel.name}")
        await asyncio.sleep(0.05)
    server = servers.by_channel[channel.id]
    peer = await server.add_peer(alice.id)
    await server.wait_for(server.dave_settled, what="DAVE settled", timeout=15)
    return Seat(fake, channel, server, peer)


def turn_breakdowns(libra: LibraProcess) -> list[dict[str, float]]:
    """Libra's own breakdown of each turn, from its ``voice turn …`` log lines."""
    names = {"endpoint": "endpoint_ms", "stt": "stt_final_ms", "chat": "chat_ms",
             "llm first token": "llm_first_token_ms", "first sentence": "first_sentence_ms",
             "tts first audio": "tts_first_audio_ms", "first packet": "first_packet_ms",
             "total": "total_ms", "libra": "libra_ms"}
    out = []
    for message in libra.messages("voice turn "):
        parts = message.split(": ", 1)[1].split(" · ")
        row = {}
        for part in parts:
            name, _, value = part.rpartition(" ")
            if name in names:
                row[names[name]] = float(value)
        out.append(row)
    return out


def stats(values: list[float]) -> dict[str, float | int]:
    if not values:
        return {"n": 0}
    return {"n": len(values), "p50": round(statistics.median(values), 1),
            "p95": round(pct(values, 95), 1), "max": round(max(values), 1)}


async def run(turns: int, barge_ins: int, channels: int,
               lines: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Run the calls; ``lines`` receives Libra's log lines."""
    fake = FakeDiscord()
    for n in range(1, channels):
        text = add_guild(fake.world, f"Guild {n + 1}")
        guild = fake.world.guild(text.guild_id)  # type: ignore[arg-type]
        assert guild is not None
        guild.channels.append(FakeChannel(id=fake.world.snowflakes.next(), name=f"Lounge {n + 1}",
                                          type=ChannelType.GUILD_VOICE, guild_id=guild.id))
    await fake.start()
    servers = VoiceServers(fake)
    ollama = FakeOllama(first_token_delay=0.15, tokens_per_second=30)
    ollama.answer_fn = lambda body: ("Sure." if "stop" in str(
        body["messages"][-1]["content"]).lower() else ANSWER)
    await ollama.start()
    with tempfile.TemporaryDirectory(prefix="libra-bench-") as tmp:
        libra = await start_libra(fake, ollama, Path(tmp))
        try:
            rss_before = libra.rss_mb()
            seats = []
            for guild in fake.world.guilds:
                voice = next(c for c in guild.channels if c.type == ChannelType.GUILD_VOICE)
                text = next(c for c in guild.channels if c.type == ChannelType.GUILD_TEXT)
                seats.append(await seat(fake, servers, voice, text))
            # The warm-up (models loaded, one synthesis) runs in the background; wait for it.
            await poll(lambda: len(libra.messages("voice engines warm")) >= channels,
                       timeout=90, step=0.2)
            rss_joined = libra.rss_mb()
            idle_cpu0, idle_t0 = libra.cpu_seconds(), time.perf_counter()
            await asyncio.sleep(5)
            idle_share = (libra.cpu_seconds() - idle_cpu0) / (time.perf_counter() - idle_t0)

            cpu0, t0 = libra.cpu_seconds(), time.perf_counter()
            latencies: list[float] = []
            for turn in range(turns):
                question = QUESTIONS[turn % len(QUESTIONS)]
                results = await asyncio.gather(*(s.ask(question) for s in seats))
                latencies += [r for r in results if r is not None]
            active_s = time.perf_counter() - t0
            active_share = (libra.cpu_seconds() - cpu0) / active_s
            stops: list[float] = []
            for turn in range(barge_ins):
                question = QUESTIONS[(turn + 3) % len(QUESTIONS)]
                results = await asyncio.gather(*(s.interrupt(question) for s in seats))
                stops += [r for r in results if r is not None]
            rss_end = libra.rss_mb()
        finally:
            await libra.stop()
        if lines is not None:
            lines.extend(libra.lines)
        breakdowns = turn_breakdowns(libra)
        own_stops = [float(m.split("stopped in ")[1].split(" ms")[0])
                     for m in libra.messages("barged in; playback stopped in")]
        errors = [line for line in libra.lines if line.get("level") in ("ERROR", "CRITICAL")]
    await ollama.stop()
    await servers.close()
    await fake.stop()
    asked = [b for b in breakdowns[: turns * channels]]
    return {
        "bench": "voice_conversation",
        "channels": channels,
        "turns_per_channel": turns,
        "llm": {"first_token_ms": 150, "tokens_per_second": 30},
        "engines": "whisper tiny.en (speculative final) + piper en_US-joe-medium",
        "latency": {
            "end_of_speech_to_first_packet_at_peer_ms": stats(latencies),
            "libra_breakdown_ms": {stage: stats([b[stage] for b in asked if stage in b])
                                   for stage in STAGES},
            "target": "libra_ms p50 < 250",
        },
        "barge_in": {
            "onset_to_last_frame_at_peer_ms": stats(stops),
            "detection_to_playback_stop_ms": stats(own_stops),
            "interruptions": {"made": barge_ins * channels, "detected": len(own_stops)},
            "target": "p95 < 200",
        },
        "resources": {
            "cpu_share_of_one_core_active": round(active_share, 3),
            "cpu_share_per_channel_active": round(active_share / channels, 3),
            "cpu_share_idle_in_call": round(idle_share, 3),
            "rss_mb": {"before_join": round(rss_before, 1), "joined_and_warm": round(rss_joined, 1),
                       "end": round(rss_end, 1)},
            "rss_mb_per_channel_over_process": round((rss_end - rss_before) / channels, 1),
        },
        "errors_logged": len(errors),
        "load_average": os.getloadavg(),
        "cpus": os.cpu_count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--turns", type=int, default=8)
    parser.add_argument("--barge-ins", type=int, default=5)
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--log", type=Path, help="write Libra's log lines (JSON) here")
    args = parser.parse_args()
    lines: list[dict[str, Any]] = []
    result = asyncio.run(run(args.turns, args.barge_ins, args.channels, lines))
    if args.log is not None:
        args.log.write_text("".join(json.dumps(line) + "\n" for line in lines))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
