"""Streaming replies within Discord's per-channel edit budget (real, short windows)."""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from libra.discord.pacing import EditPacer, StreamRenderer
from libra.discord.render import DiscordRateLimitedError, split_message

WINDOW = 0.5
LIMIT = 5


@dataclass
class Message:
    channel: int
    content: str
    history: list[str] = field(default_factory=list)


class ChannelBudgetDiscord:
    """A transport double that enforces Discord's edit budget and records every edit.

    It stands for the network boundary only: over budget it raises the same
    ``DiscordRateLimitedError`` the real transport raises on a 429.
    """

    def __init__(self, *, limit: int = LIMIT, window: float = WINDOW) -> None:
        self.limit, self.window = limit, window
        self.messages: list[Message] = []
        self.edit_times: dict[int, list[float]] = {}
        self.rejected = 0
        self.fail_next_edits = 0

    def for_channel(self, channel: int) -> tuple:  # type: ignore[type-arg]
        async def send(content: str) -> Message:
            assert 0 < len(content) <= 2000
            message = Message(channel, content, [content])
            self.messages.append(message)
            return message

        async def edit(message: Message, content: str) -> None:
            assert 0 < len(content) <= 2000
            now = time.monotonic()
            recent = [t for t in self.edit_times.get(channel, []) if now - t < self.window]
            if self.fail_next_edits > 0 or len(recent) >= self.limit:
                self.fail_next_edits = max(0, self.fail_next_edits - 1)
                self.rejected += 1
                raise DiscordRateLimitedError(0.05)
            self.edit_times.setdefault(channel, []).append(now)
            message.content = content
            message.history.append(content)

        return send, edit

    def max_edits_in_window(self, channel: int) -> int:
        times = sorted(self.edit_times.get(channel, []))
        best, start = 0, 0
        for end, at in enumerate(times):
            while at - times[start] >= self.window:
                start += 1
            best = max(best, end - start + 1)
        return best

    def visible(self, channel: int) -> list[str]:
        return [m.content for m in self.messages if m.channel == channel]


async def token_stream(text: str, *, per_second: float, chunk: int = 4) -> AsyncIterator[str]:
    for start in range(0, len(text), chunk):
        await asyncio.sleep(1 / per_second)
        yield text[start : start + chunk]


def answer(seed: int, words: int) -> str:
    rng = random.Random(seed)
    vocabulary = [
        "the",
        "quick",
        "brown",
        "fox",
        "jumps",
        "over",
        "a",
        "lazy",
        "dog",
        "while",
        "streaming",
        "tokens",
    ]
    return " ".join(rng.choice(vocabulary) for _ in range(words))


async def render(
    discord: ChannelBudgetDiscord,
    pacer: EditPacer,
    channel: int,
    deltas: AsyncIterator[str],
    **options: object,
) -> StreamRenderer[Message]:
    send, edit = discord.for_channel(channel)
    renderer: StreamRenderer[Message] = StreamRenderer(
        send=send, edit=edit, pacer=pacer, channel=channel, **options
    )
    await renderer.run(deltas)
    return renderer


async def test_50_concurrent_replies_in_5_channels_stay_within_budget() -> None:
    discord = ChannelBudgetDiscord()
    pacer = EditPacer(limit=LIMIT, window=WINDOW)
    texts = [answer(seed, 60 + seed * 9) for seed in range(50)]  # some pass 2,000 chars
    assert max(len(t) for t in texts) > 2000

    renderers = await asyncio.gather(
        *(
            render(discord, pacer, n % 5, token_stream(text, per_second=200, chunk=8))
            for n, text in enumerate(texts)
        )
    )

    for channel in range(5):
        assert discord.max_edits_in_window(channel) <= LIMIT
    assert discord.rejected == 0
    for renderer, text in zip(renderers, texts, strict=True):
        shown = [m.content for m in renderer.reply.handles]
        assert shown == split_message(text) == renderer.reply.parts
    assert sum(r.reply.edits for r in renderers) > 50  # it really streamed by editing


async def test_first_text_is_shown_at_once_even_when_the_budget_is_spent() -> None:
    discord = ChannelBudgetDiscord()
    pacer = EditPacer(limit=1, window=5.0)
    await pacer.acquire(7)  # another reply used the channel's budget

    async def deltas() -> AsyncIterator[str]:
        yield "Hello"
        await asyncio.sleep(0.02)
        yield " there"

    started = time.monotonic()
    send, edit = discord.for_channel(7)
    shown = asyncio.Event()

    async def send_and_signal(content: str) -> Message:
        message = await send(content)
        shown.set()
        return message

    renderer: StreamRenderer[Message] = StreamRenderer(
        send=send_and_signal, edit=edit, pacer=pacer, channel=7
    )
    task = asyncio.create_task(renderer.run(deltas()))
    await asyncio.wait_for(shown.wait(), 2)
    await asyncio.sleep(0.1)
    assert discord.visible(7) == ["Hello"]  # the edit waits for budget, the send did not
    assert renderer.reply.first_visible_at is not None
    assert renderer.reply.first_visible_at - started < 1.0  # not the 5 s budget wait
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_first_send_that_edits_on_the_wire_spends_the_budget_like_an_edit() -> None:
    # /ask fills its deferred response with the first part: a PATCH of @original.
    discord = ChannelBudgetDiscord()
    _, edit = discord.for_channel(3)
    shown: list[Message] = []

    async def edit_original(content: str) -> Message:
        message = Message(3, "", [])
        discord.messages.append(message)
        await edit(message, content)  # counted (and refused over budget) like any edit
        shown.append(message)
        return message

    pacer = EditPacer(limit=LIMIT, window=WINDOW)
    renderer: StreamRenderer[Message] = StreamRenderer(
        send=edit_original, edit=edit, pacer=pacer, channel=3,
        send_is_edit=lambda: not shown)
    text = answer(8, 120)

    await renderer.run(token_stream(text, per_second=60))  # about 3 windows of streaming

    assert discord.visible(3) == [text]
    assert discord.rejected == 0
    assert discord.max_edits_in_window(3) <= LIMIT
    assert renderer.reply.edits >= 2 * LIMIT  # it really streamed through several windows


async def test_the_final_edit_waits_for_budget_and_carries_everything() -> None:
    discord = ChannelBudgetDiscord(limit=1, window=0.3)
    pacer = EditPacer(limit=1, window=0.3)
    text = answer(3, 40)

    renderer = await render(discord, pacer, 1, token_stream(text, per_second=400))

    assert discord.visible(1) == [text]
    assert discord.max_edits_in_window(1) == 1
    assert renderer.reply.edits <= 4  # coalesced, not one edit per delta


async def test_long_answers_move_to_new_messages_and_finish_the_old_ones() -> None:
    discord = ChannelBudgetDiscord()
    pacer = EditPacer(limit=LIMIT, window=WINDOW)
    text = answer(4, 900)
    assert len(text) > 4000

    renderer = await render(discord, pacer, 2, token_stream(text, per_second=2000, chunk=40))

    assert discord.visible(2) == split_message(text)
    assert len(renderer.reply.handles) >= 3
    assert all(len(m.content) <= 2000 for m in renderer.reply.handles)


async def test_a_429_is_waited_out_and_no_text_is_lost() -> None:
    discord = ChannelBudgetDiscord()
    discord.fail_next_edits = 3
    pacer = EditPacer(limit=LIMIT, window=WINDOW)
    text = answer(5, 80)

    renderer = await render(discord, pacer, 3, token_stream(text, per_second=300))

    assert discord.visible(3) == [text]
    assert renderer.reply.rate_limited == 3
    assert discord.rejected == 3


async def test_a_429_on_send_is_retried() -> None:
    discord = ChannelBudgetDiscord()
    attempts = itertools.count()
    send, edit = discord.for_channel(4)

    async def flaky_send(content: str) -> Message:
        if next(attempts) == 0:
            raise DiscordRateLimitedError(0.05)
        return await send(content)

    renderer: StreamRenderer[Message] = StreamRenderer(
        send=flaky_send, edit=edit, pacer=EditPacer(limit=5, window=0.5), channel=4
    )

    async def deltas() -> AsyncIterator[str]:
        yield "one answer"

    reply = await renderer.run(deltas())

    assert discord.visible(4) == ["one answer"]
    assert reply.rate_limited == 1


async def test_notice_line_and_stopped_marker() -> None:
    discord = ChannelBudgetDiscord()
    pacer = EditPacer(limit=LIMIT, window=WINDOW)
    send, edit = discord.for_channel(5)
    renderer: StreamRenderer[Message] = StreamRenderer(
        send=send,
        edit=edit,
        pacer=pacer,
        channel=5,
        notice="-# Switching to French.",
        stopped_marker=" *(stopped)*",
    )
    gate = asyncio.Event()

    async def deltas() -> AsyncIterator[str]:
        yield "Bonjour, "
        yield "je suis"
        gate.set()
        await asyncio.sleep(30)  # the model keeps going until stopped
        yield "never shown"

    task = asyncio.create_task(renderer.run(deltas()))
    await gate.wait()
    await asyncio.sleep(0.05)
    renderer.stop()
    reply = await asyncio.wait_for(task, 5)

    assert discord.visible(5) == ["-# Switching to French.\nBonjour, je suis *(stopped)*"]
    assert reply.stopped


async def test_a_failing_stream_keeps_its_text_and_reports_the_error() -> None:
    discord = ChannelBudgetDiscord()

    async def deltas() -> AsyncIterator[str]:
        yield "partial answer"
        raise ConnectionResetError("model server went away")

    renderer = await render(discord, EditPacer(limit=5, window=0.5), 6, deltas())

    assert discord.visible(6) == ["partial answer"]
    assert isinstance(renderer.reply.error, ConnectionResetError)


async def test_pacer_spaces_edits_per_channel_only() -> None:
    pacer = EditPacer(limit=2, window=0.3)
    started = time.monotonic()
    granted: dict[str, list[float]] = {"a": [], "b": []}

    async def edit(channel: str) -> None:
        await pacer.acquire(channel)
        granted[channel].append(time.monotonic() - started)

    await asyncio.gather(*(edit("a") for _ in range(4)), edit("b"))

    a = granted["a"]
    assert a[1] - a[0] >= 0.15 - 0.01  # smoothed: window / limit apart
    assert a[2] - a[0] >= 0.3 - 0.01 and a[3] - a[1] >= 0.3 - 0.01  # 2 per 0.3 s
    assert granted["b"][0] < 0.1  # another channel does not wait for "a"


def test_pacer_rejects_an_empty_budget() -> None:
    with pytest.raises(ValueError, match="at least one edit"):
        EditPacer(limit=0)


async def test_urgent_edits_go_before_waiting_live_updates() -> None:
    pacer = EditPacer(limit=1, window=0.2)
    await pacer.acquire("c")
    order: list[str] = []

    async def edit(name: str, *, urgent: bool) -> None:
        await pacer.acquire("c", urgent=urgent)
        order.append(name)

    first = asyncio.create_task(edit("live-1", urgent=False))
    await asyncio.sleep(0.01)  # live-1 holds the turn, waiting for budget
    second = asyncio.create_task(edit("live-2", urgent=False))
    await asyncio.sleep(0.01)
    final = asyncio.create_task(edit("final", urgent=True))
    await asyncio.gather(first, second, final)

    assert order == ["live-1", "final", "live-2"]


async def test_a_cancelled_waiter_does_not_block_the_channel() -> None:
    pacer = EditPacer(limit=1, window=0.2)
    await pacer.acquire("c")
    waiting = asyncio.create_task(pacer.acquire("c"))
    behind = asyncio.create_task(pacer.acquire("c"))
    await asyncio.sleep(0.05)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting

    await asyncio.wait_for(behind, 2)
    await asyncio.wait_for(pacer.acquire("c"), 2)


async def test_an_answer_stopped_inside_a_code_block_shows_the_marker_after_it() -> None:
    shown: list[str] = []

    async def send(content: str) -> int:
        shown.append(content)
        return len(shown) - 1

    async def edit(handle: int, content: str) -> None:
        shown[handle] = content

    renderer: StreamRenderer[int] = StreamRenderer(send=send, edit=edit, pacer=EditPacer(),
                                                   channel=1)

    async def deltas() -> AsyncIterator[str]:
        yield "Here:\n```python\nfor i in range(3):\n    print(i)"
        renderer.stop()

    await renderer.run(deltas())

    assert shown == ["Here:\n```python\nfor i in range(3):\n    print(i)\n```\n*(stopped)*"]
