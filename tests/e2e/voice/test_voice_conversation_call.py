"""A voice call that changes under the conversation: people join, the link resumes, the LLM dies.

Same stack as ``test_voice_conversation.py`` (whole Libra, fake Discord, fake voice
server with DAVE peers speaking Piper English, Whisper tiny.en, fake Ollama).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from libra.chat.answer import failure_message
from libra.errors import LLMUnreachable
from libra.voice.engines import LocalSpeechEngines
from tests.e2e.discord.libra_harness import LibraBot
from tests.e2e.voice.voice_call import (
    Call,
    VoiceServers,
    recognised,
    running,
    start_libra,
    wait_until,
)
from tests.fakes.fake_discord import FakeDiscord, FakeMember, FakeUser
from tests.fakes.fake_ollama import FakeOllama

ANSWERS = {
    "france": "The capital of France is Paris.",
    "spider": "A spider has eight legs. Insects have six.",
    "moon": ("The moon is about four hundred thousand kilometres away. Light needs a little "
             "more than one second to get there. People first walked on it in nineteen "
             "sixty nine. The last visit was in nineteen seventy two."),
}


@pytest.fixture
async def fake_discord() -> AsyncIterator[FakeDiscord]:
    fake = FakeDiscord()
    world = fake.world
    bob = FakeUser(id=world.snowflakes.next(), username="bob")
    world.users[bob.id] = bob
    world.guilds[0].members.append(FakeMember(user=bob))
    async with running(fake):
        yield fake


@pytest.fixture
async def libra(fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str, tmp_path: Path,
                engines: LocalSpeechEngines, servers: VoiceServers) -> AsyncIterator[LibraBot]:
    fake_ollama.first_token_delay = 0.15
    fake_ollama.tokens_per_second = 30

    def answer(body: dict[str, object]) -> str:
        asked = str(body["messages"][-1]["content"]).lower()  # type: ignore[index]
        return next((a for key, a in ANSWERS.items() if key in asked), "I see.")

    fake_ollama.answer_fn = answer
    bot = await start_libra(fake_discord, fake_ollama, pg_url, tmp_path, engines)
    yield bot
    await bot.app.stop()


async def test_two_speakers_take_turns_and_one_joins_mid_call(
        libra: LibraBot, fake_discord: FakeDiscord, servers: VoiceServers,
        engines: LocalSpeechEngines) -> None:
    call = await Call.join(libra, fake_discord, servers)
    alice = await call.add(fake_discord.user("alice"))
    await call.speak(alice, "What is the capital of France?")
    await wait_until(lambda: call.heard_frames(alice) > 0, what="the answer to alice")
    await call.until_quiet(alice)
    epoch = call.server.dave.epoch

    bob = await call.add(fake_discord.user("bob"))  # joins mid-call: a new DAVE epoch
    assert call.server.dave.epoch > epoch
    heard_by_bob = call.heard_frames(bob)
    await call.speak(bob, "How many legs does a spider have?")
    await wait_until(lambda: call.heard_frames(bob) > heard_by_bob, what="the answer to bob")
    await call.until_quiet(bob)

    # Whisper writes a spoken number either way ("eight" or "8").
    heard = (await recognised(engines, call.heard(bob))).lower()
    assert "eight" in heard or "8" in heard.split()
    assert bob.log.decrypt_failures == 0 and alice.log.decrypt_failures == 0
    await fake_discord.wait_for_bot_content(
        call.lounge.id, lambda c: c.startswith("🎙️ **bob**:") and "spider" in c.lower()
        and "eight legs" in c)
    await libra.settle()
    rows = await libra.query("SELECT u.discord_id AS who, m.role FROM messages m "
                             "JOIN users u ON u.id = m.user_id WHERE m.channel_id = $1 "
                             "ORDER BY m.id", call.lounge.id)
    assert [(r["who"], r["role"]) for r in rows] == [
        (alice.user_id, "user"), (alice.user_id, "assistant"),
        (bob.user_id, "user"), (bob.user_id, "assistant")]


async def test_an_answer_survives_a_voice_resume(
        libra: LibraBot, fake_discord: FakeDiscord, servers: VoiceServers,
        engines: LocalSpeechEngines) -> None:
    call = await Call.join(libra, fake_discord, servers)
    alice = await call.add(fake_discord.user("alice"))
    await call.speak(alice, "How far away is the moon?")
    await wait_until(lambda: call.heard_frames(alice) > 100, what="two seconds of answer")

    await call.server.close_bot(4015)  # the voice server restarts: Libra resumes
    await call.until_quiet(alice, quiet_s=1.5)

    heard = (await recognised(engines, call.heard(alice))).lower()
    assert "moon" in heard and "the last visit" in heard, heard  # its last sentence was said
    assert call.conversations.barge_ins(call.guild_id) == []
    await libra.settle()
    rows = await libra.query("SELECT content, status FROM messages WHERE channel_id = $1 "
                             "AND role = 'assistant'", call.lounge.id)
    assert [(r["content"], r["status"]) for r in rows] == [(ANSWERS["moon"], "complete")]


async def test_a_dead_llm_is_said_in_the_text_chat(
        libra: LibraBot, fake_discord: FakeDiscord, fake_ollama: FakeOllama,
        servers: VoiceServers) -> None:
    call = await Call.join(libra, fake_discord, servers)
    alice = await call.add(fake_discord.user("alice"))
    await fake_ollama.kill()

    await call.speak(alice, "What is the capital of France?")

    expected = failure_message(LLMUnreachable("down"), "en", ref="-")[:40]
    await fake_discord.wait_for_bot_content(call.lounge.id, lambda c: expected in c,
                                            timeout=30)
    assert call.heard_frames(alice) == 0
