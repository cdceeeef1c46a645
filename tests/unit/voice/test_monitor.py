"""Voice alarms and log lines: failures users must see become ``VoiceFailed`` events."""

from __future__ import annotations

from typing import Any

from loguru import logger

from libra.discord.voice.dave import DaveDriver
from libra.discord.voice.diagnostics import VoiceDiagnostics
from libra.discord.voice.monitor import ALARM_COOLDOWN, VoiceMonitor
from libra.events import VoiceFailed


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _unused(*_args: Any) -> None:
    return None


def _monitor(events: list[Any], clock: Clock, **kwargs: Any) -> tuple[VoiceMonitor, Any]:
    diag = VoiceDiagnostics(4242)
    dave = DaveDriver(1, 2, _unused, _unused)
    monitor = VoiceMonitor(
        diag, dave, events.append, lambda: {"channel_id": 7}, clock=clock, **kwargs
    )
    return monitor, diag


def test_a_burst_of_decrypt_failures_raises_one_alarm_per_cooldown() -> None:
    events: list[Any] = []
    clock = Clock()
    monitor, diag = _monitor(events, clock)
    for _ in range(10):  # a trickle: 2 failures a second is not an alarm
        clock.now += 1
        diag.decrypt_failures["transport"] += 2
        monitor.check()
    assert events == []
    for _ in range(3):  # then 15 a second: members go unheard
        clock.now += 1
        diag.decrypt_failures["dave_decrypt"] += 15
        monitor.check()
    assert [(e.code, e.guild_id) for e in events] == [("voice_decrypt_failures", 4242)]
    assert isinstance(events[0], VoiceFailed) and "dave_decrypt: 30" in events[0].message
    clock.now += 5
    diag.decrypt_failures["dave_decrypt"] += 100
    monitor.check()
    assert len(events) == 1  # within the cooldown
    clock.now += ALARM_COOLDOWN
    diag.decrypt_failures["dave_decrypt"] += 100
    monitor.check()
    assert len(events) == 2
    assert monitor.snapshot()["alarms"] == ["voice_decrypt_failures"] * 2


def test_alarm_history_stays_bounded_on_a_long_lived_connection() -> None:
    events: list[Any] = []
    clock = Clock()
    monitor, diag = _monitor(events, clock)
    for _ in range(24 * 60):  # a day with one member's broken client
        clock.now += ALARM_COOLDOWN
        diag.decrypt_failures["dave_decrypt"] += 100
        monitor.check()
    assert len(events) == 24 * 60  # every alarm is still published ...
    # ... but /voice status and every periodic log line carry only the recent ones.
    assert 0 < len(monitor.snapshot()["alarms"]) <= 50


def test_sustained_dropped_audio_raises_send_blocked() -> None:
    events: list[Any] = []
    clock = Clock()
    monitor, diag = _monitor(events, clock)
    for _ in range(3):  # a DAVE re-key with a slow member: expected, not an alarm
        clock.now += 1
        diag.frames_unsent_not_keyed += 50
        monitor.check()
    assert events == []
    for _ in range(10):  # then no transition ever executes: nobody hears Libra
        clock.now += 1
        diag.frames_unsent_not_keyed += 50
        monitor.check()
    assert [e.code for e in events] == ["voice_send_blocked"]
    assert "dropped" in events[0].message


async def test_dave_transition_failures_reach_the_monitor() -> None:
    events: list[Any] = []
    clock = Clock()
    diag = VoiceDiagnostics(4242)
    monitor: VoiceMonitor | None = None

    def on_failure(error: Any) -> None:
        assert monitor is not None
        monitor.report(error)

    dave = DaveDriver(1, 2, _unused, _unused, on_failure=on_failure)
    monitor = VoiceMonitor(diag, dave, events.append, dict, clock=clock)
    await dave.on_session_description(1)
    await dave.on_binary(29, b"\x00\x05" + b"not an MLS commit")
    assert [e.code for e in events] == ["voice_dave_transition_failed"]
    assert "invalid" in events[0].message
    assert monitor.snapshot()["dave"]["failures"] == {"invalid_commit": 1}


def test_log_line_carries_the_snapshot_when_the_connection_closes() -> None:
    # That the registry lists live connections is the connection's business now
    # (it is the VoiceLink): see test_voice_diagnostics.
    records: list[Any] = []
    sink = logger.add(records.append, level="INFO", format="{message}")
    try:
        monitor, diag = _monitor([], Clock())
        diag.packets_in, diag.packets_out = 120, 80
        diag.decrypt_failures["transport"] = 3
        monitor.closed()
    finally:
        logger.remove(sink)
    extra = records[-1].record["extra"]
    assert extra["voice_reason"] == "closed" and extra["voice_packets_in"] == 120
    assert extra["voice_decrypt_failures"] == '{"transport": 3}'
    assert "in 120 out 80 packets" in records[-1].record["message"]
