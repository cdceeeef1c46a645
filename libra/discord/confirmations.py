"""Pending confirmations of ``/privacy delete``: one button press, by its caller, in time."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from enum import StrEnum

from libra.bounded import LruDict

CONFIRM_SECONDS = 300.0
"""How long a confirmation button works (Discord keeps the message's token 15 min)."""


class Claim(StrEnum):
    """What pressing a confirmation button amounts to."""

    CONFIRMED = "confirmed"
    """The caller pressed it in time; it is used up."""
    NOT_YOURS = "not-yours"
    """Someone else pressed it; it stays valid for the caller."""
    USED = "used"
    """Pressed again (a double click): the first press's answer stands."""
    EXPIRED = "expired"
    """Too late, or from before a restart."""


class PendingErasures:
    """Single-use confirmation nonces, each bound to the user who asked."""

    def __init__(self, ttl: float = CONFIRM_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        # nonce -> (owner, expiry, used). Bounded: a flood of unconfirmed requests
        # forgets the oldest, never grows.
        self._pending: LruDict[str, tuple[int, float, bool]] = LruDict(1_000)

    def open(self, user_id: int) -> str:
        """A fresh nonce for ``user_id``'s confirmation button (unguessable, URL-safe)."""
        nonce = secrets.token_urlsafe(12)
        self._pending[nonce] = (user_id, self._clock() + self.ttl, False)
        return nonce

    def claim(self, nonce: str, user_id: int) -> Claim:
        """Use the nonce if ``user_id`` owns it, it has not expired and is not used yet.

        A used nonce is kept until it expires, so that a second press is told apart
        from a stale one and does not overwrite the answer to the first.
        """
        entry = self._pending.get(nonce)
        if entry is None:
            return Claim.EXPIRED
        owner, expires, used = entry
        if self._clock() >= expires:
            del self._pending[nonce]
            return Claim.EXPIRED
        if owner != user_id:
            return Claim.NOT_YOURS
        if used:
            return Claim.USED
        self._pending[nonce] = (owner, expires, True)
        return Claim.CONFIRMED
