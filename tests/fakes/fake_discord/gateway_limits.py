"""What Discord limits per bot at the gateway: shards, identify pacing, the session budget.

* Shards: ``shards`` is what ``/gateway/bot`` recommends; a shard receives the events
  of the guilds ``(guild_id >> 22) % shard_count`` maps to it (DMs go to shard 0).
* Identify pacing: shards are grouped in buckets ``shard_id % max_concurrency``; one
  IDENTIFY per bucket per ``identify_interval`` seconds (5 s on Discord). A faster
  one is answered with INVALID_SESSION (op 9, not resumable), as Discord does, and
  recorded in :attr:`GatewayLimits.violations`. ``FakeDiscord`` leaves the interval
  at 0 unless a test asks for Discord's 5 s (``identify_interval=5.0``): many tests
  restart a bot back to back on purpose, and real Discord would make each wait.
* The session-start budget: each accepted IDENTIFY spends one of ``session_total``.
  Identifying with none left invalidates every session of the bot (Discord goes on
  to reset the token), and is recorded too.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class GatewayLimits:
    """The gateway's per-bot limits and what the bot did with them."""

    shards: int = 1
    max_concurrency: int = 1
    session_total: int = 1000
    sessions_left: int = 999
    identify_interval: float = 0.0
    last_identify: dict[int, float] = field(default_factory=dict)
    """Bucket -> monotonic time of its last accepted IDENTIFY."""
    identifies: list[tuple[float, int, int]] = field(default_factory=list)
    """(monotonic time, shard id, shard count) of every accepted IDENTIFY."""
    violations: list[str] = field(default_factory=list)
    """Each IDENTIFY Discord would have refused (too fast, or over the budget)."""

    def admit(self, shard_id: int, now: float) -> str | None:
        """Count an IDENTIFY of ``shard_id``: ``None`` if accepted, else why it is refused."""
        bucket = shard_id % self.max_concurrency
        last = self.last_identify.get(bucket)
        if last is not None and now - last < self.identify_interval:
            why = (f"shard {shard_id} identified {now - last:.2f}s after the last identify "
                   f"of bucket {bucket} (at most one per {self.identify_interval:g}s)")
            self.violations.append(why)
            return "too_fast"
        if self.sessions_left <= 0:
            self.violations.append(f"shard {shard_id} identified with no session starts left")
            return "budget"
        self.sessions_left -= 1
        self.last_identify[bucket] = now
        return None

    @staticmethod
    def shard_of(guild_id: int, shard_count: int) -> int:
        """The shard Discord sends a guild's events to."""
        return (guild_id >> 22) % shard_count
