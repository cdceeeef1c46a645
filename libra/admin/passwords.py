"""Operator password checks that a flood of sign-ins cannot turn against the process.

bcrypt is slow on purpose (a quarter of a second of CPU at cost 12) and a right
password must always be checked, even from an address whose failures are throttled.
Run in asyncio's default executor, forty clients guessing without pause filled its
threads: Libra's own ``to_thread`` calls and name lookups (reconnecting to Discord,
PostgreSQL, Redis) waited seconds behind them, both cores were busy, and the
operator's sign-in timed out behind the queue of guesses.

So checks run one at a time on a thread of their own, and only a few may wait: a
sign-in that finds the line full is told to retry at once, with no bcrypt work done.
A browser where an operator signed in before carries a signed device cookie naming
them; its sign-ins as that operator go ahead of every other waiting check, so
guesses from the same address (every local client is 127.0.0.1, every client behind
a proxy is the proxy) cannot keep that operator out.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from concurrent.futures import Future, ThreadPoolExecutor

import bcrypt

BCRYPT_MAX_BYTES = 72
"""bcrypt reads at most 72 bytes; bcrypt 5 refuses longer passwords outright."""
MAX_WAITING = 4
"""Sign-ins that may wait for the bcrypt thread; further ones are refused at once."""

# A cost-12 hash of a random string nobody knows: unknown operator names are checked
# against it so that a wrong name costs as much time as a wrong password.
_DUMMY_HASH = b"$2b$12$pgzOzC1EGdQE3Ddwz.hry.og00GNQljrFayCCIDcLbW/0quU1MUP2"


def _matches(raw: bytes, hashed: bytes) -> bool:
    try:
        return bcrypt.checkpw(raw, hashed)
    except ValueError:  # a malformed hash in the config never logs anyone in
        return False


class PasswordChecker:
    """Checks operator passwords on one thread of its own, trusted browsers first."""

    def __init__(self, hashes: dict[str, str], *, max_waiting: int = MAX_WAITING) -> None:
        self._hashes = dict(hashes)
        self._max_waiting = max_waiting
        self._executor: ThreadPoolExecutor | None = None
        self._busy = False
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    async def check(self, operator: str, password: str, *, trusted: bool = False
                    ) -> bool | None:
        """Whether ``password`` is ``operator``'s; ``None`` when too many checks wait.

        ``trusted``: the browser carries this operator's device cookie; such a check
        waits ahead of the others and is never refused for a full line.
        """
        raw = password.encode("utf-8", "surrogatepass")
        stored = self._hashes.get(operator)
        if len(raw) > BCRYPT_MAX_BYTES:
            raw, stored = raw[:0], None  # still spend the time, never match
        hashed = stored.encode() if stored else _DUMMY_HASH
        if not await self._enter(trusted):
            return None
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="libra-admin-bcrypt")
        work: Future[bool] = self._executor.submit(_matches, raw, hashed)
        try:
            matched = await asyncio.wrap_future(work)
        finally:
            # The thread is free only once bcrypt returns, even if nobody waits for it
            # any more (the client left, the request timed out).
            if work.done():
                self._leave()
            else:
                loop = asyncio.get_running_loop()
                work.add_done_callback(lambda _: loop.call_soon_threadsafe(self._leave))
        return matched and stored is not None

    async def _enter(self, trusted: bool) -> bool:
        if not self._busy:
            self._busy = True
            return True
        if not trusted and len(self._waiting) >= self._max_waiting:
            return False
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (0 if trusted else 1, next(self._order), turn)
        heapq.heappush(self._waiting, entry)
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self._leave()  # handed the thread as we were cancelled: pass it on
            else:
                self._waiting.remove(entry)
                heapq.heapify(self._waiting)
            raise
        return True

    def _leave(self) -> None:
        while self._waiting:
            _, _, turn = heapq.heappop(self._waiting)
            if not turn.done():
                turn.set_result(None)
                return
        self._busy = False

    def close(self) -> None:
        """Stop the thread (a check still running finishes on its own)."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
