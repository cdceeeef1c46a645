"""Stopping, permissions, limits, failures, 429s, restarts and setup of the Discord bot."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from libra.chat.messages import user_message
from libra.discord.onboarding import REQUIRED_PERMISSIONS
from libra.events import DiscordRateLimited
from tests.e2e.discord.libra_harness import StartLibra
from tests.fakes.fake_discord import FakeDiscord
from tests.fakes.fake_ollama import FakeOllama

LONG = " ".join(f"token{i}" for i in range(200))


async def test_stop_ends_the_reply_and_stores_it_as_stopped(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str, start_libra: StartLibra
) -> None:
    fake_ollama.answers["count slowly"] = LONG
    fake_ollama.tokens_per_second = 20
    libra = await start_libra(fake_discord, fake_ollama, pg_url)
    channel = fake_discord.text_channel.id
    await fake_discord.user_message("count slowly", mention_bot=True)
    await fake_discord.wait_for_bot_content(channel, lambda text: "token3" in text)

    token = await fake_discord.slash_command("stop")

    stopped = await fake_discord.wait_for_bot_content(
        channel, lambda text: text.endswith("*(stopped)*"), timeout=10)
    partial = stopped.content.removesuffix(" *(stopped)*")
    assert LONG.startswith(partial) and len(partial) < len(LONG)
    await fake_discord.wait_until(lambda: fake_discord.original_response(token) is not None)
    assert fake_discord.original_response(token).content == "Stopped."  # type: ignore[union-attr]
    await libra.settle()
    rows = await libra.query("SELECT status, content FROM messages WHERE role = 'assistant'")
    assert [(r["status"], r["content"]) for r in rows] == [("stopped", partial)]


async def test_a_private_answer_can_be_stopped_only_by_its_author(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str, start_libra: StartLibra
) -> None:
    fake_ollama.answers["count privately"] = LONG
    fake_ollama.tokens_per_second = 20
    await start_libra(fake_discord, fake_ollama, pg_url)
    alice, owner = fake_discord.user("alice"), fake_discord.user("owner")
    asked = await fake_discord.slash_command(
        "ask", {"prompt": "count privately", "private": True}, user=alice)
    await fake_discord.wait_until(lambda: "token3" in getattr(
        fake_discord.original_response(asked), "content", ""))

    # The owner cannot see alice's ephemeral answer, so cannot stop it either.
    other = await fake_discord.slash_command("stop", user=owner)
    await fake_discord.wait_until(lambda: fake_discord.original_response(other) is not None)
    assert fake_discord.original_response(other).content == (  # type: ignore[union-attr]
        "Nothing is being written here right now.")
    own = await fake_discord.slash_command("stop", user=alice)

    await fake_discord.wait_until(lambda: getattr(
        fake_discord.original_response(asked), "content", "").endswith("*(stopped)*"))
    await fake_discord.wait_until(lambda: fake_discord.original_response(own) is not None)
    assert fake_discord.original_response(own).content == "Stopped."  # type: ignore[union-attr]


async def test_blocked_channel_is_ignored_and_admin_commands_need_admins(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str, start_libra: StartLibra
) -> None:
    channel = fake_discord.text_channel
    moderator = fake_discord.world.guilds[0].roles[1]
    await start_libra(fake_discord, fake_ollama, pg_url, blocked_channel_ids=[channel.id],
                      admin_role_ids=[moderator.id])
    thread = fake_discord.channel_named("a thread")
    await fake_discord.user_message("hello?", mention_bot=True)
    await fake_discord.user_message("hello from a thread?", mention_bot=True, channel=thread)

    # Threads of a blocked channel are blocked too: admin commands run elsewhere.
    lounge = fake_discord.channel_named("Lounge")
    refused = await fake_discord.slash_command(
        "model", channel=lounge, user=fake_discord.user("owner"))
    allowed = await fake_discord.slash_command("model", channel=lounge)

    await fake_discord.wait_until(lambda: all(
        fake_discord.original_response(t) is not None for t in (refused, allowed)))
    assert fake_discord.original_response(refused).content == (  # type: ignore[union-attr]
        user_message("admin_only", "en"))
    routing = fake_discord.original_response(allowed).content  # type: ignore[union-attr]
    assert "ko: `qwen2.5:7b-instruct`" in routing
    await asyncio.sleep(0.5)
    assert fake_discord.bot_messages(channel.id) == []
    assert fake_ollama.model_calls == []


async def test_a_user_over_the_rate_limit_is_told_when_to_retry(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str, start_libra: StartLibra
) -> None:
    await start_libra(fake_discord, fake_ollama, pg_url, user_burst=1, user_rate_per_minute=1)
    channel = fake_discord.text_channel.id

    await fake_discord.user_message("first", mention_bot=True)
    await fake_discord.user_message("second", mention_bot=True)

    refusal = await fake_discord.wait_for_bot_content(
        channel, lambda text: text.startswith("You're sending messages faster"))
    assert "Try again in 60 s." in refusal.content
    await fake_discord.wait_for_bot_content(channel, fake_ollama.default_answer)
    assert len(fake_ollama.model_calls) == 1


async def test_a_busy_guild_tells_the_next_user_to_wait(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str, start_libra: StartLibra
) -> None:
    fake_ollama.answers["take your time"] = LONG
    fake_ollama.tokens_per_second = 50
    await start_libra(fake_discord, fake_ollama, pg_url, guild_concurrency=1)
    channel = fake_discord.text_channel.id
    await fake_discord.user_message("take your time", mention_bot=True)
    await fake_discord.wait_for_bot_content(channel, lambda text: "token1" in text)

    await fake_discord.user_message("me too", mention_bot=True,
                                    author=fake_discord.user("owner"))

    await fake_discord.wait_for_bot_content(channel, user_message("guild_busy", "en", limit=1))


async def test_llm_failures_reach_the_user_as_specific_messages(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str, start_libra: StartLibra
) -> None:
    await start_libra(fake_discord, fake_ollama, pg_url)
    channel = fake_discord.text_channel.id
    fake_ollama.models = {"some-other-model"}

    await fake_discord.user_message("are you there?", mention_bot=True)

    missing = await fake_discord.wait_for_bot_content(
        channel, lambda text: "ollama pull llama3:8b-instruct-q4_K_M" in text)
    assert missing.content == user_message("llm_model_missing", "en",
                                           model="llama3:8b-instruct-q4_K_M")
    await fake_ollama.kill()

    await fake_discord.user_message("still there?", mention_bot=True)

    await fake_discord.wait_for_bot_content(
        channel, user_message("llm_unreachable", "en"), timeout=20)


async def test_a_429_storm_is_survived_with_the_final_text_intact(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str, start_libra: StartLibra
) -> None:
    answer = " ".join(f"piece{i}" for i in range(60))
    fake_ollama.answers["storm please"] = answer
    fake_ollama.tokens_per_second = 30
    libra = await start_libra(fake_discord, fake_ollama, pg_url)
    channel = fake_discord.text_channel.id
    await fake_discord.user_message("storm please", mention_bot=True)
    await fake_discord.wait_for_bot_content(channel, lambda text: "piece1" in text)

    fake_discord.limiter.storm(1.5, retry_after=0.3)

    await fake_discord.wait_for_bot_content(channel, answer, timeout=20)
    assert fake_discord.limiter.stats.responses_429 > 0
    assert [m.content for m in fake_discord.bot_messages(channel)] == [answer]
    await libra.settle()
    assert libra.of(DiscordRateLimited)


async def test_a_restart_does_not_resync_unchanged_commands(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, start_libra: StartLibra
) -> None:
    first = await start_libra(fake_discord, fake_ollama, None)
    names = {c["name"] for c in fake_discord.world.guild_commands[fake_discord.world.guilds[0].id]}
    assert names == {"ask", "lang", "reset", "stop", "memory", "model", "stats", "help",
                     "privacy", "voice", "translate", "Translate", "translations", "glossary",
                     "autotranslate"}
    assert fake_discord.world.command_puts == 1
    await first.app.stop()

    await start_libra(fake_discord, fake_ollama, None)

    assert fake_discord.world.command_puts == 1
    assert len(fake_discord.rest_calls("GET", "/applications/{app}/guilds/{guild}/commands")) == 2


async def test_lang_set_ko_routes_the_next_message_to_the_korean_model(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str, start_libra: StartLibra
) -> None:
    await start_libra(fake_discord, fake_ollama, pg_url)
    channel = fake_discord.text_channel.id

    token = await fake_discord.slash_subcommand("lang", "set", {"language": "ko"})
    await fake_discord.wait_until(lambda: fake_discord.original_response(token) is not None)
    assert "**ko**" in fake_discord.original_response(token).content  # type: ignore[union-attr]
    await fake_discord.user_message("What should I eat tonight?", mention_bot=True)

    await fake_discord.wait_for_bot_content(
        channel, lambda text: fake_ollama.default_answer in text)
    assert fake_ollama.model_calls[-1].body["model"] == "qwen2.5:7b-instruct"


def test_libra_run_without_a_token_prints_the_setup_steps_and_exits_2(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DISCORD_", "LIBRA_"))}
    env["HOME"] = str(tmp_path)
    done = subprocess.run([sys.executable, "-m", "libra", "run"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60, check=False)

    assert done.returncode == 2, done.stderr
    output = done.stdout + done.stderr
    assert "DISCORD_TOKEN" in output and "DISCORD_TOKEN_FILE" in output
    assert "Message Content" in output
    assert f"scope=bot%20applications.commands&permissions={int(REQUIRED_PERMISSIONS)}" in output
    assert "libra chat" in output
    assert "database" not in output.lower()
