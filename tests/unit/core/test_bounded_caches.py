"""Per-id caches (channel languages, per-guild stage figures) stay flat as ids keep coming."""

from __future__ import annotations

import tracemalloc

import pytest

from libra.discord.stage_stats import StageStats
from libra.events import ReplyFinished
from libra.language.state import ChannelStateStore
from libra.storage.api import ChannelLanguageState
from libra.storage.repositories import PgStorage


def _state(channel_id: int, language: str = "ko") -> ChannelLanguageState:
    return ChannelLanguageState(channel_id=channel_id, language=language)


async def test_memory_stays_flat_as_new_channels_keep_arriving() -> None:
    store = ChannelStateStore(None)
    tracemalloc.start()
    try:
        for channel in range(20_000):  # fill the cache to its steady state
            store.save(_state(channel))
        before = tracemalloc.get_traced_memory()[0]
        for channel in range(20_000, 120_000):
            store.save(_state(channel))
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    # 100,000 more channels would hold about 20 MB if every state were kept.
    assert grown < 1_000_000
    assert (await store.load(119_999)).language == "ko"  # recent channels keep theirs


@pytest.mark.slow
async def test_a_channel_pushed_out_before_its_write_keeps_its_latest_state(
    storage: PgStorage,
) -> None:
    await storage.save_channel_language(_state(1, "en"))
    store = ChannelStateStore(storage, max_cached_channels=10)
    assert (await store.load(1)).language == "en"
    store.save(_state(1, "ko"))  # not written yet: the flusher has not run
    for channel in range(2, 30):
        store.save(_state(channel))
    assert (await store.load(1)).language == "ko"  # not the older row in the database
    await store.flush()
    saved = await storage.get_channel_language(1)
    assert saved is not None and saved.language == "ko"


async def test_stage_figures_stay_flat_as_guilds_come_and_go() -> None:
    stats = StageStats(keep=5)
    tracemalloc.start()
    try:
        for guild in range(20_000):
            await stats.on_reply_finished(_reply(guild))
        before = tracemalloc.get_traced_memory()[0]
        for guild in range(20_000, 60_000):
            await stats.on_reply_finished(_reply(guild))
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 1_000_000  # 40,000 more guilds would hold about 40 MB if all were kept
    assert [f.stage for f in stats.figures(59_999)] == ["language", "generate"]


def _reply(guild_id: int) -> ReplyFinished:
    return ReplyFinished(channel_id=1, text="hi", language="en", model="m", guild_id=guild_id,
                         stages={"language": 1.0, "generate": 20.0})
