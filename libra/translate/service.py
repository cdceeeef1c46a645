"""``LLMTranslator``: translation on the local LLM, checked before anyone sees it.

One ``translate`` call: refuse what is too long → answer at once what holds nothing
to translate or is already in the target language → shield code, links, mentions,
emoji, markdown and do-not-translate terms behind placeholders → ask the model (the
translation prompt, low temperature, fixed seed, cached on text + languages +
glossary) → check the answer (every placeholder once, not garbage, the glossary's
renderings, the target language) → on a failed check ask once more, saying what was
wrong → cache the answer that passed (a refused one is never cached, so "try again"
asks the model again) → restore the shielded tokens → store it in the user's history.

A failed second attempt raises :class:`~libra.errors.TranslationFailed`: a wrong
translation is never returned silently.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass

from loguru import logger

from libra.config import LanguageSettings, TranslateSettings
from libra.errors import EmptyInput, StorageError, TranslationFailed, TranslationTooLong
from libra.language.api import LanguageService
from libra.llm.api import LLMRequest, LLMService
from libra.storage.api import TranslationStore
from libra.translate.api import (
    ContextMessage,
    GlossaryEntry,
    Translation,
    TranslationOutcome,
)
from libra.translate.checks import garbage_problem, language_problem, tidy
from libra.translate.glossary import GlossaryPlan, GuildGlossary, enforce, plan_for
from libra.translate.languages import LanguageNames
from libra.translate.prompt import messages
from libra.translate.protect import Shielded, placeholder_problem, shield, unshield
from libra.translate.worth import worth_translating

SEED = 7
"""Fixed sampling seed: the same text gives the same translation (and cache entry)."""
PROMPT_VERSION = "translate/1"
"""Part of every cache key: a changed prompt must not serve answers to the old one."""


@dataclass(slots=True)
class _Reply:
    """One answer of the model as it came (before tidying), for the cache."""

    text: str = ""
    cached: bool = False
    prompt_tokens: int = 0
    completion_tokens: int = 0


class LLMTranslator:
    """Implements :class:`~libra.translate.api.Translator` (see the module docstring)."""

    def __init__(self, settings: TranslateSettings, languages: LanguageSettings, *,
                 llm: LLMService, language: LanguageService,
                 store: TranslationStore | None, glossary: GuildGlossary) -> None:
        """``store`` ``None``: nothing is recorded and there is no glossary (no database)."""
        self.settings = settings
        self.names = LanguageNames(languages.languages, zh_default=languages.zh_default)
        self._llm = llm
        self._language = language
        self._store = store
        self.glossary = glossary

    # -- Translator ------------------------------------------------------------------

    def supported_languages(self) -> tuple[str, ...]:
        """Language codes translation accepts (the configured languages)."""
        return self.names.supported

    def parse_language(self, name: str) -> str:
        """A supported code for a code or a language name (English or native)."""
        return self.names.parse(name)

    def worth_translating(self, text: str) -> bool:
        """Whether ``text`` holds prose to translate (no model, no detection)."""
        return worth_translating(text)

    async def translate(
        self, text: str, *, target: str, source: str | None = None,
        guild_id: int | None = None, channel_id: int | None = None,
        user_id: int | None = None, context: Sequence[ContextMessage] = (),
        record: bool = True,
    ) -> Translation:
        """Translate ``text`` into ``target`` (see ``Translator.translate``)."""
        if not text.strip():
            raise EmptyInput("there is no text to translate")
        if len(text) > self.settings.max_chars:
            raise TranslationTooLong(length=len(text), limit=self.settings.max_chars)
        target = self.parse_language(target)
        if source is not None:
            source = self.parse_language(source)
        elif channel_id is not None:
            source = await self._language.message_language(channel_id, text)
        else:
            source = self._language.detect(text).language
        if not worth_translating(text):
            return Translation(source=source, target=target, text=text, original=text,
                               outcome=TranslationOutcome.NOTHING_TO_TRANSLATE)
        if source == target:
            return Translation(source=source, target=target, text=text, original=text,
                               outcome=TranslationOutcome.SAME_LANGUAGE)
        plan = plan_for(await self._glossary_entries(guild_id), text, target)
        shielded = shield(text, plan.keep)
        model = self.settings.model or self._language.model_for(target)
        result, cached = await self._translate_checked(
            shielded, plan, source=source, target=target, model=model, guild_id=guild_id,
            user_id=user_id, context=context[-self.settings.context_messages:]
            if self.settings.context_messages else ())
        translation_id = None
        if record and user_id is not None:
            translation_id = await self._record(
                user_id, source=source, target=target, text=text, result=result, model=model,
                guild_id=guild_id, channel_id=channel_id)
        return Translation(source=source, target=target, text=result, original=text,
                           cached=cached, model=model, translation_id=translation_id)

    # -- for the Discord commands ----------------------------------------------------

    async def preferred_language(self, user_id: int) -> str | None:
        """The user's own language if they set one (``/lang``), else ``None``."""
        if self._store is None:
            return None
        try:
            language = (await self._store.ensure_user(user_id)).language
        except StorageError as err:
            logger.warning("cannot read a user's language for translation: {}", err)
            return None
        return language if language in self.names.supported else None

    # -- internals -------------------------------------------------------------------

    async def _glossary_entries(self, guild_id: int | None) -> list[GlossaryEntry]:
        if guild_id is None:
            return []
        try:
            return await self.glossary.entries(guild_id)
        except StorageError as err:
            # A database outage costs the glossary, not the translation.
            logger.warning("translating without the glossary of guild {}: {}", guild_id, err)
            return []

    async def _translate_checked(
        self, shielded: Shielded, plan: GlossaryPlan, *, source: str, target: str,
        model: str, guild_id: int | None, user_id: int | None,
        context: Sequence[ContextMessage],
    ) -> tuple[str, bool]:
        """The checked, restored translation and whether it came from the cache."""
        correction: str | None = None
        # The key names what decides the translation; context lines only disambiguate
        # and would otherwise make every message of a busy channel a cache miss.
        key = "\n".join((PROMPT_VERSION, source, target, plan.version, shielded.text))
        for attempt in (1, 2):
            started = time.perf_counter()
            # A retry must not be served the refused answer: it has a key of its own,
            # which nothing is ever stored under.
            request = self._request(
                shielded, plan, source=source, target=target, model=model, guild_id=guild_id,
                user_id=user_id, context=context, correction=correction,
                cache_key=key if attempt == 1 else f"{key}\nretry")
            reply = await self._ask(request)
            answer = tidy(reply.text, shielded.text)
            problem = (placeholder_problem(answer, shielded)
                       or garbage_problem(answer, shielded.text))
            if problem is None:
                answer, missing = enforce(answer, plan)
                if missing:
                    problem = "it did not use the glossary for " + ", ".join(
                        f"{term} → {rendering}" for term, rendering in plan.render
                        if term in missing)
            if problem is None:
                problem = language_problem(answer, target, self._language,
                                           min_letters=self.settings.check_min_letters)
            if problem is None:
                logger.debug("translated {} → {} with {} in {:.0f} ms (attempt {})", source,
                             target, model, (time.perf_counter() - started) * 1000, attempt)
                if not reply.cached:
                    # Only now, checked, is the answer worth keeping; under the first
                    # attempt's key, so the next identical request is a hit at once.
                    await self._llm.remember(
                        dataclasses.replace(request, cache_key=key), reply.text,
                        prompt_tokens=reply.prompt_tokens,
                        completion_tokens=reply.completion_tokens)
                return unshield(answer, shielded), reply.cached
            logger.info("translation {} → {} refused (attempt {}): {}", source, target,
                        attempt, problem)
            correction = problem
        raise TranslationFailed(f"the model's translation failed twice: {correction}",
                                reason=correction or "?",
                                hint="try again, or rephrase the text")

    def _request(
        self, shielded: Shielded, plan: GlossaryPlan, *, source: str, target: str,
        model: str, guild_id: int | None, user_id: int | None,
        context: Sequence[ContextMessage], correction: str | None, cache_key: str,
    ) -> LLMRequest:
        return LLMRequest(
            model=model,
            messages=messages(shielded.text, source=source, target=target, plan=plan,
                              context=context, correction=correction),
            language=target,
            options={"temperature": self.settings.temperature, "seed": SEED},
            guild_id=guild_id, user_id=user_id, cache_key=cache_key,
            store_answer=False,  # stored by ``_translate_checked`` once the checks pass
        )

    async def _ask(self, request: LLMRequest) -> _Reply:
        """The model's answer as it came, with its usage for the cache."""
        parts: list[str] = []
        reply = _Reply()
        async for token in self._llm.stream(request):
            if token.retry:
                parts.clear()
            parts.append(token.text)
            reply.cached = reply.cached or token.cached
            if token.done:
                reply.prompt_tokens = token.prompt_tokens or 0
                reply.completion_tokens = token.completion_tokens or 0
        reply.text = "".join(parts)
        return reply

    async def _record(self, user_id: int, *, source: str, target: str, text: str, result: str,
                      model: str, guild_id: int | None, channel_id: int | None) -> int | None:
        if self._store is None:
            return None
        try:
            user = await self._store.ensure_user(user_id)
            return await self._store.record_translation(
                user_id=user.id, source_language=source, target_language=target,
                source_text=text, translated_text=result, model=model, guild_id=guild_id,
                channel_id=channel_id)
        except StorageError as err:
            # The user still gets their translation; only the history misses it.
            logger.warning("translation not stored in the history: {}", err)
            return None
