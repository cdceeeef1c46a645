"""`libra run` as a real process: connect, answer a mention, stop cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from tests.fakes.fake_discord import FakeDiscord
from tests.fakes.fake_ollama import FakeOllama


async def start_libra_run(fake_discord: FakeDiscord, fake_ollama: FakeOllama, tmp_path: Path,
                          **env: str) -> asyncio.subprocess.Process:
    """``libra run`` as a child process against the fakes; ``env`` adds variables."""
    base = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path),
        "LIBRA_DATA_DIR": str(tmp_path / "data"), "DISCORD_TOKEN": fake_discord.token,
        "LIBRA_DISCORD__REST_URL": fake_discord.rest_url, "LIBRA_LLM__SERVERS": fake_ollama.url,
        "LIBRA_APP__LOG_FORMAT": "json",
    }
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "libra", "run", stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT, cwd=tmp_path, env={**base, **env})


async def test_libra_run_answers_a_mention_and_stops_on_sigterm(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str, tmp_path: Path
) -> None:
    fake_ollama.answers["ping from a real process"] = "pong from libra run"
    proc = await start_libra_run(
        fake_discord, fake_ollama, tmp_path, DATABASE_URL=pg_url,
        LIBRA_DISCORD__GUILD_IDS=",".join(str(g.id) for g in fake_discord.world.guilds))
    try:
        await fake_discord.wait_until(
            lambda: any(s.identified.is_set() for s in fake_discord.connections), timeout=30)
        # Slash commands were synced to the guild before the gateway connected.
        assert fake_discord.rest_calls("PUT", "/applications/{app}/guilds/{guild}/commands")
        await fake_discord.user_message("ping from a real process", mention_bot=True)
        await fake_discord.wait_for_bot_content(fake_discord.text_channel.id,
                                                "pong from libra run", timeout=30)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = await asyncio.wait_for(proc.communicate(), 30)
    logs = out.decode()
    assert proc.returncode == 0, logs
    assert "Libra ready" in logs
    assert "Traceback" not in logs
    assert fake_discord.token not in logs


async def test_libra_run_exits_1_when_the_token_is_reset_while_running(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str, tmp_path: Path
) -> None:
    token = fake_discord.token
    proc = await start_libra_run(fake_discord, fake_ollama, tmp_path, DATABASE_URL=pg_url)
    try:
        await fake_discord.wait_until(
            lambda: any(s.identified.is_set() for s in fake_discord.connections), timeout=30)
        await fake_discord.revoke_token()  # the owner resets it in the developer portal
        # A deaf process that looks alive helps nobody: it exits so Docker's restart
        # policy (or the operator) notices.
        out, _ = await asyncio.wait_for(proc.communicate(), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    logs = out.decode()
    assert proc.returncode == 1, logs
    assert "4004" in logs and "DISCORD_TOKEN" in logs
    assert token not in logs


async def test_a_second_sigterm_during_shutdown_still_stops_the_embedded_database(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, tmp_path: Path
) -> None:
    import psutil

    data_dir = tmp_path / "data"  # no DATABASE_URL: the embedded PostgreSQL lives here
    proc = await start_libra_run(fake_discord, fake_ollama, tmp_path)
    try:
        await fake_discord.wait_until(
            lambda: any(s.identified.is_set() for s in fake_discord.connections), timeout=60)
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        out, _ = await asyncio.wait_for(proc.communicate(), 60)
    logs = out.decode()
    assert proc.returncode == 0, logs
    assert "already stopping" in logs

    def postgres_for_our_data_dir() -> list[psutil.Process]:
        found = []
        for p in psutil.process_iter(["name", "cmdline"]):
            cmdline = " ".join(p.info["cmdline"] or [])
            if "postgres" in (p.info["name"] or "") and str(data_dir) in cmdline:
                found.append(p)
        return found

    for _ in range(50):
        if not postgres_for_our_data_dir():
            break
        await asyncio.sleep(0.1)
    assert postgres_for_our_data_dir() == []
