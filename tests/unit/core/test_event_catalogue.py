"""``events.py`` says which events are contracts between features and which are telemetry."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import libra
from libra import events
from libra.events import Event, EventKind

LIBRA = Path(libra.__file__).parent
METRICS_ONLY = {LIBRA / "admin" / "collector.py", LIBRA / "voice" / "latency_board.py"}
"""Subscribers that only count events (metrics, the voice latency figures people read):
they make no event a contract."""
BASES = {Event, events.VoiceEvent}


def _events() -> list[type[Event]]:
    return [cls for cls in vars(events).values()
            if inspect.isclass(cls) and issubclass(cls, Event) and cls not in BASES]


def _behaviour_subscribers() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in LIBRA.rglob("*.py"):
        if path in METRICS_ONLY:
            continue
        for name in re.findall(r"\.subscribe\(\s*([A-Z]\w+)", path.read_text()):
            found.setdefault(name, []).append(str(path.relative_to(LIBRA)))
    return found


def test_every_event_says_whether_it_is_a_contract_or_telemetry() -> None:
    undeclared = [cls.__name__ for cls in _events() if "kind" not in vars(cls)]
    assert undeclared == [], "declare kind = EventKind.CONTRACT or TELEMETRY"


def test_each_contract_event_has_a_production_subscriber() -> None:
    subscribers = _behaviour_subscribers()
    orphans = [cls.__name__ for cls in _events()
               if cls.kind is EventKind.CONTRACT and cls.__name__ not in subscribers]
    assert orphans == []


def test_an_event_a_feature_acts_on_is_declared_a_contract() -> None:
    subscribers = _behaviour_subscribers()
    telemetry = {cls.__name__ for cls in _events() if cls.kind is EventKind.TELEMETRY}
    assert {name: where for name, where in subscribers.items() if name in telemetry} == {}
