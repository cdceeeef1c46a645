"""Voice diagnostics an operator sees: Prometheus series, log lines, VoiceFailed alarms."""

from __future__ import annotations

import asyncio
import os
import struct
from typing import Any

from loguru import logger

from libra.admin.collector import MetricsCollector
from libra.discord.voice.registry import VoiceConnectionRegistry
from libra.events import VoiceFailed, VoiceSpeakingStopped
from libra.metrics import MetricsRegistry
from tests.e2e.voice.conftest import GUILD_ID, Harness, tone, wait_until
from tests.fakes.fake_voice import FakeVoiceServer


def _series(text: str, name: str) -> dict[str, float]:
    """``{labels: value}`` of one metric family in Prometheus text format."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith(name + "{"):
            labels, value = line[len(name) :].rsplit(" ", 1)
            out[labels] = float(value)
    return out


async def test_live_connections_are_exported_as_prometheus_series(
    harness: Harness, server: FakeVoiceServer
) -> None:
    voice = VoiceConnectionRegistry()
    collector = MetricsCollector(harness.bus, MetricsRegistry(), voice=voice)
    collector.start()
    alice = await server.add_peer(1001)
    conn = await harness.connect(server, registry=voice)
    assert voice.get(GUILD_ID) is conn and voice.links() == [conn]  # the link lists itself
    await server.wait_for(server.dave_settled, what="DAVE settled")
    await alice.speak(tone(0.4, 440))
    await wait_until(lambda: harness.recorder.frames_heard() >= 15, what="audio")
    text = collector.registry.render()
    guild = f'guild="{GUILD_ID}"'
    packets = _series(text, "libra_voice_packets_total")
    assert packets[f'{{{guild},direction="in"}}'] >= 20
    epoch = _series(text, "libra_voice_dave_epoch")[f"{{{guild}}}"]
    assert epoch >= 1 and epoch == conn.dave.epoch
    (info,) = _series(text, "libra_voice_dave_info")
    assert f'privacy_code="{conn.dave.privacy_code}"' in info and 'protocol_version="1"' in info
    assert _series(text, "libra_voice_loss_ratio") == {f"{{{guild}}}": 0.0}
    assert f"{{{guild}}}" in _series(text, "libra_voice_jitter_ms")
    await conn.disconnect()
    await harness.bus.drain()
    text = collector.registry.render()
    assert _series(text, "libra_voice_packets_total") == {}  # closed connections drop out
    assert voice.get(GUILD_ID) is None and len(voice) == 0
    assert 'libra_voice_events_total{kind="disconnected"} 1' in text
    collector.stop()


def _forged_packet(sequence: int) -> bytes:
    header = struct.pack(">BBHII", 0x80, 0x78, sequence, sequence * 960, 0xBAD)
    return header + os.urandom(60) + struct.pack(">I", sequence)


async def test_undecryptable_audio_raises_an_alarm_and_is_logged(
    harness: Harness, server: FakeVoiceServer
) -> None:
    records: list[Any] = []
    sink = logger.add(
        records.append, level="INFO", format="{message}",
        filter=lambda r: r["message"].startswith("voice diagnostics"),
    )
    try:
        await server.add_peer(1001)
        conn = await harness.connect(server, voice={"diagnostics_log_seconds": 1.0})
        await server.wait_for(server.dave_settled, what="DAVE settled")
        udp = server.udp
        assert udp.transport is not None and udp.bot_address is not None
        for sequence in range(40):  # 0.8 s of a speaker whose packets do not authenticate
            udp.transport.sendto(_forged_packet(sequence), udp.bot_address)
        alarm = await harness.bus.wait_for(VoiceFailed, timeout=5)
        assert alarm.code == "voice_decrypt_failures" and alarm.guild_id == GUILD_ID
        assert "transport: 40" in alarm.message
        assert conn.snapshot()["alarms"] == ["voice_decrypt_failures"]
        await wait_until(lambda: bool(records), what="a periodic diagnostics line")
        await conn.disconnect()
    finally:
        logger.remove(sink)
    periodic, closed = records[0].record["extra"], records[-1].record["extra"]
    assert periodic["voice_reason"] == "periodic" and closed["voice_reason"] == "closed"
    assert closed["voice_decrypt_failures"] == '{"transport": 40}'
    assert closed["voice_dave_epoch"] == conn.dave.epoch and closed["voice_packets_in"] >= 40


async def test_a_pause_between_utterances_is_not_reported_as_jitter(
    harness: Harness, server: FakeVoiceServer
) -> None:
    alice = await server.add_peer(1001)
    conn = await harness.connect(server)
    await server.wait_for(server.dave_settled, what="DAVE settled")
    for spurt in (1, 2):
        if spurt == 2:
            await asyncio.sleep(2.0)  # silence: nothing is sent, RTP timestamps need not advance
        await alice.speak(tone(0.1, 440))
        ended = lambda n=spurt: len(harness.recorder.of(VoiceSpeakingStopped)) == n  # noqa: E731
        await wait_until(ended, what="end of speech")
    # Counted as jitter, the pause would show as ~70 ms here (2 s / 16 in RFC 3550's
    # filter, decayed over the 10 packets after it). Loopback has no network jitter,
    # only the scheduling noise of a busy test machine: up to ~11 ms was seen.
    assert conn.snapshot()["jitter_ms_max"] < 25
