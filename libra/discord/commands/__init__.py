"""Slash commands, one lightbulb extension (a ``Loader``) per area."""

from __future__ import annotations

import lightbulb

from libra.discord import translate_optin
from libra.discord.commands import (
    admin,
    ask,
    autotranslate,
    glossary,
    help,
    language,
    privacy,
    session,
    translate,
    translations,
    voice,
)


def extensions() -> list[lightbulb.Loader]:
    """Every command area's loader (imported directly: a broken one fails loudly)."""
    return [ask.loader, language.loader, session.loader, admin.loader, help.loader,
            privacy.loader, voice.loader, translate.loader, translations.loader,
            glossary.loader, translate_optin.loader, autotranslate.loader]
