"""A small Prometheus text-format registry: counters, gauges and histograms with labels.

Why not ``prometheus-client``: Libra needs a dozen series, one exposition format and
no process-wide default registry (the client's module-level ``REGISTRY`` is exactly the
kind of global Libra avoids). This file is the whole feature, typed and dependency free;
the text format it writes is version 0.0.4, which every Prometheus scraper reads.
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Callable, Iterable, Sequence

from loguru import logger

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
"""The ``Content-Type`` of :meth:`MetricsRegistry.render` output."""

DEFAULT_BUCKETS: tuple[float, ...] = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
)
"""Latency buckets in seconds, from a cached answer to a cold model load."""

_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")

LabelValues = tuple[str, ...]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _format_value(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


def _labels_text(names: Sequence[str], values: Sequence[str]) -> str:
    if not names:
        return ""
    pairs = ",".join(f'{n}="{_escape(v)}"' for n, v in zip(names, values, strict=True))
    return "{" + pairs + "}"


class _Metric:
    kind = "untyped"

    def __init__(self, name: str, help_text: str, labels: Sequence[str]) -> None:
        if not _NAME.match(name):
            raise ValueError(f"invalid metric name {name!r}")
        for label in labels:
            if not _LABEL.match(label) or label.startswith("__") or label == "le":
                raise ValueError(f"invalid label name {label!r} on {name}")
        self.name = name
        self.help = help_text
        self.label_names = tuple(labels)

    def _key(self, labels: dict[str, str]) -> LabelValues:
        if set(labels) != set(self.label_names):
            raise ValueError(
                f"{self.name} takes labels {self.label_names}, got {tuple(sorted(labels))}"
            )
        return tuple(str(labels[n]) for n in self.label_names)

    def header(self) -> list[str]:
        help_text = self.help.replace("\\", "\\\\").replace("\n", "\\n")
        return [f"# HELP {self.name} {help_text}", f"# TYPE {self.name} {self.kind}"]

    def samples(self) -> list[str]:
        raise NotImplementedError


class _ValueMetric(_Metric):
    """One float per label set: what counters and gauges have in common."""

    def __init__(self, name: str, help_text: str, labels: Sequence[str] = ()) -> None:
        super().__init__(name, help_text, labels)
        self._values: dict[LabelValues, float] = {}

    def _add(self, amount: float, labels: dict[str, str]) -> None:
        key = self._key(labels)
        self._values[key] = self._values.get(key, 0.0) + amount

    def value(self, **labels: str) -> float:
        """The current value (0 for a series never touched)."""
        return self._values.get(self._key(labels), 0.0)

    def clear(self) -> None:
        """Forget every series (probes that re-list their label sets use this)."""
        self._values.clear()

    def samples(self) -> list[str]:
        """Exposition lines of every series."""
        return [
            f"{self.name}{_labels_text(self.label_names, k)} {_format_value(v)}"
            for k, v in sorted(self._values.items())
        ]


class Counter(_ValueMetric):
    """A value that only goes up (per label set)."""

    kind = "counter"

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        """Add ``amount`` (never negative) to the series named by ``labels``."""
        if amount < 0:
            raise ValueError("a counter cannot decrease")
        self._add(amount, labels)

    def set_total(self, total: float, **labels: str) -> None:
        """Mirror a total counted elsewhere (e.g. ``EventBus.published``)."""
        self._values[self._key(labels)] = float(total)


class Gauge(_ValueMetric):
    """A value that goes up and down; may be read from a probe at scrape time."""

    kind = "gauge"

    def set(self, value: float, **labels: str) -> None:
        """Set the series named by ``labels``."""
        self._values[self._key(labels)] = float(value)

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        """Add ``amount`` (negative to decrease)."""
        self._add(amount, labels)


class _HistogramSeries:
    __slots__ = ("counts", "sum")

    def __init__(self, buckets: int) -> None:
        self.counts = [0] * (buckets + 1)  # the last one is +Inf
        self.sum = 0.0


class Histogram(_Metric):
    """Observations sorted into cumulative buckets, with a sum and a count."""

    kind = "histogram"

    def __init__(
        self,
        name: str,
        help_text: str,
        labels: Sequence[str] = (),
        buckets: Iterable[float] = DEFAULT_BUCKETS,
    ) -> None:
        super().__init__(name, help_text, labels)
        self.buckets = tuple(sorted(float(b) for b in buckets if not math.isinf(b)))
        if not self.buckets:
            raise ValueError(f"{name} needs at least one finite bucket")
        self._series: dict[LabelValues, _HistogramSeries] = {}

    def observe(self, value: float, **labels: str) -> None:
        """Record one observation (a NaN or infinity is dropped: it would poison ``_sum``)."""
        if not math.isfinite(value):
            return
        key = self._key(labels)
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = _HistogramSeries(len(self.buckets))
        series.counts[bisect.bisect_left(self.buckets, value)] += 1
        series.sum += value

    def count(self, **labels: str) -> int:
        """Observations recorded for ``labels``."""
        series = self._series.get(self._key(labels))
        return sum(series.counts) if series else 0

    def label_sets(self) -> list[dict[str, str]]:
        """Every label set observed so far."""
        return [dict(zip(self.label_names, k, strict=True)) for k in sorted(self._series)]

    def quantile(self, q: float, **labels: str) -> float | None:
        """Estimate the ``q`` quantile by linear interpolation inside its bucket."""
        series = self._series.get(self._key(labels))
        total = sum(series.counts) if series else 0
        if series is None or total == 0:
            return None
        rank = q * total
        seen = 0
        for i, n in enumerate(series.counts):
            if seen + n >= rank and n > 0:
                lower = self.buckets[i - 1] if i > 0 else 0.0
                upper = self.buckets[i] if i < len(self.buckets) else self.buckets[-1]
                return lower + (upper - lower) * ((rank - seen) / n)
            seen += n
        return self.buckets[-1]

    def samples(self) -> list[str]:
        """Exposition lines: cumulative buckets, ``_sum`` and ``_count`` per series."""
        lines: list[str] = []
        names = (*self.label_names, "le")
        for key, series in sorted(self._series.items()):
            running = 0
            bounds = [*map(_format_value, self.buckets), "+Inf"]
            for bound, n in zip(bounds, series.counts, strict=True):
                running += n
                lines.append(f"{self.name}_bucket{_labels_text(names, (*key, bound))} {running}")
            base = _labels_text(self.label_names, key)
            lines.append(f"{self.name}_sum{base} {_format_value(series.sum)}")
            lines.append(f"{self.name}_count{base} {running}")
        return lines


Probe = Callable[[], None]


class MetricsRegistry:
    """Owns metrics by name and renders them; probes refresh gauges before a render."""

    def __init__(self) -> None:
        self._metrics: dict[str, _Metric] = {}
        self._probes: list[Probe] = []

    def _add(self, metric: _Metric) -> None:
        if metric.name in self._metrics:
            raise ValueError(f"metric {metric.name} is already registered")
        self._metrics[metric.name] = metric

    def counter(self, name: str, help_text: str, labels: Sequence[str] = ()) -> Counter:
        """Create and register a counter."""
        metric = Counter(name, help_text, labels)
        self._add(metric)
        return metric

    def gauge(self, name: str, help_text: str, labels: Sequence[str] = ()) -> Gauge:
        """Create and register a gauge."""
        metric = Gauge(name, help_text, labels)
        self._add(metric)
        return metric

    def histogram(
        self,
        name: str,
        help_text: str,
        labels: Sequence[str] = (),
        buckets: Iterable[float] = DEFAULT_BUCKETS,
    ) -> Histogram:
        """Create and register a histogram."""
        metric = Histogram(name, help_text, labels, buckets)
        self._add(metric)
        return metric

    def add_probe(self, probe: Probe) -> None:
        """Call ``probe`` before every render (cheap, synchronous reads only)."""
        self._probes.append(probe)

    def render(self) -> str:
        """The whole registry in Prometheus text format 0.0.4."""
        for probe in self._probes:
            try:
                probe()
            except Exception as err:  # one broken reading must not blank the whole page
                logger.warning("metrics probe {} failed: {}",
                               getattr(probe, "__qualname__", probe), err)
        lines: list[str] = []
        for metric in self._metrics.values():
            lines += metric.header()
            lines += metric.samples()
        return "\n".join(lines) + "\n"
