"""Translation through Discord: ``/translate``, the Translate menu, ``/translations``,
``/glossary`` and the personal opt-in, on the whole Libra against the fakes.

The fake model reads the prompt Libra sent and answers as a translator would: a
fixed sentence in the language the system prompt asks for, with every ⟦n⟧ marker it
was given. Tests that need a careless or broken model replace ``answer_fn``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from libra.chat.messages import user_message
from libra.translate.messages import translate_message
from tests.e2e.discord.libra_harness import LibraBot, StartLibra
from tests.fakes.fake_discord import FakeDiscord, StoredMessage
from tests.fakes.fake_ollama import FakeOllama

SENTENCES = {
    "Spanish": "Hola, nos vemos mañana en la reunión de la tarde",
    "English": "Hello, see you tomorrow at the afternoon meeting",
    "Japanese": "こんにちは、明日の午後の会議で会いましょう",
    "Korean": "안녕하세요, 내일 오후 회의에서 봬요",
}


def translator_model(body: dict[str, Any]) -> str:
    """A good model: the target language's sentence, keeping every marker."""
    system, text = body["messages"][0]["content"], body["messages"][-1]["content"]
    target = re.search(r"into (\w+)\.", system)
    assert target is not None, system
    markers = " ".join(re.findall(r"⟦\d+⟧", text))
    return f"{SENTENCES[target.group(1)]} {markers}".strip()


async def start(fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str,
                start_libra: StartLibra, **discord: Any) -> LibraBot:
    fake_ollama.answer_fn = translator_model
    discord.setdefault("user_rate_per_minute", 600)
    discord.setdefault("user_burst", 50)
    return await start_libra(fake_discord, fake_ollama, pg_url, **discord)


async def answer(fake: FakeDiscord, token: str) -> StoredMessage:
    """The interaction's answer once it shows text."""
    await fake.wait_until(lambda: bool(getattr(fake.original_response(token), "content", "")))
    message = fake.original_response(token)
    assert message is not None
    return message


def chats(ollama: FakeOllama) -> list[dict[str, Any]]:
    return [r.body for r in ollama.requests if r.path == "/api/chat"]


async def test_slash_translate_answers_with_a_badge_and_lists_languages_when_unknown(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str, start_libra: StartLibra
) -> None:
    await start(fake_discord, fake_ollama, pg_url, start_libra)
    text = "Hello, see you tomorrow at the meeting: https://example.com/agenda <@1234567890123>"

    token = await fake_discord.slash_command("translate", {"text": text, "to": "Spanish"})
    shown = await answer(fake_discord, token)

    assert shown.content == (f"{SENTENCES['Spanish']} https://example.com/agenda "
                             "<@1234567890123>\n-# en → es")
    assert shown.visible_to is None  # public: the channel sees the translation
    sent = chats(fake_ollama)[-1]
    assert "https://" not in sent["messages"][-1]["content"]  # shielded from the model

    token = await fake_discord.slash_command("translate", {"text": "hello there", "to": "Elvish"})
    refused = await answer(fake_discord, token)
    assert "Elvish" in refused.content
    for name in ("English (`en`)", "Korean (`ko`)", "Spanish (`es`)", "Traditional Chinese"):
        assert name in refused.content
    assert len(chats(fake_ollama)) == 1


async def test_context_menu_uses_the_users_language_privately(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str, start_libra: StartLibra
) -> None:
    libra = await start(fake_discord, fake_ollama, pg_url, start_libra)
    owner = fake_discord.user("owner")
    await fake_discord.user_message("Are we still on for tomorrow?", author=owner)
    target = await fake_discord.user_message(
        "Hello, see you tomorrow at the afternoon meeting", author=owner)

    # Alice's Discord speaks Spanish: the translation is Spanish, for her eyes only.
    token = await fake_discord.message_command("Translate", target.id, locale="es-ES")
    shown = await answer(fake_discord, token)
    assert shown.content == f"{SENTENCES['Spanish']}\n-# en → es"
    assert shown.visible_to == fake_discord.user("alice").id
    system = chats(fake_ollama)[-1]["messages"][0]["content"]
    assert "owner: Are we still on for tomorrow?" in system  # the message before, as context

    # Her own choice of language wins over Discord's.
    await libra.query("UPDATE users SET language = 'ja' WHERE discord_id = $1",
                      fake_discord.user("alice").id)
    token = await fake_discord.message_command("Translate", target.id, locale="es-ES")
    assert (await answer(fake_discord, token)).content == f"{SENTENCES['Japanese']}\n-# en → ja"

    # Nothing to translate: no model call, a clear answer (in her language).
    calls = len(chats(fake_ollama))
    gg = await fake_discord.user_message("gg ㅋㅋ 😂", author=owner)
    token = await fake_discord.message_command("Translate", gg.id, locale="ko")
    assert (await answer(fake_discord, token)).content == translate_message("nothing", "ja")
    assert len(chats(fake_ollama)) == calls


async def test_glossary_is_admin_managed_and_enforced(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str, start_libra: StartLibra
) -> None:
    moderator = fake_discord.world.guilds[0].roles[1]  # alice has it, the owner not
    await start(fake_discord, fake_ollama, pg_url, start_libra, admin_role_ids=[moderator.id])
    admin, member = fake_discord.user("alice"), fake_discord.user("owner")

    token = await fake_discord.slash_subcommand("glossary", "add", {"term": "raid"}, user=member)
    assert (await answer(fake_discord, token)).content == user_message("admin_only", "en")
    token = await fake_discord.slash_subcommand(
        "glossary", "add", {"term": "raid", "translation": "incursión", "language": "Spanish"},
        user=admin)
    assert "incursión" in (await answer(fake_discord, token)).content
    token = await fake_discord.slash_subcommand("glossary", "add", {"term": "Libra"},
                                                user=admin)
    await answer(fake_discord, token)
    token = await fake_discord.slash_subcommand("glossary", "list", user=member)
    listed = (await answer(fake_discord, token)).content
    assert "**raid** → **incursión** (Spanish)" in listed
    assert "**Libra** — never translated" in listed

    # The model ignores the glossary: it leaves "raid" in English. Libra fixes it.
    fake_ollama.answer_fn = lambda body: body["messages"][-1]["content"].replace(
        "The", "La").replace("starts at nine tonight", "empieza a las nueve esta noche")
    token = await fake_discord.slash_command(
        "translate", {"text": "The raid with Libra starts at nine tonight", "to": "es"})
    shown = await answer(fake_discord, token)
    assert shown.content == "La incursión with Libra empieza a las nueve esta noche\n-# en → es"


async def test_a_broken_model_gets_one_retry_then_a_clear_notice(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str, start_libra: StartLibra
) -> None:
    await start(fake_discord, fake_ollama, pg_url, start_libra)
    text = "Please read `the rules` at https://example.com/rules before posting here"
    fake_ollama.answer_fn = lambda body: "Por favor lee las reglas antes de publicar aquí"

    token = await fake_discord.slash_command("translate", {"text": text, "to": "es"})
    shown = await answer(fake_discord, token)

    assert "couldn't translate this reliably" in shown.content
    assert "https://example.com/rules" in shown.content  # what was lost, named
    assert "Por favor" not in shown.content  # never the wrong translation
    assert len(chats(fake_ollama)) == 2

    fake_ollama.answer_fn = lambda body: "Guten Morgen, die Wartung des Servers beginnt gleich"
    token = await fake_discord.slash_command(
        "translate", {"text": "Good morning, the server maintenance starts soon", "to": "es"})
    shown = await answer(fake_discord, token)
    assert "couldn't translate this reliably" in shown.content and "in de, not es" in shown.content
    assert len(chats(fake_ollama)) == 4


async def test_history_pages_searches_deletes_and_is_exported(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str, start_libra: StartLibra
) -> None:
    libra = await start(fake_discord, fake_ollama, pg_url, start_libra)
    for n in range(7):
        token = await fake_discord.slash_command(
            "translate", {"text": f"Hello, this is note number {n} about the cat", "to": "es"})
        await answer(fake_discord, token)

    token = await fake_discord.slash_subcommand("translations", "history")
    first = await answer(fake_discord, token)
    assert first.visible_to == fake_discord.user("alice").id
    assert "page 1 of 2" in first.content and "number 6" in first.content
    assert "number 1" not in first.content and "page:2" in first.content
    token = await fake_discord.slash_subcommand("translations", "history", {"page": 2})
    second = await answer(fake_discord, token)
    assert "number 1" in second.content and "number 0" in second.content
    token = await fake_discord.slash_subcommand("translations", "history",
                                                {"query": "NUMBER 3"})
    found = await answer(fake_discord, token)
    assert "number 3" in found.content and "number 4" not in found.content

    token = await fake_discord.slash_subcommand("privacy", "export")
    exported_message = await answer(fake_discord, token)
    await fake_discord.wait_until(lambda: bool(exported_message.payload["attachments"]))
    exported = json.loads(fake_discord.attachment(exported_message))
    assert len(exported["translations"]) == 7
    assert exported["translations"][0]["translated_text"] == SENTENCES["Spanish"]
    assert exported["translations"][0]["channel_id"] == str(fake_discord.text_channel.id)

    token = await fake_discord.slash_subcommand("translations", "delete")
    assert "Deleted 7" in (await answer(fake_discord, token)).content
    rows = await libra.query("SELECT count(*) FROM translations")
    assert rows[0][0] == 0


async def test_limits_too_long_and_rate_limited(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str, start_libra: StartLibra
) -> None:
    await start(fake_discord, fake_ollama, pg_url, start_libra, user_rate_per_minute=1,
                user_burst=2)
    token = await fake_discord.slash_command("translate", {"text": "word " * 500, "to": "es"})
    assert "2500 characters" in (await answer(fake_discord, token)).content
    assert "up to 2000" in fake_discord.original_response(token).content  # type: ignore[union-attr]
    tokens = [await fake_discord.slash_command(
        "translate", {"text": f"Good evening, this is message {n}", "to": "es"})
        for n in range(3)]
    answers = [(await answer(fake_discord, t)).content for t in tokens]
    assert sum("-# en → es" in a for a in answers) == 1  # the long one spent the burst too
    assert any("Try again in" in a for a in answers)


async def test_personal_opt_in_translates_the_users_messages_beneath(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str, start_libra: StartLibra
) -> None:
    await start(fake_discord, fake_ollama, pg_url, start_libra)
    channel = fake_discord.text_channel
    alice = fake_discord.user("alice")

    token = await fake_discord.slash_subcommand("translations", "me", {"state": "on"})
    assert "translation into English" in (await answer(fake_discord, token)).content

    spanish = await fake_discord.user_message("Hola a todos, ¿quién quiere jugar esta noche?")
    posted = await fake_discord.wait_for_bot_content(
        channel.id, lambda c: c.startswith(SENTENCES["English"]))
    assert posted.content.endswith("-# es → en")
    assert posted.payload["message_reference"]["message_id"] == str(spanish.id)
    translated = len(fake_discord.bot_messages(channel.id))

    # Already in the channel's language, or someone who did not opt in: nothing posted.
    await fake_discord.user_message("Sounds good, I will be there at nine tonight")
    await fake_discord.user_message("Hola, yo también quiero jugar esta noche",
                                    author=fake_discord.user("owner"))
    # A wrong-language answer twice: a notice, never a silent wrong post.
    fake_ollama.answer_fn = lambda body: "Bonjour à tous, qui veut jouer ce soir avec nous"
    await fake_discord.user_message("Buenas noches, mañana jugamos otra vez con todos")
    notice = await fake_discord.wait_for_bot_content(
        channel.id, lambda c: "couldn't translate this message reliably" in c)
    assert fake_discord.bot_messages(channel.id)[translated:] == [notice]

    token = await fake_discord.slash_subcommand("translations", "me", {"state": "off"})
    await answer(fake_discord, token)
    assert alice.id
