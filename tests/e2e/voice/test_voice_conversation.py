"""A spoken conversation in a Discord voice channel, end to end.

The whole Libra (storage on the test database, hikari + lightbulb) against the fake
Discord and a fake voice server whose DAVE peers speak Piper English. Libra hears them
through its own voice connection, transcribes with Whisper tiny.en, answers through
the fake Ollama, speaks with Piper; the peer decrypts and decodes what Libra sent and
Whisper finds the answer's words in it. Engines load once for the module.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from libra.chat.messages import user_message
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

QUESTION = "What is the capital of France?"
ANSWER = "The capital of France is Paris. It sits on the river Seine."
LONG_ANSWER = ("The capital of France is Paris. Paris has been the capital for a very long "
               "time. It sits on the river Seine, in the north of the country. Many millions "
               "of people visit it every year to see its museums and its old churches. "
               "The city is also famous for its food, its cafes and its long summer evenings.")


@pytest.fixture
async def fake_discord() -> AsyncIterator[FakeDiscord]:
    fake = FakeDiscord()
    async with running(fake):
        yield fake


@pytest.fixture
async def libra(fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str, tmp_path: Path,
                engines: LocalSpeechEngines, servers: VoiceServers) -> AsyncIterator[LibraBot]:
    fake_ollama.first_token_delay = 0.15
    fake_ollama.tokens_per_second = 30
    fake_ollama.answer_fn = lambda body: (
        LONG_ANSWER if "france" in str(body["messages"][-1]["content"]).lower()
        else "Sure.")
    world = fake_discord.world  # a music bot in the guild (its audio must never be heard)
    music = FakeUser(id=world.snowflakes.next(), username="musicbot", bot=True)
    world.users[music.id] = music
    world.guilds[0].members.append(FakeMember(user=music))
    moderator = world.guilds[0].roles[1]  # the role the slash commands' caller has
    bot = await start_libra(fake_discord, fake_ollama, pg_url, tmp_path, engines,
                            admin_role_ids=[moderator.id])
    yield bot
    await bot.app.stop()


def user_prompts(ollama: FakeOllama) -> list[str]:
    """The last user message of every chat request the LLM got."""
    return [str(r.body["messages"][-1]["content"]) for r in ollama.requests
            if r.path == "/api/chat"]


async def test_a_spoken_question_is_answered_aloud_mirrored_and_stored(
        libra: LibraBot, fake_discord: FakeDiscord, fake_ollama: FakeOllama,
        servers: VoiceServers, engines: LocalSpeechEngines) -> None:
    fake_ollama.answer_fn = lambda body: (
        ANSWER if "france" in str(body["messages"][-1]["content"]).lower() else "The Seine.")
    call = await Call.join(libra, fake_discord, servers)
    alice = await call.add(fake_discord.user("alice"))

    await call.speak(alice, QUESTION)
    await wait_until(lambda: call.heard_frames(alice) > 0, what="Libra's answer", timeout=20)
    await call.until_quiet(alice)

    heard = (await recognised(engines, call.heard(alice))).lower()
    assert "paris" in heard and "river" in heard, heard  # (Whisper hears "Seine" as "scene")
    assert alice.log.decrypt_failures == 0
    # Mirrored in the voice channel's text chat: the question, then what Libra said.
    await fake_discord.wait_for_bot_content(
        call.lounge.id, lambda c: "🎙️ **alice**:" in c and "capital of France" in c
        and c.rstrip().endswith("It sits on the river Seine."))
    await libra.settle()
    rows = await libra.query("SELECT role, content, source, status FROM messages "
                             "WHERE channel_id = $1 ORDER BY id", call.lounge.id)
    assert [(r["role"], r["source"], r["status"]) for r in rows] == [
        ("user", "voice", "complete"), ("assistant", "voice", "complete")]
    assert "capital of france" in rows[0]["content"].lower()
    assert rows[1]["content"] == ANSWER

    # A text message in that chat continues the same conversation.
    await fake_discord.user_message("And which river is it on?", channel=call.lounge,
                                    mention_bot=True)
    await fake_discord.wait_for_bot_content(call.lounge.id, "The Seine.")
    prompt = [str(m["content"]) for m in fake_ollama.requests[-1].body["messages"]]
    assert any("capital of france" in m.lower() for m in prompt[:-1]), prompt
    assert ANSWER in prompt

    token = await fake_discord.slash_subcommand("voice", "status")
    await fake_discord.wait_until(
        lambda: bool(getattr(fake_discord.original_response(token), "content", "")))
    status = fake_discord.original_response(token).content  # type: ignore[union-attr]
    assert "speech engines: whisper:whisper-tiny.en, piper:en_US-joe-medium" in status
    # The latency board's lines: the last turn's breakdown and Libra's own share.
    assert "Last turn: endpoint" in status and "(Libra " in status


async def test_barge_in_stops_the_answer_and_keeps_only_what_was_said(
        libra: LibraBot, fake_discord: FakeDiscord, servers: VoiceServers) -> None:
    call = await Call.join(libra, fake_discord, servers)
    alice = await call.add(fake_discord.user("alice"))

    await call.speak(alice, QUESTION)
    await wait_until(lambda: call.heard_frames(alice) > 150, what="three seconds of answer",
                     timeout=20)
    began, last_frame = await call.interrupt(alice, "Wait, stop.")

    barge_ins = call.conversations.barge_ins(call.guild_id)
    assert len(barge_ins) == 1 and barge_ins[0].user_id == alice.user_id
    assert barge_ins[0].stop_ms < 200
    heard_after_onset = (last_frame - began) * 1000
    print(f"\nbarge-in: playback stopped {barge_ins[0].stop_ms:.1f} ms after detection; "
          f"Libra's voice last reached the peer {heard_after_onset:.0f} ms after speech onset")
    assert heard_after_onset < 500, "Libra kept talking over the interruption"
    await fake_discord.wait_for_bot_content(
        call.lounge.id, lambda c: "capital of France" in c and c.endswith(
            "*" + user_message("voice_interrupted", "en") + "*"))
    await libra.settle()
    rows = await libra.query("SELECT role, content, status FROM messages WHERE channel_id = $1 "
                             "AND role = 'assistant' ORDER BY id", call.lounge.id)
    first = rows[0]
    assert first["status"] == "stopped"
    assert first["content"].startswith("The capital of France is Paris.")
    assert len(first["content"]) < len(LONG_ANSWER)


async def test_wake_word_mode_answers_only_what_names_libra(
        libra: LibraBot, fake_discord: FakeDiscord, fake_ollama: FakeOllama,
        servers: VoiceServers) -> None:
    call = await Call.join(libra, fake_discord, servers)
    alice = await call.add(fake_discord.user("alice"))
    await fake_discord.slash_subcommand("voice", "mode", {"mode": "wake-word"})
    await wait_until(lambda: call.conversations.conversation(call.guild_id) is not None
                     and call.conversations.conversation(call.guild_id).mode.value  # type: ignore[union-attr]
                     == "wake-word", what="wake-word mode")

    await call.speak(alice, QUESTION)
    await asyncio.sleep(2.5)  # Whisper's final comes ~1 s after the turn ends
    assert user_prompts(fake_ollama) == []
    assert call.heard_frames(alice) == 0

    await call.speak(alice, "Libra, what is the capital of France?")
    await wait_until(lambda: call.heard_frames(alice) > 0, what="the named question answered")
    prompts = user_prompts(fake_ollama)
    assert len(prompts) == 1
    assert prompts[0].lower().startswith("what is the capital of france"), prompts


async def test_listen_only_mode_mirrors_and_bots_are_never_heard(
        libra: LibraBot, fake_discord: FakeDiscord, fake_ollama: FakeOllama,
        servers: VoiceServers) -> None:
    call = await Call.join(libra, fake_discord, servers)
    alice = await call.add(fake_discord.user("alice"))
    await fake_discord.slash_subcommand("voice", "mode", {"mode": "off"})
    await wait_until(lambda: call.conversations.conversation(call.guild_id) is not None
                     and call.conversations.conversation(call.guild_id).mode.value  # type: ignore[union-attr]
                     == "off", what="listen-only mode")
    music = fake_discord.user("musicbot")
    robot = await call.add(music)

    await call.speak(robot, "The next song is called Summer Rain.")
    await call.speak(alice, QUESTION)
    await fake_discord.wait_for_bot_content(
        call.lounge.id, lambda c: c.startswith("🎙️ **alice**:") and "France" in c)
    await asyncio.sleep(1.5)
    assert not any("Summer" in m or "song" in m for m in call.mirrored()), call.mirrored()
    assert user_prompts(fake_ollama) == []
    assert call.heard_frames(alice) == 0
