"""``/stats`` shows the guild's voice turns (from the root's latency board) once there are any."""

from __future__ import annotations

from libra.events import VoiceTurnLatency
from libra.voice.latency import TurnClock
from tests.e2e.discord.libra_harness import StartLibra
from tests.fakes.fake_discord import FakeDiscord
from tests.fakes.fake_ollama import FakeOllama


def voice_turn(guild_id: int, total_s: float, error: str | None = None) -> VoiceTurnLatency:
    """A turn as the pipeline reports it: 0.5 s endpoint silence, 0.2 s of LLM to the
    first sentence, the rest Libra's."""
    clock = TurnClock(speech_end=10.0, turn_end=10.5, stt="vosk:vosk-model-small-en-us-0.15",
                      tts="piper:en_US-joe-medium")
    clock.stt_final = 10.6
    if error is None:
        clock.reply_started, clock.first_token, clock.first_sentence = 10.61, 10.76, 10.81
        clock.first_audio = 10.0 + total_s
    return clock.event(user_id=7, channel_id=8, guild_id=guild_id, correlation_id="c",
                       error_code=error)


async def stats_report(fake: FakeDiscord) -> str:
    token = await fake.slash_command("stats")
    await fake.wait_until(lambda: bool((m := fake.original_response(token)) and m.content))
    message = fake.original_response(token)
    assert message is not None
    return message.content


async def test_stats_shows_the_voice_line_only_after_voice_turns(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str, start_libra: StartLibra
) -> None:
    guild = fake_discord.world.guilds[0]
    libra = await start_libra(fake_discord, fake_ollama, pg_url,
                              admin_role_ids=[guild.roles[1].id])
    before = await stats_report(fake_discord)
    assert "Voice turns" not in before and "**LLM usage (last 24 h)**" in before

    for total in (0.8, 1.0, 1.2):
        libra.app.bus.publish(voice_turn(guild.id, total))
    libra.app.bus.publish(voice_turn(guild.id, 0.0, error="llm_unreachable"))
    libra.app.bus.publish(voice_turn(guild.id + 1, 9.0))  # another server's turn
    await libra.app.bus.drain(5)

    report = await stats_report(fake_discord)
    lines = report.splitlines()
    title = lines.index("**Voice turns (end of speech → first audio, this server)**")
    assert lines[title + 1] == ("4 turns (1 failed: llm_unreachable 1); last 4: "
                                "total p50 1000 ms / p95 1180 ms, "
                                "Libra's share p50 300 ms / p95 480 ms")
    assert lines.index("**LLM usage (last 24 h)**") > title
