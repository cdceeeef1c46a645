"""Recent per-stage reply latencies per guild, for ``/stats``."""

from __future__ import annotations

import collections
import statistics
from dataclasses import dataclass

from libra.bounded import LruDict
from libra.events import ReplyFinished

STAGES = ("language", "context", "first_token", "generate")


@dataclass(frozen=True, slots=True, kw_only=True)
class StageFigures:
    """Median and worst latency of one stage over the recent replies."""

    stage: str
    samples: int
    median_ms: float
    max_ms: float


class StageStats:
    """Keeps the stage timings of the last ``keep`` replies per guild (in memory).

    Only the most recently active guilds are kept, so memory stays flat as guilds come
    and go over the bot's life.
    """

    def __init__(self, keep: int = 200) -> None:
        self._keep = keep
        self._by_guild: LruDict[int | None, collections.deque[dict[str, float]]] = LruDict()

    async def on_reply_finished(self, event: ReplyFinished) -> None:
        """Bus handler: record the reply's stages under its guild."""
        if not event.stages:
            return
        recent = self._by_guild.setdefault(event.guild_id, collections.deque(maxlen=self._keep))
        recent.append(dict(event.stages))

    def figures(self, guild_id: int | None) -> list[StageFigures]:
        """Per-stage figures for the guild, in pipeline order."""
        recent = self._by_guild.get(guild_id, ())
        out = []
        for stage in STAGES:
            values = [s[stage] for s in recent if stage in s]
            if values:
                out.append(StageFigures(stage=stage, samples=len(values),
                                        median_ms=statistics.median(values),
                                        max_ms=max(values)))
        return out
