"""What the linked-channel tests share: a phrase-book model, the three channels, the start.

Each test module keeps its own phrases; the fake model translates from them by the
target language the translation prompt names, so what lands in each channel can be
checked word for word.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from tests.e2e.discord.libra_harness import LibraBot, StartLibra
from tests.fakes.fake_discord import FakeChannel, FakeDiscord
from tests.fakes.fake_discord.webhooks import MANAGE_WEBHOOKS
from tests.fakes.fake_ollama import FakeOllama

Phrases = dict[str, dict[str, str]]
"""Text as written → {target language's English name → its translation}."""


def translating_from(phrases: Phrases) -> Callable[[dict[str, Any]], str]:
    """A fake model answer: each line looked up for the language the prompt names."""

    def answer(body: dict[str, Any]) -> str:
        system = next(m["content"] for m in body["messages"] if m["role"] == "system")
        target = re.search(r"into (\w+)\.", system)
        text = [m["content"] for m in body["messages"] if m["role"] == "user"][-1]
        language = target.group(1) if target else "English"
        return "\n".join(phrases.get(line, {}).get(language, line) for line in text.split("\n"))

    return answer


def language_channels(fake: FakeDiscord, *, webhooks: bool
                      ) -> tuple[FakeChannel, FakeChannel, FakeChannel]:
    """The fake's text channel (English) plus new Korean and Japanese ones in its guild.

    ``webhooks``: the bot may manage webhooks there (else it must do without).
    """
    guild = fake.world.guilds[0]
    korean = FakeChannel(id=fake.world.snowflakes.next(), name="korean", guild_id=guild.id)
    japanese = FakeChannel(id=fake.world.snowflakes.next(), name="japanese", guild_id=guild.id)
    guild.channels += [korean, japanese]
    if webhooks:
        fake.world.grant_bot(guild.id, MANAGE_WEBHOOKS)
    return fake.text_channel, korean, japanese


async def start_translating(start_libra: StartLibra, fake: FakeDiscord, ollama: FakeOllama,
                            pg_url: str, phrases: Callable[[dict[str, Any]], str]) -> LibraBot:
    """Libra with ``phrases`` as its model and the guild's moderators as its admins."""
    ollama.answer_fn = phrases
    moderator = next(r for r in fake.world.guilds[0].roles if r.name == "moderator")
    return await start_libra(fake, ollama, pg_url, admin_role_ids=[moderator.id])
