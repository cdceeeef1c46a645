"""Who and where the console is, as the chat core sees it."""

from __future__ import annotations

from libra.storage.api import MemoryScope, Place

CONSOLE_USER_ID = 0
"""The console's user (0 is never a Discord snowflake, so it cannot collide)."""
CONSOLE_CHANNEL_ID = 0
"""The console's channel."""
CONSOLE_PLACE = Place(MemoryScope.CONSOLE)
"""Where the console's memories are used: in the console only."""
