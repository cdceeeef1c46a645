"""Noticing the 429s hikari waits out by itself, so they are counted and published.

hikari retries rate-limited requests internally and only says so in its log, so a
handler on its ``hikari.rest`` logger is the one place every 429 shows up.

The route becomes a metrics label, so it must come from a small set: hikari logs the
route template (no ids) or Discord's bucket hash, and past ``MAX_ROUTE_LABELS``
distinct values every new one is reported as ``other``.
"""

from __future__ import annotations

import logging

from libra.bus import EventBus
from libra.events import DiscordRateLimited

HIKARI_REST_LOGGER = "hikari.rest"
MAX_ROUTE_LABELS = 100
"""Distinct routes reported before new ones collapse into ``other``."""
OTHER_ROUTE = "other"
_ROUTE_ARG = {"rate limited on a %s sub bucket": 3, "rate limited on bucket": 0}


class RateLimitWatcher(logging.Handler):
    """Publishes :class:`DiscordRateLimited` for each 429 hikari reports."""

    def __init__(self, bus: EventBus) -> None:
        super().__init__(level=logging.WARNING)
        self._bus = bus
        self.count = 0
        self._routes: set[str] = set()

    def install(self) -> None:
        """Start watching hikari's REST log."""
        logging.getLogger(HIKARI_REST_LOGGER).addHandler(self)

    def uninstall(self) -> None:
        """Stop watching (idempotent)."""
        logging.getLogger(HIKARI_REST_LOGGER).removeHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        """Turn hikari's "rate limited" warnings into events."""
        template = str(record.msg)
        if not template.startswith("rate limited"):
            return
        self.count += 1
        route = "global"
        for prefix, index in _ROUTE_ARG.items():
            if template.startswith(prefix) and isinstance(record.args, tuple):
                if len(record.args) > index:
                    route = str(record.args[index])
                break
        # hikari does not log how long it waits; its retry follows on its own.
        self._bus.publish(DiscordRateLimited(route=self._label(route), retry_after=0.0))

    def _label(self, route: str) -> str:
        if route not in self._routes:
            if len(self._routes) >= MAX_ROUTE_LABELS:
                return OTHER_ROUTE
            self._routes.add(route)
        return route
