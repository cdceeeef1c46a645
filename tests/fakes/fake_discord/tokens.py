"""Bot tokens shaped like Discord's, which hikari checks at construction."""

from __future__ import annotations

import base64


def make_token(application_id: int) -> str:
    """``base64(application_id) + ".x.y"``: hikari reads the app id from the first part."""
    encoded = base64.b64encode(str(application_id).encode()).decode()
    return f"{encoded}.x.y"
