"""Failed authentication: what failing clients are told, and what the operator reads.

A valid credential is always accepted. On the default loopback bind every local client
is ``127.0.0.1``, so refusing an *address* would let any local process lock the
operator's CLI, the metrics scraper and the login page out. Failures are what is
throttled: beyond ``admin.failed_auth_limit`` failures in ``admin.failed_auth_window``
an address's failed attempts are answered 429 with ``Retry-After`` instead of 401.
Guessing gains nothing from that difference: the API secret has 32+ random bytes, every
comparison is constant-time, and a sign-in costs a bcrypt check whatever its outcome.

Each failure is counted at the moment it is decided, with no await in between, so
requests arriving in parallel each see the ones before them.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, deque

from loguru import logger

from .auth import Clock

REPORT_INTERVAL = 60.0
"""Seconds between two log lines about one address's failed authentications."""
OTHER_ADDRESSES = "other addresses"


class FailureLimiter:
    """Counts failures per client in a sliding window."""

    def __init__(self, limit: int, window: float, *, clock: Clock = time.monotonic,
                 max_clients: int = 10_000) -> None:
        self._limit = limit
        self._window = window
        self._clock = clock
        self._max_clients = max_clients
        # Only the newest limit + 1 failures matter: memory stays bounded under a flood.
        self._failures: dict[str, deque[float]] = {}

    def record(self, client: str) -> float:
        """Count one failure of ``client``.

        Returns:
            0 while the client is within the limit (this failure included); otherwise
            the seconds until a failure of it would be within the limit again.
        """
        now = self._clock()
        times = self._failures.get(client)
        if times is None:
            if len(self._failures) >= self._max_clients:
                # Bounded memory under a spray of addresses: forget the stalest client.
                stalest = min(self._failures, key=lambda c: self._failures[c][-1])
                del self._failures[stalest]
            times = self._failures[client] = deque(maxlen=self._limit + 1)
        while times and times[0] <= now - self._window:
            times.popleft()
        times.append(now)
        if len(times) <= self._limit:
            return 0.0
        # Within the limit again once the oldest of the newest ``limit`` failures expires.
        return max(0.0, times[1] + self._window - now)


class FailureLog:
    """Tells the operator about failed authentications, one line per address per minute.

    The first failure from an address is logged at once; further ones are counted and
    reported every ``interval`` seconds while they go on (and when the server stops).
    Lines carry the address, the count and the refusal codes: never what was sent.
    """

    def __init__(self, interval: float = REPORT_INTERVAL, *, max_clients: int = 1000) -> None:
        self._interval = interval
        self._max_clients = max_clients
        self._codes: dict[str, Counter[str]] = {}
        self._throttled: Counter[str] = Counter()
        self._timers: dict[str, asyncio.TimerHandle] = {}

    def add(self, client: str, code: str, *, throttled: bool) -> None:
        """Count one failure of ``client`` (``throttled``: it was answered 429)."""
        if client not in self._timers and len(self._timers) >= self._max_clients:
            client = OTHER_ADDRESSES  # a spray of addresses still gives bounded lines
        if client in self._timers:
            self._codes[client][code] += 1
            self._throttled[client] += throttled
            return
        logger.warning("1 failed admin authentication from {} ({}); more from this address "
                       "are reported once a minute", client, code)
        self._arm(client)

    def _arm(self, client: str) -> None:
        self._codes[client] = Counter()
        self._throttled[client] = 0
        self._timers[client] = asyncio.get_running_loop().call_later(
            self._interval, self._report, client)

    def _flush(self, client: str, when: str) -> bool:
        codes = self._codes.pop(client, Counter())
        throttled = self._throttled.pop(client, 0)
        self._timers.pop(client, None)
        total = sum(codes.values())
        if not total:
            return False
        detail = ", ".join(f"{code} {n}" for code, n in codes.most_common())
        logger.warning("{} failed admin authentication{} from {} {} ({}){}", total,
                       "" if total == 1 else "s", client, when, detail,
                       f"; {throttled} answered 429" if throttled else "")
        return True

    def _report(self, client: str) -> None:
        if self._flush(client, f"in the last {self._interval:g} s"):
            self._arm(client)  # still failing: keep counting
        # else quiet for a whole interval: the next failure is logged at once again

    def close(self) -> None:
        """Report what is still counted and stop the timers."""
        for client, timer in list(self._timers.items()):
            timer.cancel()
            self._flush(client, "since the last report")
