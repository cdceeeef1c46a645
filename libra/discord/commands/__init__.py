"""Slash commands, one lightbulb extension (a ``Loader``) per area."""

from __future__ import annotations

import lightbulb

from libra.discord.commands import admin, ask, autotranslate, help, language, privacy, session


def extensions() -> list[lightbulb.Loader]:
    """Every command area's loader (imported directly: a broken one fails loudly)."""
    return [ask.loader, language.loader, session.loader, admin.loader, help.loader,
            privacy.loader, autotranslate.loader]
