"""What a slow ``/translate`` shows to whom, and long opt-in translations, on the whole Libra.

A real model takes seconds, so ``/translate`` is deferred (publicly: a translation is
for the channel) before its outcome is known. A notice meant for the caller alone
must then not fill that public placeholder. And an opt-in translation longer than
one Discord message is posted in parts, code blocks intact, the badge on the last.
"""

from __future__ import annotations

import hikari

from libra.discord.render import balanced_fences
from tests.e2e.discord.libra_harness import StartLibra
from tests.e2e.discord.test_translate_core import SENTENCES, answer, chats, start
from tests.fakes.fake_discord import FakeDiscord
from tests.fakes.fake_ollama import FakeOllama

CALLBACK = "/interactions/{id}/{token}/callback"
SLOWER_THAN_THE_DEFER = 1.7
"""Seconds before the fake model's first token: longer than ``DEFER_AFTER_SECONDS``."""


async def test_a_slow_translate_stays_public_and_its_failure_notice_private(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str, start_libra: StartLibra
) -> None:
    await start(fake_discord, fake_ollama, pg_url, start_libra)
    fake_ollama.first_token_delay = SLOWER_THAN_THE_DEFER
    channel, alice = fake_discord.text_channel, fake_discord.user("alice")

    token = await fake_discord.slash_command(
        "translate", {"text": "Hello, see you tomorrow at the meeting", "to": "es"})
    shown = await answer(fake_discord, token)
    assert shown.content == f"{SENTENCES['Spanish']}\n-# en → es"
    assert shown.visible_to is None  # deferred publicly, filled publicly

    fake_ollama.answer_fn = lambda body: "Guten Morgen, die Wartung des Servers beginnt gleich"
    public_before = [m for m in fake_discord.bot_messages(channel.id) if m.visible_to is None]
    token = await fake_discord.slash_command(
        "translate", {"text": "Good morning, the server maintenance starts soon", "to": "es"})
    notice = await fake_discord.wait_for_bot_content(
        channel.id, lambda c: "couldn't translate this reliably" in c, timeout=15)

    assert notice.visible_to == alice.id  # only the caller sees why
    public_after = [m for m in fake_discord.bot_messages(channel.id) if m.visible_to is None]
    assert public_after == public_before  # the public "thinking…" placeholder is gone
    deferred = [c for c in fake_discord.rest_calls("POST", CALLBACK)
                if c.json["type"] == hikari.ResponseType.DEFERRED_MESSAGE_CREATE]
    assert len(deferred) == 2  # both were slow enough to be deferred
    assert len(chats(fake_ollama)) == 3


ENGLISH = "".join(
    f"On day {n} we met at the harbour before sunrise and walked along the old wall while "
    "the fishermen were still mending their nets, talking about the plans for the summer "
    "festival and who would bring the lanterns this year. " for n in range(1, 9))
SPANISH = "".join(
    f"El día {n} nos vimos en el puerto antes del amanecer y caminamos junto a la muralla "
    "vieja mientras los pescadores todavía arreglaban sus redes. " for n in range(1, 6))
CODE = "```py\n" + "".join(f"print('line number {n} of the festival script')\n"
                           for n in range(24)) + "```"


async def test_a_long_opt_in_translation_is_posted_in_parts_with_its_badge_last(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str, start_libra: StartLibra
) -> None:
    await start(fake_discord, fake_ollama, pg_url, start_libra)
    channel = fake_discord.text_channel
    token = await fake_discord.slash_subcommand("translations", "me", {"state": "on"})
    await answer(fake_discord, token)
    # The model's English is longer than one message: prose, then the shielded code.
    fake_ollama.answer_fn = lambda body: ENGLISH + "\n⟦0⟧"

    said = await fake_discord.user_message(SPANISH + "\n" + CODE)
    await fake_discord.wait_until(lambda: any(
        m.content.endswith("-# es → en") for m in fake_discord.bot_messages(channel.id)))
    parts = [m for m in fake_discord.bot_messages(channel.id) if m.visible_to is None]

    assert len(parts) == 2
    assert all(balanced_fences(p.content) and len(p.content) <= 2000 for p in parts)
    assert CODE in parts[1].content  # the code block whole, in one part
    assert parts[0].content.startswith("On day 1 we met at the harbour")
    assert "-# es → en" not in parts[0].content and parts[1].content.endswith("\n-# es → en")
    assert parts[0].payload["message_reference"]["message_id"] == str(said.id)
    joined = "\n".join(p.content for p in parts)
    assert all(f"On day {n} we met" in joined for n in range(1, 9))
