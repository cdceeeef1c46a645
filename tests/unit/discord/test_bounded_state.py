"""Per-user and per-channel bot state stays flat however many users and channels come by."""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import time

import hikari
import pytest
from hikari.internal.routes import Route

from libra.bounded import DEFAULT_CAPACITY, LruDict, LruSet
from libra.bus import EventBus
from libra.config import DiscordSettings
from libra.discord.conversation import Outlet, Responder
from libra.discord.pacing import EditPacer
from libra.discord.permissions import MIN_SWEEP_SIZE, TokenBucket, UsageLimiter, UserRateLimited
from libra.discord.ratelimits import HIKARI_REST_LOGGER, MAX_ROUTE_LABELS, RateLimitWatcher
from libra.events import DiscordRateLimited


class FakeClock:
    """Monotonic time that only moves when told to (or when a pacer sleeps)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


def limiter(clock: FakeClock) -> UsageLimiter:
    # 6 per minute, 3 saved: an empty bucket is full again 30 s later.
    settings = DiscordSettings(user_rate_per_minute=6.0, user_burst=3)
    return UsageLimiter(settings, clock=clock)


async def send(usage: UsageLimiter, user: int) -> bool:
    """One message from ``user``: True when it would be answered."""
    try:
        async with usage.reply_slot(user, None):
            return True
    except UserRateLimited:
        return False


async def test_fifty_thousand_users_leave_no_buckets_once_refilled() -> None:
    clock = FakeClock()
    usage = limiter(clock)
    most = 0
    for user in range(50_000):
        assert await send(usage, user)
        most = max(most, usage.tracked_users)
        clock.now += 0.001  # 50 s in all: more than one refill time goes by
    # A spent token comes back in 10 s, so about 10,000 users are still refilling at
    # any time; sweeps keep the table under twice that.
    assert most <= 2 * 10_000 + 10

    clock.now += 30.0
    assert await send(usage, 50_000)
    assert usage.tracked_users == 1


async def test_buckets_held_track_recent_users_not_all_users() -> None:
    clock = FakeClock()
    usage = limiter(clock)
    most = 0
    for user in range(50_000):
        await send(usage, user)
        most = max(most, usage.tracked_users)
        clock.now += 0.01  # 100 users a second, each refills one token in 10 s
    # About 1,000 users (those of the last 10 s) are still refilling at any time.
    assert most <= 2 * 1_000 + 10
    assert usage.tracked_users <= 2 * 1_000 + 10


async def test_a_limited_user_stays_limited_right_after_pruning() -> None:
    clock = FakeClock()
    usage = limiter(clock)
    assert [await send(usage, 7) for _ in range(4)] == [True, True, True, False]

    # Enough newcomers to force several size-triggered sweeps, within 5 s.
    for user in range(1_000_000, 1_000_000 + 20 * MIN_SWEEP_SIZE):
        clock.now += 0.0002
        await send(usage, user)
    clock.now = 1000.0 + 5.0
    assert not await send(usage, 7)  # half a token back, not one
    clock.now = 1000.0 + 10.0
    assert await send(usage, 7)  # one whole token back after 10 s, as without pruning
    assert not await send(usage, 7)


def test_pruning_never_changes_a_rate_limit_decision() -> None:
    clock = FakeClock()
    bucket = TokenBucket(6.0, 3, clock=clock)
    per_second, burst = 6.0 / 60.0, 3.0
    reference: dict[int, tuple[float, float]] = {}  # the same rule, never pruned
    limited = 0
    rng = random.Random(5)
    for _ in range(60_000):
        # Mostly bursts from a few regulars (often limited), newcomers, rare long gaps.
        clock.now += rng.choice((0.0, 0.0005, 0.01, 0.3, 1.0, 2.0)) if rng.random() < 0.999 \
            else 40.0
        user = rng.randrange(20) if rng.random() < 0.5 else rng.randrange(10**9)
        tokens, at = reference.get(user, (burst, clock.now))
        tokens = min(burst, tokens + (clock.now - at) * per_second)
        expected = 0.0 if tokens >= 1.0 else (1.0 - tokens) / per_second
        reference[user] = (tokens - 1.0 if tokens >= 1.0 else tokens, clock.now)
        assert bucket.take(user) == expected
        limited += expected > 0
    assert limited > 300  # the trace does exercise refusals
    assert len(bucket) < len(reference) // 10


async def test_a_pacer_used_in_ten_thousand_channels_holds_only_recent_ones() -> None:
    clock = FakeClock()
    pacer = EditPacer(limit=5, window=5.0, clock=clock, sleep=clock.sleep)
    most = 0
    for channel in range(10_000):
        await pacer.acquire(channel)
        most = max(most, len(pacer))
        clock.now += 0.01  # 500 channels per window
    # Channels edited in the last window, plus those of the window before a sweep.
    assert most <= 2 * 500 + 1
    clock.now += 5.0
    await pacer.acquire("new")
    assert len(pacer) == 1


async def test_pruning_keeps_a_channel_that_spent_its_budget_or_was_penalized() -> None:
    clock = FakeClock()
    pacer = EditPacer(limit=5, window=5.0, smooth=False, clock=clock, sleep=clock.sleep)
    pacer.penalize("blocked", 30.0)
    clock.now += 4.9
    for _ in range(5):
        await pacer.acquire("busy")
    clock.now += 0.1  # one window after the pacer was made: the next access sweeps
    for channel in range(100):
        await pacer.acquire(channel)

    assert pacer.delay("busy") == pytest.approx(4.9)
    assert pacer.delay("blocked") == pytest.approx(25.0)
    clock.now += 10.0
    assert pacer.delay("busy") == 0.0


async def test_waiting_edits_keep_their_turn_across_sweeps() -> None:
    pacer = EditPacer(limit=1, window=0.1)
    granted: list[float] = []

    async def edit() -> None:
        await pacer.acquire("c")
        granted.append(time.monotonic())

    async def elsewhere() -> None:
        # Edits in other channels keep triggering sweeps while "c" has waiters.
        for channel in range(30):
            await pacer.acquire(channel)
            await asyncio.sleep(0.02)

    await asyncio.gather(*(edit() for _ in range(4)), elsewhere())

    gaps = [b - a for a, b in itertools.pairwise(granted)]
    assert len(granted) == 4
    assert all(gap >= 0.1 - 0.01 for gap in gaps)  # still one edit per window


def test_bot_threads_keep_the_most_recently_used_ten_thousand() -> None:
    threads: LruSet[int] = LruSet()
    assert threads.capacity == DEFAULT_CAPACITY == 10_000
    threads.add(1)
    for thread in range(2, 50_000):
        threads.add(thread)
        if thread % 1_000 == 0:
            assert threads.touch(1)  # a thread people keep talking in is never forgotten
    assert len(threads) == 10_000
    assert 1 in threads and 49_999 in threads
    assert 2 not in threads and not threads.touch(2)


def test_turn_counters_are_capped_and_keep_live_conversations() -> None:
    turns: LruDict[int, int] = LruDict(capacity=100)
    for channel in range(1, 1_001):
        turns[channel] = turns.get(channel, 0) + 1
        turns[0] = turns.get(0, 0) + 1
    assert len(turns) == 100
    assert turns[0] == 1_000
    assert 500 not in turns and turns[1_000] == 1
    with pytest.raises(ValueError, match="at least one key"):
        LruDict(capacity=0)


async def test_rate_limit_routes_are_templates_and_bounded() -> None:
    bus = EventBus()
    routes: list[str] = []

    async def record(event: DiscordRateLimited) -> None:
        routes.append(event.route)

    bus.subscribe(DiscordRateLimited, record, name="test")
    watcher = RateLimitWatcher(bus)
    watcher.install()
    log = logging.getLogger(HIKARI_REST_LOGGER)
    try:
        for n in range(1_000):  # a misbehaving server inventing a bucket per request
            log.warning("rate limited on bucket %s, maybe you are running more than one bot",
                        f"bucket-{n}")
    finally:
        watcher.uninstall()
    await bus.drain()
    assert watcher.count == 1_000
    assert len(set(routes)) == MAX_ROUTE_LABELS + 1
    assert routes[:2] == ["bucket-0", "bucket-1"] and routes[-1] == "other"

    # A 429 too long for hikari to wait out is labelled with its route template.
    template = Route("PATCH", "/channels/{channel}/messages/{message}")
    failures = [hikari.RateLimitTooLongError(
        route=template.compile(channel=123, message=456), is_global=False, retry_after=0.01,
        max_retry_after=0.0, reset_at=0.0, limit=None, period=None)]
    sent: list[str] = []

    async def post(content: str) -> str:
        if failures:
            raise failures.pop()
        sent.append(content)
        return content

    async def edit(handle: str, content: str) -> None:
        raise AssertionError("say() never edits")

    responder = Responder(chat=None, language=None, pacer=EditPacer(),  # type: ignore[arg-type]
                          bus=bus)
    await responder.say(Outlet(send=post, edit=edit, channel_id=123), "hello")
    await bus.drain()
    assert sent == ["hello"]
    assert routes[-1] == "PATCH /channels/{channel}/messages/{message}"
    await bus.close()
