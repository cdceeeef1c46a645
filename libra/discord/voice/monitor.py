"""Voice failures made visible: snapshots, periodic log lines and ``VoiceFailed`` alarms.

Silent failure is what users of other bots complain about most: the bot sits in the
channel and hears nothing, or speaks and nobody hears it. Each connection therefore
logs its counters every minute and when it closes, and raises a ``VoiceFailed`` event
(stable codes from :mod:`libra.errors`) when packets fail to decrypt in bursts, when
its own audio keeps being dropped because the DAVE group is not keyed, or when a DAVE
transition fails.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from loguru import logger

from libra.discord.voice.dave import DaveDriver
from libra.discord.voice.diagnostics import VoiceDiagnostics
from libra.errors import VoiceDecryptFailing, VoiceError, VoiceSendBlocked
from libra.events import Event, VoiceFailed

BURST_WINDOW = 5.0
"""Seconds over which failures are counted for an alarm."""
BURST_THRESHOLD = 25
"""Failures within the window that raise an alarm (half a second of one speaker)."""
ALARM_COOLDOWN = 60.0
"""Seconds before the same alarm may be raised again for one connection."""
CHECK_INTERVAL = 1.0
SEND_BLOCKED_WINDOW = 10.0
"""Seconds over which Libra's dropped (unkeyed) frames are counted for an alarm."""
SEND_BLOCKED_THRESHOLD = 250
"""Dropped frames within the window that raise an alarm: 5 s of speech, more than a
normal DAVE re-key takes (a transition waits for every member, a slow one included),
so only sustained blocking is reported, not every re-identify or new member."""
MAX_ALARMS_KEPT = 20
"""Alarms remembered for snapshots (all of them are published as events)."""


class _BurstDetector:
    """Whether a running total grew by ``threshold`` within the last ``window`` seconds."""

    def __init__(self, window: float, threshold: int, start: float) -> None:
        self._window = window
        self._threshold = threshold
        self._samples: deque[tuple[float, int]] = deque([(start, 0)])

    def update(self, now: float, total: int) -> int | None:
        """Record ``total``; return the growth over the window when it is a burst."""
        samples = self._samples
        samples.append((now, total))
        # Keep the newest sample at least a window old as the baseline.
        while len(samples) > 1 and now - samples[1][0] >= self._window:
            samples.popleft()
        growth = total - samples[0][1]
        if growth >= self._threshold:
            samples.clear()
            samples.append((now, total))
            return growth
        return None


class VoiceMonitor:
    """Watches one connection's diagnostics; logs them and publishes alarms."""

    def __init__(
        self,
        diagnostics: VoiceDiagnostics,
        dave: DaveDriver,
        publish: Callable[[Event], object],
        context: Callable[[], dict[str, Any]],
        *,
        log_interval: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._diag = diagnostics
        self._dave = dave
        self._publish = publish
        self._context = context
        self._log_interval = log_interval
        self._clock = clock
        self._decrypt = _BurstDetector(BURST_WINDOW, BURST_THRESHOLD, clock())
        self._unsent = _BurstDetector(SEND_BLOCKED_WINDOW, SEND_BLOCKED_THRESHOLD, clock())
        self._last_alarm: dict[str, float] = {}
        self.alarms: deque[VoiceError] = deque(maxlen=MAX_ALARMS_KEPT)
        """The latest alarms raised (newest last), for ``/voice status``; bounded
        because every periodic log line carries them."""

    @property
    def guild_id(self) -> int:
        """The guild of the watched connection."""
        return self._diag.guild_id

    def snapshot(self) -> dict[str, Any]:
        """Diagnostics with the current DAVE state, for ``/voice status`` and metrics."""
        diag, dave = self._diag, self._dave
        diag.dave_protocol_version = dave.protocol_version
        diag.dave_epoch = dave.epoch
        diag.dave_privacy_code = dave.privacy_code
        data = diag.snapshot()
        data.update(self._context())
        data["dave"]["failures"] = dict(dave.failures)
        data["dave"]["can_encrypt"] = dave.can_encrypt
        data["alarms"] = [err.code for err in self.alarms]
        return data

    def closed(self) -> None:
        """The connection closed: log a last line."""
        self.log("closed")

    def report(self, error: VoiceError) -> None:
        """Publish ``error`` as a ``VoiceFailed`` event (at most once a minute per code)."""
        now = self._clock()
        last = self._last_alarm.get(error.code)
        if last is not None and now - last < ALARM_COOLDOWN:
            return
        self._last_alarm[error.code] = now
        self.alarms.append(error)
        logger.warning("voice problem in guild {} [{}]: {}", self.guild_id, error.code, error)
        self._publish(VoiceFailed(guild_id=self.guild_id, code=error.code, message=str(error)))

    def check(self) -> None:
        """Compare counters with a few seconds ago and raise alarms for bursts."""
        now, diag = self._clock(), self._diag
        failed = self._decrypt.update(now, sum(diag.decrypt_failures.values()))
        if failed is not None:
            kinds = ", ".join(f"{k}: {n}" for k, n in sorted(diag.decrypt_failures.items()))
            self.report(VoiceDecryptFailing(
                f"{failed} voice packets failed to decrypt in {BURST_WINDOW:.0f} s "
                f"(totals {kinds}); members are not being heard",
                hint="check /voice status; rejoining the channel re-keys the call",
            ))
        unsent = self._unsent.update(now, diag.frames_unsent_not_keyed)
        if unsent is not None:
            self.report(VoiceSendBlocked(
                f"{unsent} of Libra's audio frames were dropped in "
                f"{SEND_BLOCKED_WINDOW:.0f} s: the end-to-end encrypted call is not keyed",
                hint="rejoin the channel if this persists",
            ))

    def log(self, reason: str = "periodic") -> None:
        """One structured log line with the connection's counters."""
        data = self.snapshot()
        dave = data["dave"]
        logger.bind(
            voice_guild=data["guild_id"], voice_reason=reason, voice_mode=data["mode"],
            voice_packets_in=data["packets_in"], voice_packets_out=data["packets_out"],
            voice_decrypt_failures=json.dumps(data["decrypt_failures"], sort_keys=True),
            voice_loss_ratio=data["loss_ratio"], voice_jitter_ms_max=data["jitter_ms_max"],
            voice_dave_version=dave["protocol_version"], voice_dave_epoch=dave["epoch"],
            voice_privacy_code=dave["privacy_code"], voice_snapshot=json.dumps(data),
        ).info(
            "voice diagnostics ({}) guild {}: in {} out {} packets, decrypt failures {}, "
            "loss {:.1%}, jitter {} ms, DAVE v{} epoch {}",
            reason, data["guild_id"], data["packets_in"], data["packets_out"],
            data["decrypt_failures"] or 0, data["loss_ratio"], data["jitter_ms_max"],
            dave["protocol_version"], dave["epoch"],
        )

    async def run(self) -> None:
        """Check for bursts every second and log every ``log_interval`` (until cancelled)."""
        next_log = self._clock() + self._log_interval
        while True:
            await asyncio.sleep(CHECK_INTERVAL)
            self.check()
            if self._clock() >= next_log:
                next_log += self._log_interval
                self.log()
