"""The relay's per-channel queues: bounded under a flood, edits kept, drained on stop."""

from __future__ import annotations

import asyncio

from libra.discord.translate_relay_queue import (
    MAX_QUEUED,
    EditJob,
    PostJob,
    RelayQueues,
)
from libra.tasks import TaskGroup
from libra.translate.links import PostSource, RelayPost


def job(message_id: int, *, channel: int = 9, author: int = 1) -> PostJob:
    return PostJob(group_id=1, guild_id=2, source_channel_id=3, target_channel_id=channel,
                   languages=("ko",), source_language="en",
                   source=PostSource(message_id=message_id, author_id=author,
                                     text=f"m{message_id}"),
                   author_name="a", avatar_url=None, reply_to=None, combine=True)


def post(message_id: int) -> RelayPost:
    return RelayPost(id=message_id, group_id=1, source_channel_id=3, target_channel_id=9,
                     target_message_id=100 + message_id, webhook_id=None, languages=("ko",),
                     sources=(PostSource(message_id=message_id, author_id=1, text="x"),))


class Channel:
    """What the queues' callbacks did, with a gate holding the first post."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.posted: list[list[int]] = []
        self.edited: list[tuple[int, dict[int, str]]] = []

    async def post(self, jobs: list[PostJob]) -> list[RelayPost]:
        await self.gate.wait()
        self.posted.append([j.source.message_id for j in jobs])
        return [post(j.source.message_id) for j in jobs[:1]]

    async def edit(self, made: RelayPost, edited: dict[int, str], deleted: set[int]) -> None:
        self.edited.append((made.target_message_id, edited))

    async def delete(self, made: RelayPost) -> None:
        return None


async def test_a_flood_drops_the_oldest_waiting_posts_never_the_edits() -> None:
    tasks = TaskGroup("test")
    channel = Channel()
    queues = RelayQueues(tasks, post=channel.post, edit=channel.edit, delete=channel.delete)
    queues.put(9, job(0))
    await asyncio.sleep(0)  # the worker takes it and waits at the gate
    queues.put(9, EditJob(post=post(-1), edited={-1: "fixed"}))
    for n in range(1, 201):
        queues.put(9, job(n))
    assert queues.backlog == MAX_QUEUED + 1  # the queue and the post being made
    assert queues.dropped == 200 + 1 - MAX_QUEUED
    channel.gate.set()
    async with asyncio.timeout(5):
        while queues.backlog:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    flat = [m for batch in channel.posted for m in batch]
    # The newest were kept, in order; the edit waiting among them was not dropped.
    assert flat == [0, *range(200 - MAX_QUEUED + 2, 201)]
    assert channel.edited == [(99, {-1: "fixed"})]
    await tasks.close()


async def test_an_edit_patches_only_the_channels_where_the_original_waits() -> None:
    tasks = TaskGroup("test")
    channel = Channel()
    queues = RelayQueues(tasks, post=channel.post, edit=channel.edit, delete=channel.delete)
    queues.put(9, job(1, channel=9))
    queues.put(9, job(2, channel=9))
    await asyncio.sleep(0)  # 1 (and 2, coalesced) in flight in channel 9
    queues.put(8, job(1, channel=8))  # waiting in channel 8 behind nothing yet
    assert queues.edit_pending(1, "new") == {8, 9}
    assert queues.edit_pending(7, "other") == set()  # posted everywhere: the caller edits
    channel.gate.set()
    async with asyncio.timeout(5):
        while queues.backlog:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    # Channel 9 posted the old text and edited it once; channel 8 posted the new text.
    assert channel.edited == [(101, {1: "new"})]
    await tasks.close()


async def test_drain_waits_for_the_queues_then_gives_up() -> None:
    tasks = TaskGroup("test")
    channel = Channel()
    queues = RelayQueues(tasks, post=channel.post, edit=channel.edit, delete=channel.delete)
    queues.put(9, job(1))
    await asyncio.sleep(0)
    queues.put(8, job(2, channel=8))
    asyncio.get_running_loop().call_later(0.1, channel.gate.set)
    assert await queues.drain(2.0) == 0
    assert sorted(m for batch in channel.posted for m in batch) == [1, 2]

    channel.gate.clear()  # a post that never finishes: drain returns after its timeout
    queues.put(9, job(3))
    await asyncio.sleep(0)
    queues.put(9, job(4))
    async with asyncio.timeout(1):
        assert await queues.drain(0.2) == 2
    await tasks.close()
