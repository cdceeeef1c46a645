"""The figures of voice turns: the stages of a turn, p50/p95 over a window of them.

Dependency free (no bus, no metrics) so the board, its labels and its metrics share it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from libra.events import VoiceTurnLatency


class TurnStage(StrEnum):
    """A figure of a voice turn, in pipeline order; ``{value}_ms`` is its event field."""

    ENDPOINT = "endpoint"
    """The trailing silence that ended the turn."""
    STT_FINAL = "stt_final"
    CHAT = "chat"
    LLM_FIRST_TOKEN = "llm_first_token"
    FIRST_SENTENCE = "first_sentence"
    TTS_FIRST_AUDIO = "tts_first_audio"
    FIRST_PACKET = "first_packet"
    TOTAL = "total"
    """End of speech to the first synthesised audio (the stages above, less first packet)."""
    LIBRA = "libra"
    """Libra's own share: total minus the endpoint silence and the LLM's first sentence."""


BREAKDOWN = tuple(s for s in TurnStage if s not in (TurnStage.TOTAL, TurnStage.LIBRA))
"""The consecutive stages (the totals are figures over them, not stages)."""


def stage_ms(event: VoiceTurnLatency, stage: TurnStage) -> float | None:
    """The event's milliseconds for ``stage`` (``None``: not reached or not measured)."""
    value: float | None = getattr(event, f"{stage.value}_ms")
    return value


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0-1) by linear interpolation between closest ranks.

    Interpolated (as numpy's default) rather than nearest rank: over a window of a few
    turns, p95 then moves smoothly instead of jumping to the slowest one.

    Raises:
        ValueError: ``values`` is empty.
    """
    if not values:
        raise ValueError("no values to take a percentile of")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True, slots=True)
class StageFigure:
    """p50/p95 of one stage over the turns of a window that reached it."""

    stage: TurnStage
    samples: int
    p50_ms: float
    p95_ms: float


@dataclass(frozen=True, slots=True)
class TurnStats:
    """What the board knows of a guild's (or every guild's) turns."""

    turns: int
    """Turns since Libra started."""
    errors: dict[str, int]
    """Failed turns by error code, since Libra started."""
    window: int
    """Turns the figures cover (the last ``window`` at most)."""
    window_errors: dict[str, int]
    """Failed turns among those ``window``, by error code."""
    stages: tuple[StageFigure, ...]
    """Figures of the stages (and totals) with samples, in pipeline order."""
    last: VoiceTurnLatency | None

    def stage(self, stage: TurnStage) -> StageFigure | None:
        """The figure of ``stage`` (``None`` when no turn in the window reached it)."""
        return next((f for f in self.stages if f.stage is stage), None)
