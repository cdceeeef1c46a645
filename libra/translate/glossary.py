"""Per-guild glossary and do-not-translate list: storage, cache, and enforcement.

A do-not-translate term is shielded like a URL (the model never sees it, so it
cannot change it). A glossary term with a rendering is named in the prompt, then
checked in the answer: when the model kept the original term instead, it is
replaced (the mapping is unambiguous: one rendering for that target language);
when neither the rendering nor the term is there, the model paraphrased it and
the translation is asked again.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from libra.bounded import LruDict
from libra.errors import GlossaryInvalid
from libra.storage.api import TranslationStore
from libra.translate.api import GlossaryEntry
from libra.translate.protect import PROTECTED_RE, term_regex

MAX_TERM_CHARS = 100
"""Longest term or rendering (as the table's CHECK says)."""


def version_of(entries: Sequence[GlossaryEntry]) -> str:
    """A short digest of ``entries``: part of the cache key, so an edit misses old answers."""
    material = "\n".join(f"{e.term.lower()}\t{e.language or '*'}\t{e.rendering or ''}"
                         for e in sorted(entries, key=lambda e: (e.term.lower(),
                                                                 e.language or "")))
    return hashlib.sha256(material.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class GlossaryPlan:
    """What the glossary asks of one translation into one language."""

    keep: tuple[str, ...]
    """Do-not-translate terms found in the text (shielded)."""
    render: tuple[tuple[str, str], ...]
    """(term, rendering) pairs found in the text, for this target language."""
    version: str
    """The digest of the entries that apply (cache key)."""


def plan_for(entries: Sequence[GlossaryEntry], text: str, target: str) -> GlossaryPlan:
    """The entries that matter for translating ``text`` into ``target``.

    A language-specific rendering wins over an every-language one for the same term.
    Only the prose counts: a term inside a URL or code is shielded from the model, so
    asking for its rendering would refuse every translation of that text.
    """
    prose = PROTECTED_RE.sub(" ", text)
    chosen: dict[str, GlossaryEntry] = {}
    for entry in entries:
        if entry.language not in (None, target):
            continue
        key = entry.term.lower()
        if key not in chosen or (entry.language is not None and chosen[key].language is None):
            chosen[key] = entry
    present = [e for e in chosen.values()
               if (pattern := term_regex([e.term])) is not None and pattern.search(prose)]
    keep = tuple(e.term for e in present if e.keep)
    render = tuple((e.term, e.rendering) for e in present if e.rendering is not None)
    return GlossaryPlan(keep=keep, render=render, version=version_of(present))


def enforce(answer: str, plan: GlossaryPlan) -> tuple[str, list[str]]:
    """Apply the glossary's renderings to the model's answer.

    Returns the answer (with any original term the model left standing replaced by
    its rendering) and the terms whose rendering is still missing.
    """
    missing: list[str] = []
    for term, rendering in plan.render:
        wanted = term_regex([rendering])
        if wanted is not None and wanted.search(answer):
            continue
        original = term_regex([term])
        if original is not None and original.search(answer):
            answer = original.sub(_literal(rendering), answer)
            continue
        missing.append(term)
    return answer, missing


def _literal(text: str) -> Callable[[re.Match[str]], str]:
    """A replacement that is ``text`` as written (a template would read its backslashes)."""
    return lambda _match: text


def _clean(value: str, what: str) -> str:
    cleaned = re.sub(r"\s+", " ", value).strip()
    if not cleaned:
        raise GlossaryInvalid(f"the {what} is empty", hint="give a word or a short phrase")
    if len(cleaned) > MAX_TERM_CHARS:
        raise GlossaryInvalid(f"the {what} is {len(cleaned)} characters; the limit is "
                              f"{MAX_TERM_CHARS}", hint="glossary entries are words or short "
                              "phrases")
    return cleaned


class GuildGlossary:
    """Implements :class:`~libra.translate.api.Glossary` over the ``TranslationStore``.

    Entries are cached per guild (bounded) and dropped from the cache on every change,
    so each translation does not cost a database read.
    """

    def __init__(self, store: TranslationStore | None, *, max_entries: int) -> None:
        self._store = store
        self._max_entries = max_entries
        self._cache: LruDict[int, list[GlossaryEntry]] = LruDict(2_000)

    async def entries(self, guild_id: int) -> list[GlossaryEntry]:
        """The guild's entries, by term (empty without a database)."""
        cached = self._cache.get(guild_id)
        if cached is not None:
            return cached
        if self._store is None:
            return []
        rows = await self._store.glossary(guild_id)
        entries = [GlossaryEntry(term=r.term, rendering=r.rendering, language=r.language,
                                 created_by=r.created_by, created_at=r.created_at)
                   for r in rows]
        self._cache[guild_id] = entries
        return entries

    async def add(self, guild_id: int, entry: GlossaryEntry) -> GlossaryEntry:
        """Add or replace the entry for (term, language).

        Raises:
            GlossaryInvalid: empty or over-long term, or the guild's glossary is full.
        """
        term = _clean(entry.term, "term")
        rendering = _clean(entry.rendering, "translation") if entry.rendering else None
        store = self._need()
        self._cache.pop(guild_id, None)
        saved = await store.save_glossary_entry(
            guild_id, term=term, language=entry.language if rendering else None,
            rendering=rendering, created_by=entry.created_by, max_entries=self._max_entries)
        self._cache.pop(guild_id, None)
        if not saved:
            raise GlossaryInvalid(
                f"this server's glossary already has {self._max_entries} entries",
                hint="remove some with /glossary remove (translate.glossary_max_entries)")
        return GlossaryEntry(term=term, rendering=rendering,
                             language=entry.language if rendering else None,
                             created_by=entry.created_by)

    async def remove(self, guild_id: int, term: str, language: str | None = None) -> int:
        """Remove the term's entries (one language's, or all with ``None``); how many."""
        store = self._need()
        self._cache.pop(guild_id, None)
        removed = await store.delete_glossary_entry(guild_id, _clean(term, "term"), language)
        self._cache.pop(guild_id, None)
        return removed

    def _need(self) -> TranslationStore:
        if self._store is None:
            raise GlossaryInvalid("the glossary needs the database, which is not configured",
                                  hint="set database.url or let Libra start its own")
        return self._store
