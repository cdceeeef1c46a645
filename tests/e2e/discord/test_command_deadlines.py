"""Slash commands are acknowledged within Discord's 3 s, even when their work is slow."""

from __future__ import annotations

import hikari

from libra.chat.messages import user_message
from tests.e2e.discord.libra_harness import StartLibra
from tests.fakes.fake_discord import FakeDiscord
from tests.fakes.fake_ollama import FakeOllama
from tests.fakes.freezable_proxy import FreezableProxy, proxied_url

CALLBACK = "/interactions/{id}/{token}/callback"
EPHEMERAL = int(hikari.MessageFlag.EPHEMERAL)

# Every command that can wait on the database (a refusal looks up the channel's
# language too, so /help, /stop, /model and /stats are in: alice is no admin).
COMMANDS: list[tuple[str, str | None, dict[str, str | int | bool | float]]] = [
    ("memory", "show", {}),
    ("memory", "remember", {"text": "I like tea"}),
    ("memory", "forget", {"id": 1}),
    ("memory", "forget", {}),
    ("reset", None, {}),
    ("stop", None, {}),
    ("lang", "set", {"language": "en"}),
    ("lang", "show", {}),
    ("lang", "auto", {}),
    ("help", None, {}),
    ("model", None, {}),
    ("stats", None, {}),
    ("privacy", "export", {}),
    ("privacy", "delete", {}),
    ("voice", "status", {}),
    ("voice", "mode", {"mode": "open"}),
    ("translations", "history", {}),
    ("translations", "me", {"state": "on"}),
    ("glossary", "list", {}),
]


async def run(fake: FakeDiscord, group: str, sub: str | None,
              options: dict[str, str | int | bool | float]) -> str:
    if sub is None:
        return await fake.slash_command(group, options)
    return await fake.slash_subcommand(group, sub, options)


async def test_commands_touching_a_dark_database_are_acknowledged_in_time(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str, start_libra: StartLibra
) -> None:
    proxy = FreezableProxy(pg_url)
    port = await proxy.start()
    await start_libra(fake_discord, fake_ollama, proxied_url(pg_url, port))
    try:
        proxy.frozen.set()  # the host goes dark: no reset, no answer
        tokens = [await run(fake_discord, *command) for command in COMMANDS]
        # Each answer comes once its queries give up (database.query_timeout, 5 s).
        await fake_discord.wait_until(lambda: all(
            getattr(fake_discord.original_response(t), "content", "") for t in tokens),
            timeout=40)
    finally:
        proxy.thaw()
        await proxy.close()

    assert fake_discord.acknowledged_late() == []
    answers = {command[:2]: fake_discord.original_response(t)
               for command, t in zip(COMMANDS, tokens, strict=True)}
    unavailable = user_message("db_unavailable", "en")
    for key in [("memory", "show"), ("memory", "remember"), ("memory", "forget"),
                ("reset", None), ("privacy", "export")]:
        answer = answers[key]
        assert answer is not None
        assert answer.content.startswith(unavailable), (key, answer.content)
        assert answer.payload["flags"] & EPHEMERAL, key  # deferred as privately as answered
    pinned = answers[("lang", "set")]
    assert pinned is not None and "**en** (pinned" in pinned.content
    assert not pinned.payload["flags"] & EPHEMERAL
    model = answers[("model", None)]
    assert model is not None and model.content == user_message("admin_only", "en")
    for key in [("voice", "status"), ("voice", "mode")]:
        answer = answers[key]
        assert answer is not None, key
    assert answers[("voice", "status")].content == (  # type: ignore[union-attr]
        user_message("voice_not_joined", "en"))
    confirm = answers[("privacy", "delete")]  # asking needs no database
    assert confirm is not None and confirm.payload["components"]
    deferred = [c for c in fake_discord.rest_calls("POST", CALLBACK)
                if c.json["type"] == hikari.ResponseType.DEFERRED_MESSAGE_CREATE]
    assert len(deferred) >= 4  # the database commands waited and said so in time


async def test_a_deletion_confirmed_on_a_dark_database_is_acknowledged_in_time(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str, start_libra: StartLibra
) -> None:
    proxy = FreezableProxy(pg_url)
    port = await proxy.start()
    await start_libra(fake_discord, fake_ollama, proxied_url(pg_url, port))
    try:
        token = await fake_discord.slash_subcommand("privacy", "delete")
        await fake_discord.wait_until(lambda: bool(getattr(
            fake_discord.original_response(token), "payload", {}).get("components")))
        confirmation = fake_discord.original_response(token)
        assert confirmation is not None
        delete = next(c["custom_id"] for row in confirmation.payload["components"]
                      for c in row["components"] if ":delete:" in c["custom_id"])
        proxy.frozen.set()  # the host goes dark between the question and the press

        await fake_discord.press_button(confirmation, delete)

        await fake_discord.wait_until(
            lambda: confirmation.content.startswith(user_message("db_unavailable", "en")),
            timeout=20)
    finally:
        proxy.thaw()
        await proxy.close()
    assert fake_discord.acknowledged_late() == []
    assert confirmation.payload["components"] == []  # the press is answered, not left hanging


async def test_a_quick_command_answers_at_once_without_deferring(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str, start_libra: StartLibra
) -> None:
    await start_libra(fake_discord, fake_ollama, pg_url)

    token = await fake_discord.slash_subcommand("memory", "remember", {"text": "I like tea"})

    await fake_discord.wait_until(
        lambda: getattr(fake_discord.original_response(token), "content", "") != "")
    callbacks = fake_discord.rest_calls("POST", CALLBACK)
    assert [c.json["type"] for c in callbacks] == [hikari.ResponseType.MESSAGE_CREATE]
    assert callbacks[0].json["data"]["content"].startswith("I'll remember that")
