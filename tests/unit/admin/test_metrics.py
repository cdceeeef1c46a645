"""The Prometheus text registry."""

from __future__ import annotations

import pytest

from libra.metrics import MetricsRegistry


def test_render_counters_gauges_and_histograms() -> None:
    registry = MetricsRegistry()
    calls = registry.counter("x_calls_total", "Calls.", ["model"])
    pending = registry.gauge("x_pending", "Pending.")
    latency = registry.histogram("x_seconds", "Latency.", ["model"], buckets=[0.1, 1])
    calls.inc(model='a"b\\c\nd')
    calls.inc(2, model="m")
    pending.set(3)
    for value in (0.05, 0.1, 0.5, 5):
        latency.observe(value, model="m")
    text = registry.render()
    assert text.endswith("\n")
    assert "# TYPE x_calls_total counter" in text
    assert 'x_calls_total{model="a\\"b\\\\c\\nd"} 1' in text
    assert 'x_calls_total{model="m"} 2' in text
    assert "x_pending 3" in text
    assert 'x_seconds_bucket{model="m",le="0.1"} 2' in text
    assert 'x_seconds_bucket{model="m",le="1"} 3' in text
    assert 'x_seconds_bucket{model="m",le="+Inf"} 4' in text
    assert 'x_seconds_count{model="m"} 4' in text
    assert 'x_seconds_sum{model="m"} 5.65' in text


def test_quantile_estimate_and_probes() -> None:
    registry = MetricsRegistry()
    latency = registry.histogram("q_seconds", "Latency.", buckets=[1, 2, 4])
    assert latency.quantile(0.5) is None
    for value in (0.5, 1.5, 1.5, 3):
        latency.observe(value)
    assert latency.quantile(0.5) == pytest.approx(1.5)
    gauge = registry.gauge("q_probe", "Probe.")
    seen = iter(range(10))
    registry.add_probe(lambda: gauge.set(next(seen)))
    registry.render()
    assert "q_probe 1" in registry.render()


def test_misuse_is_refused() -> None:
    registry = MetricsRegistry()
    counter = registry.counter("ok_total", "Ok.", ["a"])
    with pytest.raises(ValueError, match="takes labels"):
        counter.inc(b="x")
    with pytest.raises(ValueError, match="cannot decrease"):
        counter.inc(-1, a="x")
    with pytest.raises(ValueError, match="already registered"):
        registry.counter("ok_total", "Again.")
    with pytest.raises(ValueError, match="invalid metric name"):
        registry.gauge("bad-name", "Bad.")
    with pytest.raises(ValueError, match="invalid label name"):
        registry.histogram("h", "H.", ["le"])


def test_a_nan_observation_or_a_failing_probe_does_not_spoil_the_page() -> None:
    registry = MetricsRegistry()
    latency = registry.histogram("n_seconds", "Latency.", buckets=[1])
    latency.observe(0.5)
    latency.observe(float("nan"))  # e.g. a duration computed from a missing timestamp
    healthy = registry.gauge("n_healthy", "Read by a probe that works.")

    def broken() -> None:
        raise RuntimeError("pool went away")

    registry.add_probe(broken)
    registry.add_probe(lambda: healthy.set(7))

    text = registry.render()
    assert "n_seconds_sum 0.5" in text and "n_seconds_count 1" in text
    assert "n_healthy 7" in text
