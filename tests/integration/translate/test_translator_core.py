"""``LLMTranslator`` end to end: the real LLM service over a fake Ollama, real storage.

The fake model is scripted per test through ``answer_fn``: it reads the prompt Libra
sent (placeholders, glossary lines, the correction after a refused answer) and
answers like a good, a careless or a broken model would.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import pytest_asyncio

from libra.bus import EventBus
from libra.config import LanguageSettings, Settings, TranslateSettings
from libra.errors import (
    GlossaryInvalid,
    LanguageUnknown,
    TranslationFailed,
    TranslationTooLong,
)
from libra.language.service import ChannelLanguageService
from libra.storage.repositories import PgStorage
from libra.translate.api import ContextMessage, GlossaryEntry, TranslationOutcome
from libra.translate.glossary import GuildGlossary
from libra.translate.records import TranslationRecords
from libra.translate.service import LLMTranslator
from tests.fakes.fake_ollama import FakeOllama
from tests.fakes.llm_stack import LLMStack, llm_stack

GUILD = 4242
ALICE = 1001

Model = Callable[[dict[str, Any]], str]


def user_text(body: dict[str, Any]) -> str:
    return str(body["messages"][-1]["content"])


def system_text(body: dict[str, Any]) -> str:
    return str(body["messages"][0]["content"])


def spanish(body: dict[str, Any]) -> str:
    """A good model: a fixed Spanish sentence that keeps every marker in place."""
    markers = re.findall(r"⟦\d+⟧", user_text(body))
    return "Hola a todos, nos vemos mañana en la reunión de la tarde " + " ".join(markers)


class Rig:
    """A translator over the fake model and a real database."""

    def __init__(self, translator: LLMTranslator, ollama: FakeOllama, stack: LLMStack,
                 storage: PgStorage) -> None:
        self.translator = translator
        self.ollama = ollama
        self.stack = stack
        self.storage = storage

    def chats(self) -> list[dict[str, Any]]:
        return [r.body for r in self.ollama.requests if r.path == "/api/chat"]


@pytest_asyncio.fixture
async def rig(fake_ollama: FakeOllama, storage: PgStorage) -> AsyncIterator[Rig]:
    settings = Settings()
    async with llm_stack(servers=(fake_ollama.url,), cache_ttl=300) as stack:
        language = ChannelLanguageService(settings, EventBus())
        glossary = GuildGlossary(storage, max_entries=3)
        translator = LLMTranslator(TranslateSettings(max_chars=500), LanguageSettings(),
                                   llm=stack.service, language=language, store=storage,
                                   glossary=glossary)
        yield Rig(translator, fake_ollama, stack, storage)


async def test_translation_is_checked_stored_and_cached(rig: Rig) -> None:
    rig.ollama.answer_fn = spanish
    context = [ContextMessage(author="bob", text="Are we meeting tomorrow?")]
    text = "Hello everyone, see you tomorrow at the afternoon meeting"

    first = await rig.translator.translate(text, target="Spanish", source="en",
                                           guild_id=GUILD, user_id=ALICE, context=context)
    again = await rig.translator.translate(
        text, target="es", source="en", guild_id=GUILD, user_id=ALICE,
        context=[ContextMessage(author="carol", text="something else entirely")])

    assert first.outcome is TranslationOutcome.TRANSLATED and not first.cached
    assert first.text.startswith("Hola a todos") and (first.source, first.target) == ("en", "es")
    assert again.cached and again.text == first.text  # other context, same cache entry
    assert len(rig.chats()) == 1
    body = rig.chats()[0]
    assert body["options"]["temperature"] == pytest.approx(0.1)
    assert "bob: Are we meeting tomorrow?" in system_text(body)  # context, not translated
    assert user_text(body) == text
    rows, total = await rig.storage.translation_history(ALICE, query=None, offset=0, limit=5)
    assert total == 2  # both stored, the cached one too
    assert [(r.source_text, r.translated_text, r.guild_id) for r in rows] == [
        (text, first.text, GUILD)] * 2


async def test_code_urls_mentions_and_emoji_pass_through_unchanged(rig: Rig) -> None:
    text = ("Run `pip install libra` then open https://example.com/docs?x=1, "
            "ask <@123456789012345678> <:libra:987654321098765432> **now**\n"
            "```py\nprint('hello')\n```")
    rig.ollama.answer_fn = lambda body: re.sub(
        r"[A-Za-z][A-Za-z ,]*[A-Za-z]", "traducción del texto aquí", user_text(body))

    result = await rig.translator.translate(text, target="es", source="en")

    for kept in ("`pip install libra`", "https://example.com/docs?x=1",
                 "<@123456789012345678>", "<:libra:987654321098765432>", "**",
                 "```py\nprint('hello')\n```"):
        assert kept in result.text
    sent = user_text(rig.chats()[0])
    assert "https://" not in sent and "pip install" not in sent and "print(" not in sent


async def test_a_mangled_placeholder_is_retried_then_refused(rig: Rig) -> None:
    text = "Please read https://example.com/rules before posting in this channel"
    rig.ollama.answer_fn = lambda body: "Por favor lee las reglas antes de publicar aquí"

    with pytest.raises(TranslationFailed) as failed:
        await rig.translator.translate(text, target="es", source="en", user_id=ALICE)

    assert "https://example.com/rules" in failed.value.reason
    assert len(rig.chats()) == 2  # retried once
    assert "refused" in system_text(rig.chats()[1])
    assert await rig.storage.translation_history(ALICE, query=None, offset=0, limit=5) == (
        [], 0)


async def test_a_retry_that_keeps_the_placeholder_succeeds(rig: Rig) -> None:
    text = "Please read https://example.com/rules before posting in this channel"

    def careless_then_careful(body: dict[str, Any]) -> str:
        if "refused" in system_text(body):
            return "Por favor lee ⟦0⟧ antes de publicar en este canal"
        return "Por favor lee las reglas antes de publicar en este canal"

    rig.ollama.answer_fn = careless_then_careful
    result = await rig.translator.translate(text, target="es", source="en")
    assert result.text == "Por favor lee https://example.com/rules antes de publicar en este canal"


async def test_glossary_is_enforced_when_the_model_ignores_it(rig: Rig) -> None:
    await rig.translator.glossary.add(GUILD, GlossaryEntry(term="raid", rendering="incursión",
                                                           language="es"))
    await rig.translator.glossary.add(GUILD, GlossaryEntry(term="Libra"))  # keep as is
    # The model leaves "raid" untranslated and would have translated "Libra".
    rig.ollama.answer_fn = lambda body: user_text(body).replace(
        "The", "La").replace("starts at nine tonight", "empieza a las nueve esta noche")

    result = await rig.translator.translate("The raid with Libra starts at nine tonight",
                                            target="es", source="en", guild_id=GUILD)

    assert result.text == "La incursión with Libra empieza a las nueve esta noche"
    body = rig.chats()[0]
    assert "raid → incursión" in system_text(body)
    assert "Libra" not in user_text(body)  # shielded: the model cannot change it


async def test_a_paraphrased_glossary_term_is_retried_then_refused(rig: Rig) -> None:
    await rig.translator.glossary.add(GUILD, GlossaryEntry(term="raid", rendering="incursión",
                                                           language="es"))
    rig.ollama.answer_fn = lambda body: "El ataque empieza a las nueve esta noche"

    with pytest.raises(TranslationFailed) as failed:
        await rig.translator.translate("The raid starts at nine tonight", target="es",
                                       source="en", guild_id=GUILD)
    assert "raid → incursión" in failed.value.reason
    assert len(rig.chats()) == 2


async def test_wrong_language_and_garbage_are_retried_once_then_refused(rig: Rig) -> None:
    text = "Good morning, the server maintenance starts in ten minutes"
    rig.ollama.answer_fn = lambda body: (
        "Bonjour, la maintenance du serveur commence dans dix minutes")
    with pytest.raises(TranslationFailed, match="in fr, not es"):
        await rig.translator.translate(text, target="es", source="en")
    assert len(rig.chats()) == 2

    rig.ollama.answer_fn = lambda body: "zx" * 40
    with pytest.raises(TranslationFailed, match="repeats itself"):
        await rig.translator.translate(text, target="de", source="en")
    assert len(rig.chats()) == 4


@pytest.mark.parametrize("text", ["gg", "lol", "ㅋㅋㅋ", "😂👍", "<@123456789012345678>",
                                  "https://example.com/x", "GG WP", "```\ncode\n```"])
async def test_nothing_to_translate_asks_no_model(rig: Rig, text: str) -> None:
    result = await rig.translator.translate(text, target="ko")
    assert result.outcome is TranslationOutcome.NOTHING_TO_TRANSLATE and result.text == text
    assert rig.chats() == []


async def test_same_language_is_returned_unchanged(rig: Rig) -> None:
    text = "Ceci est déjà écrit en français, merci beaucoup"
    result = await rig.translator.translate(text, target="fr")
    assert result.outcome is TranslationOutcome.SAME_LANGUAGE and result.text == text
    assert rig.chats() == []


async def test_limits_and_unknown_languages(rig: Rig) -> None:
    with pytest.raises(TranslationTooLong) as long:
        await rig.translator.translate("a" * 501, target="es")
    assert (long.value.length, long.value.limit) == (501, 500)
    with pytest.raises(LanguageUnknown) as unknown:
        await rig.translator.translate("hello there", target="Klingon")
    assert "ko" in unknown.value.supported and "Klingon" in str(unknown.value)
    assert rig.translator.parse_language("한국어") == "ko"
    assert rig.translator.parse_language("Traditional Chinese") == "zh-tw"
    assert rig.translator.parse_language("pt-BR") == "pt"


async def test_history_pages_searches_and_deletes(rig: Rig, storage: PgStorage) -> None:
    rig.ollama.answer_fn = lambda body: "Hola, esto es una traducción número " + str(
        len(rig.chats()))
    for n in range(7):
        await rig.translator.translate(f"Hello, this is message number {n} about cats",
                                       target="es", source="en", user_id=ALICE)
    history = TranslationRecords(storage)

    first = await history.history(ALICE, page_size=3)
    last = await history.history(ALICE, page=2, page_size=3)
    found = await history.history(ALICE, query="NUMBER 3")

    assert (first.total, first.pages) == (7, 3)
    assert first.items[0].source_text.endswith("number 6 about cats")  # newest first
    assert len(last.items) == 1 and "number 0" in last.items[0].source_text
    assert [i.source_text for i in found.items] == ["Hello, this is message number 3 about cats"]
    assert await history.delete_history(ALICE) == 7
    assert (await history.history(ALICE)).total == 0


async def test_glossary_limits(rig: Rig) -> None:
    glossary = rig.translator.glossary
    for term in ("one", "two"):
        await glossary.add(GUILD, GlossaryEntry(term=term))
    await glossary.add(GUILD, GlossaryEntry(term="ONE", rendering="uno", language="es"))
    await glossary.add(GUILD, GlossaryEntry(term="two", rendering="dos"))  # replaces "two"
    with pytest.raises(GlossaryInvalid, match="already has 3"):
        await glossary.add(GUILD, GlossaryEntry(term="four"))
    with pytest.raises(GlossaryInvalid, match="empty"):
        await glossary.add(GUILD, GlossaryEntry(term="   "))
    assert [(e.term, e.rendering) for e in await glossary.entries(GUILD)] == [
        ("one", None), ("ONE", "uno"), ("two", "dos")]
    assert await glossary.remove(GUILD, "one") == 2  # every language's
    assert [e.term for e in await glossary.entries(GUILD)] == ["two"]


async def test_a_refused_translation_is_not_cached_so_trying_again_asks_the_model(
        rig: Rig) -> None:
    text = "Good morning, the server maintenance starts in ten minutes"
    answers = iter(["Bonjour, la maintenance du serveur commence dans dix minutes"] * 2)

    def wrong_twice_then_right(body: dict[str, Any]) -> str:
        return next(answers, "Buenos días, el mantenimiento del servidor empieza en diez "
                             "minutos")

    rig.ollama.answer_fn = wrong_twice_then_right
    with pytest.raises(TranslationFailed):
        await rig.translator.translate(text, target="es", source="en")

    again = await rig.translator.translate(text, target="es", source="en")
    assert again.text.startswith("Buenos días") and not again.cached
    assert len(rig.chats()) == 3
    # The good answer is what the cache keeps: the third time costs no model call.
    third = await rig.translator.translate(text, target="es", source="en")
    assert third.cached and third.text == again.text and len(rig.chats()) == 3


async def test_a_glossary_term_only_inside_a_url_or_code_is_not_required(rig: Rig) -> None:
    await rig.translator.glossary.add(GUILD, GlossaryEntry(term="raid", rendering="incursión",
                                                           language="es"))
    text = "Read tonight's guide at https://example.com/raid and run `raid --help` first"
    rig.ollama.answer_fn = lambda body: "Lee la guía de esta noche en ⟦0⟧ y ejecuta ⟦1⟧ antes"

    result = await rig.translator.translate(text, target="es", source="en", guild_id=GUILD)

    assert result.text == ("Lee la guía de esta noche en https://example.com/raid y ejecuta "
                           "`raid --help` antes")
    assert len(rig.chats()) == 1
    assert "incursión" not in system_text(rig.chats()[0])  # nothing to render: not asked
