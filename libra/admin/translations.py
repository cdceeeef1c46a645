"""Translation figures for the operator: volume per language pair and the glossaries.

Read through the ``TranslationStatsSource`` port (storage) for the status page and
``/api/stats``. A database that is down or failing shows as "unavailable" (``None``),
never as an error page: the rest of the page is still worth seeing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from loguru import logger

from libra.errors import LibraError
from libra.storage.api import GuildGlossaryRow, LanguagePairVolume

from .api import TranslationStatsSource

GLOSSARY_SHOWN = 200
"""Glossary entries listed at most (every guild's together)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TranslationFigures:
    """What the operator sees of translation since a point in time."""

    pairs: list[LanguagePairVolume]
    """Translations per (source, target) language pair, busiest first."""
    glossary: list[GuildGlossaryRow]
    """Every guild's glossary entries, by guild and term (at most ``GLOSSARY_SHOWN``)."""

    def as_json(self) -> dict[str, Any]:
        """The figures as ``/api/stats`` gives them."""
        return {"pairs": [asdict(p) for p in self.pairs],
                "glossary": [asdict(g) for g in self.glossary]}


async def translation_figures(source: TranslationStatsSource | None,
                              since: datetime) -> TranslationFigures | None:
    """The figures, or ``None`` when there is no source or the database cannot answer."""
    if source is None:
        return None
    try:
        pairs = await source.translation_volume(since)
        glossary = await source.glossary_overview(limit=GLOSSARY_SHOWN)
    except LibraError as err:
        logger.debug("translation figures unavailable: {}", err)
        return None
    return TranslationFigures(pairs=pairs, glossary=glossary)
