"""What others may read of the instances of a scaled-out bot (dependency-neutral models).

The operator page and ``/stats`` list the live instances through
:class:`InstanceDirectory`; ``libra/cluster/instances.py`` implements it on Redis.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True, kw_only=True)
class InstanceRecord:
    """What one instance says about itself."""

    name: str
    shards: str
    """``"0,1"``, or ``"all"``."""
    guilds: int
    llm_active: int
    """LLM requests this instance is running now."""
    started_at: float
    """Unix time the instance started."""
    seen_at: float
    """Unix time of its last heartbeat."""

    @property
    def age(self) -> float:
        """Seconds since its last heartbeat."""
        return max(0.0, time.time() - self.seen_at)

    def summary(self) -> str:
        """One line for people: ``libra-0 (shards 0): 3 guilds, 1 LLM request running, …``."""
        up = int(time.time() - self.started_at)
        return (f"{self.name} (shards {self.shards}): {self.guilds} guild(s), "
                f"{self.llm_active} LLM request(s) running, "
                f"up {up // 3600}h{up % 3600 // 60:02d}m, seen {self.age:.0f}s ago")


class InstanceDirectory(Protocol):
    """The live instances of the bot."""

    async def instances(self) -> list[InstanceRecord]:
        """Every instance whose heartbeat is recent, this one included, by name.

        Raises:
            Exception: the shared store failed (callers show the list as unavailable).
        """
        ...
