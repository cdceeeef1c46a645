"""The personal-data export: everything Libra stores about one user, as one document."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from libra.storage.api import UserData

EXPORT_FORMAT = "libra-personal-data/1"
"""Names the document's layout; a new version gets a new number."""

ABOUT = (
    "Everything Libra's database holds about you. 'messages' holds what you said to "
    "Libra and Libra's replies to you (both are kept only in your own conversations); "
    "'llm_calls' are usage records of those replies (model, tokens, timings, no text). "
    "'translations' are the translations made for you (/translate, the Translate menu, "
    "your opted-in messages); 'translate_opt_ins' the channels where you asked for yours; "
    "'linked_channel_posts' your messages in linked or auto-translated channels that Libra "
    "keeps (text and ids) so an edit re-translates and a deletion deletes their translations. "
    "Messages posted on Discord itself are Discord's, not part of this file. "
    "/privacy delete erases all of it."
)


def export_document(discord_id: int, data: UserData | None, *,
                    now: datetime | None = None) -> dict[str, Any]:
    """The JSON-ready export for ``discord_id`` (empty sections when nothing is stored)."""
    return {
        "format": EXPORT_FORMAT,
        "exported_at": (now or datetime.now(tz=UTC)).isoformat(),
        # A string, as Discord writes ids: JSON numbers lose digits past 2**53.
        "discord_user_id": str(discord_id),
        "about": ABOUT,
        "user": data.user if data else None,
        "settings": {"language": data.user.get("language") if data else None},
        "sessions": data.sessions if data else [],
        "messages": data.messages if data else [],
        "memories": data.memories if data else [],
        "translations": data.translations if data else [],
        "llm_calls": data.llm_calls if data else [],
        "translate_opt_ins": data.translate_opt_ins if data else [],
        "linked_channel_posts": data.linked_channel_posts if data else [],
    }
