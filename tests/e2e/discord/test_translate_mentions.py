"""A translation repeats a message's mentions, and must never ping anyone with them.

"@everyone", a role and a user pass through a translation unchanged (they are
shielded from the model), so every way a translation reaches a channel — the
``/translate`` answer, an opt-in reply, a linked channel's webhook post or its
plain-message fallback — must send them with mentions switched off. The fake Discord
records whom each message notified, as Discord works it out from ``allowed_mentions``.
"""

from __future__ import annotations

import re
from typing import Any

from tests.e2e.discord.libra_harness import StartLibra
from tests.e2e.discord.test_translate_core import answer, start
from tests.fakes.fake_discord import FakeChannel, FakeDiscord
from tests.fakes.fake_discord.mentions import pinged, refusal
from tests.fakes.fake_discord.webhooks import MANAGE_WEBHOOKS
from tests.fakes.fake_ollama import FakeOllama


def test_the_fake_pings_as_discord_does() -> None:
    content = "@everyone @here <@&11> <@22> <@!33>"
    assert pinged(content, None, replied_author=44) == {
        "@everyone", "@here", "role:11", "user:22", "user:33", "user:44"}
    assert pinged(content, {"parse": []}, replied_author=44) == set()
    assert pinged(content, {"parse": ["users"], "roles": ["11"]}) == {
        "user:22", "user:33", "role:11"}
    assert pinged(content, {"parse": ["everyone"], "replied_user": True},
                  replied_author=44) == {"@everyone", "@here", "user:44"}
    assert refusal({"parse": ["users"], "users": ["22"]}) is not None
    assert refusal({"parse": []}) is None


def loud(fake: FakeDiscord) -> str:
    """A message that would ping the whole server, a role and a user if repeated carelessly."""
    role = fake.world.guilds[0].roles[1]
    return (f"Hello @everyone and <@&{role.id}> and <@{fake.world.owner.id}>, "
            "see you tomorrow at the meeting")


MENTION_RE = re.compile(r"@everyone|<@&\d+>|<@\d+>")


def kept_mentions(content: str) -> int:
    return len(MENTION_RE.findall(content))


async def test_translate_and_opt_in_repeat_mentions_without_pinging(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str, start_libra: StartLibra
) -> None:
    await start(fake_discord, fake_ollama, pg_url, start_libra)
    channel = fake_discord.text_channel

    token = await fake_discord.slash_command("translate", {"text": loud(fake_discord),
                                                           "to": "Spanish"})
    shown = await answer(fake_discord, token)
    assert kept_mentions(shown.content) == 3 and shown.visible_to is None
    assert shown.pings == frozenset()

    token = await fake_discord.slash_subcommand("translations", "me", {"state": "on"})
    await answer(fake_discord, token)
    said = await fake_discord.user_message(loud(fake_discord).replace(
        "Hello", "Buenas tardes").replace(
        "see you tomorrow at the meeting", "nos vemos mañana en la reunión de la tarde"))
    await fake_discord.wait_until(lambda: any(
        m.payload.get("message_reference", {}).get("message_id") == str(said.id)
        for m in fake_discord.bot_messages(channel.id)))
    beneath = next(m for m in fake_discord.bot_messages(channel.id)
                   if m.payload.get("message_reference", {}).get("message_id") == str(said.id))
    assert kept_mentions(beneath.content) == 3
    assert beneath.pings == frozenset()  # not even the author it replies to


def korean(body: dict[str, Any]) -> str:
    """The fake model: a Korean sentence keeping every marker."""
    markers = " ".join(re.findall(r"⟦\d+⟧", body["messages"][-1]["content"]))
    return f"안녕하세요 {markers}, 내일 오후 회의에서 봬요"


async def _linked_korean_channel(fake: FakeDiscord, ollama: FakeOllama, pg_url: str,
                                 start_libra: StartLibra) -> FakeChannel:
    guild = fake.world.guilds[0]
    channel = FakeChannel(id=fake.world.snowflakes.next(), name="korean", guild_id=guild.id)
    guild.channels.append(channel)
    moderator = next(r for r in guild.roles if r.name == "moderator")
    await start_libra(fake, ollama, pg_url, admin_role_ids=[moderator.id])
    ollama.answer_fn = korean
    token = await fake.slash_subcommand(
        "autotranslate", "link", {"channel": channel, "language": "ko", "here": "en"},
        channel=fake.text_channel, user=fake.user("alice"))
    await fake.wait_until(lambda: (m := fake.original_response(token)) is not None
                          and "Linked channels" in m.content)
    return channel


async def test_a_linked_channel_post_repeats_mentions_without_pinging(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str, start_libra: StartLibra
) -> None:
    fake_discord.world.grant_bot(fake_discord.world.guilds[0].id, MANAGE_WEBHOOKS)
    korean_channel = await _linked_korean_channel(fake_discord, fake_ollama, pg_url,
                                                  start_libra)

    await fake_discord.user_message(loud(fake_discord))
    await fake_discord.wait_until(lambda: bool(fake_discord.webhook_messages(korean_channel.id)),
                                  timeout=15)
    posted = fake_discord.webhook_messages(korean_channel.id)[0]
    assert kept_mentions(posted.content) == 3
    assert posted.pings == frozenset()


async def test_a_linked_channel_fallback_post_repeats_mentions_without_pinging(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str, start_libra: StartLibra
) -> None:
    korean_channel = await _linked_korean_channel(fake_discord, fake_ollama, pg_url,
                                                  start_libra)  # no Manage Webhooks

    await fake_discord.user_message(loud(fake_discord))
    await fake_discord.wait_until(lambda: bool(fake_discord.bot_messages(korean_channel.id)),
                                  timeout=15)
    posted = fake_discord.bot_messages(korean_channel.id)[0]
    assert kept_mentions(posted.content) == 3
    assert posted.pings == frozenset()
