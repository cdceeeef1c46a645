"""One queue per target channel for relayed translations, coalescing a backlog.

Everything the relay does in a channel (post a translation, edit one, delete one)
goes through that channel's queue, in order, one at a time: Discord's per-channel and
per-webhook budgets are spent by one worker, so they can be paced exactly, and an
edit never overtakes the post it edits.

**Coalescing.** Discord lets a channel receive about 30 webhook messages a minute,
and a busy linked group sends each channel more translated messages than that (two
messages a second over three channels is 80 a minute per channel). When a worker is
free and several posts wait, they become one post, so a channel keeps up instead of
falling minutes behind:

* into a linked channel (``PostJob.combine``), every waiting message, whoever wrote it
  and in whichever channel of the group: one named line per author;
* beneath an auto-translated message, consecutive messages of its author (the post is
  a reply to the first).

At most ``MAX_COALESCED`` messages and ``MAX_COALESCED_CHARS`` characters of originals
join one post (the relay splits a post whose translation outgrows Discord's 2000
characters). Later edits and deletes of a message still waiting are applied to the
waiting post itself.

**Bounded.** A channel's queue holds at most ``MAX_QUEUED`` jobs: past that the oldest
waiting post is dropped (counted in ``dropped`` and logged), so a flood cannot grow
memory without end nor delay everyone else's messages by minutes. Edits and deletes
are never dropped (they are few, and losing one leaves a wrong post behind).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from loguru import logger

from libra.tasks import TaskGroup
from libra.translate.api import ContextMessage
from libra.translate.links import PostSource, RelayPost

MAX_COALESCED = 20
"""Originals in one coalesced post at most."""
MAX_COALESCED_CHARS = 1500
"""Characters of originals in one coalesced post at most (a translation may be longer
than its original, and a post holds 2000)."""
MAX_QUEUED = 60
"""Jobs one target channel's queue holds at most (about two minutes of posts at the
channel's 30 a minute, coalesced): the oldest waiting post goes first."""


@dataclass(slots=True, kw_only=True)
class PostJob:
    """Translate one original into a target channel and post it there."""

    group_id: int
    guild_id: int
    source_channel_id: int
    target_channel_id: int
    languages: tuple[str, ...]
    """The target's language(s); one for a linked channel, several beneath an auto one."""
    source_language: str
    source: PostSource
    author_name: str
    avatar_url: str | None
    reply_to: int | None
    """The original this message replies to (mapped into the target when posting)."""
    context: tuple[ContextMessage, ...] = ()
    """The channel's previous few messages, for the model."""
    combine: bool = False
    """May share a post with other authors' messages (a linked channel's named lines)."""
    received_at: float = field(default_factory=time.monotonic)


@dataclass(slots=True, kw_only=True)
class EditJob:
    """Re-translate a post whose originals were edited or deleted.

    ``edited``: new texts by message id; ``deleted``: gone originals. A post left with
    no original is deleted.
    """

    post: RelayPost
    edited: dict[int, str] = field(default_factory=dict)
    deleted: set[int] = field(default_factory=set)


@dataclass(slots=True, kw_only=True)
class DeleteJob:
    """Delete a post whose originals are all gone."""

    post: RelayPost


Job = PostJob | EditJob | DeleteJob


@dataclass(slots=True)
class _ChannelQueue:
    jobs: deque[Job] = field(default_factory=deque)
    running: bool = False
    in_flight: list[PostJob] = field(default_factory=list)
    edited: dict[int, str] = field(default_factory=dict)
    """Originals edited while their post was being made: re-translated right after."""
    deleted: set[int] = field(default_factory=set)
    """Originals deleted while their post was being made: removed right after."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Posted:
    """One finished post, for figures (latency from each original to its post)."""

    target_channel_id: int
    source_message_ids: tuple[int, ...]
    received_at: tuple[float, ...]
    posted_at: float


class RelayQueues:
    """The per-target-channel queues and their workers (held tasks, cancelled on stop)."""

    def __init__(self, tasks: TaskGroup, *,
                 post: Callable[[list[PostJob]], Awaitable[list[RelayPost]]],
                 edit: Callable[[RelayPost, dict[int, str], set[int]], Awaitable[None]],
                 delete: Callable[[RelayPost], Awaitable[None]],
                 on_posted: Callable[[Posted], None] | None = None) -> None:
        """Workers call back into the relay for the Discord work.

        ``post(batch)`` returns the posts made (more than one when the translations
        outgrew one message, none when every translation failed); ``edit(post,
        new_texts, deleted_ids)`` applies edits/deletes to a posted post.
        """
        self._tasks = tasks
        self._post = post
        self._edit = edit
        self._delete = delete
        self._on_posted = on_posted
        self._queues: dict[int, _ChannelQueue] = {}
        self.dropped = 0
        """Waiting posts dropped because their channel's queue was full (or at stop)."""
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def backlog(self) -> int:
        """Jobs waiting or being carried out, in every channel."""
        return sum(len(q.jobs) + (1 if q.running else 0) for q in self._queues.values())

    def put(self, channel_id: int, job: Job) -> None:
        """Queue a job for ``channel_id``; its worker starts if it is idle."""
        queue = self._queues.setdefault(channel_id, _ChannelQueue())
        queue.jobs.append(job)
        if len(queue.jobs) > MAX_QUEUED:
            self._drop_oldest(channel_id, queue)
        self._idle.clear()
        if not queue.running:
            queue.running = True
            self._tasks.spawn(self._work(channel_id, queue), name=f"translate-relay:{channel_id}")

    def _drop_oldest(self, channel_id: int, queue: _ChannelQueue) -> None:
        oldest = next((j for j in queue.jobs if isinstance(j, PostJob)), None)
        if oldest is None:
            return  # only edits and deletes wait: they are kept (see the module)
        queue.jobs.remove(oldest)
        self.dropped += 1
        logger.warning("translation relay into channel {} is {} jobs behind: message {} "
                       "dropped ({} dropped so far)", channel_id, MAX_QUEUED,
                       oldest.source.message_id, self.dropped)

    def edit_pending(self, message_id: int, text: str) -> set[int]:
        """Apply an edit to the copies of an original not posted yet (waiting or in flight).

        Returns the target channels where such a copy was patched: their post (made or
        about to be) shows the new text without an edit job. Posts already made in
        other channels are the caller's to edit.
        """
        patched: set[int] = set()
        for channel_id, queue in self._queues.items():
            for job in queue.jobs:
                if isinstance(job, PostJob) and job.source.message_id == message_id:
                    job.source = dataclasses.replace(job.source, text=text)
                    patched.add(channel_id)
            if any(j.source.message_id == message_id for j in queue.in_flight):
                queue.edited[message_id] = text
                patched.add(channel_id)
        return patched

    def delete_pending(self, message_id: int) -> set[int]:
        """Drop an original from every queue; returns the channels where it was pending.

        Waiting copies are removed; an in-flight one is removed from its post right
        after that post is made. Posts in other channels are the caller's to delete.
        """
        found: set[int] = set()
        for channel_id, queue in self._queues.items():
            before = len(queue.jobs)
            queue.jobs = deque(j for j in queue.jobs if not (
                isinstance(j, PostJob) and j.source.message_id == message_id))
            if len(queue.jobs) != before:
                found.add(channel_id)
            if any(j.source.message_id == message_id for j in queue.in_flight):
                queue.deleted.add(message_id)
                found.add(channel_id)
        return found

    async def drain(self, timeout: float) -> int:
        """Wait up to ``timeout`` seconds for every queue to empty (Libra is stopping).

        Returns how many jobs were left undone (logged by the caller); they are dropped.
        """
        try:
            async with asyncio.timeout(timeout):
                await self._idle.wait()
        except TimeoutError:
            pass
        left = self.backlog
        for queue in self._queues.values():
            self.dropped += sum(isinstance(j, PostJob) for j in queue.jobs)
            queue.jobs.clear()
        return left

    async def _work(self, channel_id: int, queue: _ChannelQueue) -> None:
        try:
            while queue.jobs:
                job = queue.jobs.popleft()
                try:
                    await self._run(queue, job)
                except asyncio.CancelledError:
                    raise
                except Exception as err:  # one failed job must not stop the channel
                    logger.opt(exception=err).warning(
                        "translation relay into channel {} failed: {}", channel_id, err)
        finally:
            queue.running = False
            queue.in_flight = []
            if not queue.jobs:
                self._queues.pop(channel_id, None)
            if not self._queues:
                self._idle.set()

    async def _run(self, queue: _ChannelQueue, job: Job) -> None:
        if isinstance(job, EditJob):
            await self._edit(job.post, job.edited, job.deleted)
            return
        if isinstance(job, DeleteJob):
            await self._delete(job.post)
            return
        batch = [job, *self._coalesce(queue, job)]
        queue.in_flight = batch
        queue.edited, queue.deleted = {}, set()
        try:
            posts = await self._post(batch)
        finally:
            queue.in_flight = []
        # No await since the posts were recorded: from here on an edit or delete of
        # these originals finds the stored posts (the relay's listeners edit those);
        # what arrived while they were being made is applied now, once.
        late_edits, late_deletes = queue.edited, queue.deleted
        queue.edited, queue.deleted = {}, set()
        received = {j.source.message_id: j.received_at for j in batch}
        for post in posts:
            ids = tuple(s.message_id for s in post.sources)
            if self._on_posted is not None:
                self._on_posted(Posted(
                    target_channel_id=post.target_channel_id, source_message_ids=ids,
                    received_at=tuple(received.get(i, 0.0) for i in ids),
                    posted_at=time.monotonic()))
            edited = {i: t for i, t in late_edits.items() if i in ids}
            deleted = {i for i in late_deletes if i in ids}
            if edited or deleted:
                await self._edit(post, edited, deleted)

    @staticmethod
    def _coalesce(queue: _ChannelQueue, first: PostJob) -> list[PostJob]:
        """Take the waiting posts that can join ``first``'s, in order (see the module)."""
        taken: list[PostJob] = []
        chars = len(first.source.text)
        while queue.jobs and len(taken) + 1 < MAX_COALESCED:
            nxt = queue.jobs[0]
            if not isinstance(nxt, PostJob):
                break  # an edit or delete waits its turn: nothing overtakes it
            if not (nxt.group_id == first.group_id and nxt.languages == first.languages
                    and chars + len(nxt.source.text) <= MAX_COALESCED_CHARS):
                break
            if not (first.combine and nxt.combine) and not (
                    nxt.source.author_id == first.source.author_id
                    and nxt.source_channel_id == first.source_channel_id
                    and nxt.reply_to is None
                    and nxt.source_language == first.source_language):
                break
            chars += len(nxt.source.text)
            queue.jobs.popleft()
            taken.append(nxt)
        return taken
