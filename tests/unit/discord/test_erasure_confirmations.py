"""``/privacy delete`` confirmations: for their caller only, once, and not forever."""

from __future__ import annotations

from libra.discord.confirmations import Claim, PendingErasures


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_only_the_caller_can_confirm_and_only_once() -> None:
    pending = PendingErasures(ttl=60, clock=Clock())
    nonce = pending.open(user_id=1)

    assert pending.claim(nonce, user_id=2) is Claim.NOT_YOURS
    assert pending.claim(nonce, user_id=1) is Claim.CONFIRMED  # someone else's try spent nothing
    assert pending.claim(nonce, user_id=1) is Claim.USED  # a double click deletes once


def test_a_confirmation_expires_and_unknown_ones_are_expired() -> None:
    clock = Clock()
    pending = PendingErasures(ttl=60, clock=clock)
    nonce = pending.open(user_id=1)
    other = pending.open(user_id=1)
    assert nonce != other

    clock.now += 60
    assert pending.claim(nonce, user_id=1) is Claim.EXPIRED
    assert pending.claim("from-before-a-restart", user_id=1) is Claim.EXPIRED
