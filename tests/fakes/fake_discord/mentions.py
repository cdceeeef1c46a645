"""Who a message pings, worked out from its content and ``allowed_mentions`` as Discord does.

Discord parses ``@everyone``/``@here``, ``<@user>``/``<@!user>`` and ``<@&role>`` in
the content; ``allowed_mentions`` then says which of them notify:

* absent: every parsed mention notifies, and a reply pings the author replied to;
* ``parse`` lists the kinds that notify whatever the ids (``everyone``, ``users``,
  ``roles``); ``users``/``roles`` list single ids that do; ``replied_user`` (default
  false) pings the author of the message replied to;
* ``parse: ["users"]`` together with a ``users`` list is refused (400), and so for roles.

The fake is stricter than Discord in two ways, so a test errs towards "pinged": it
does not check the ``MENTION_EVERYONE`` permission or whether a role is mentionable,
and it counts mentions inside code blocks.
"""

from __future__ import annotations

import re
from typing import Any

EVERYONE_RE = re.compile(r"@(everyone|here)")
USER_RE = re.compile(r"<@!?(\d+)>")
ROLE_RE = re.compile(r"<@&(\d+)>")
ALL_KINDS = frozenset({"everyone", "users", "roles"})


def refusal(allowed: Any) -> str | None:
    """Why Discord would refuse this ``allowed_mentions`` (400), or ``None``."""
    if allowed is None:
        return None
    if not isinstance(allowed, dict):
        return "allowed_mentions must be an object"
    parse = set(allowed.get("parse") or [])
    if parse - ALL_KINDS:
        return f"allowed_mentions.parse holds unknown kinds: {sorted(parse - ALL_KINDS)}"
    for kind in ("users", "roles"):
        if kind in parse and allowed.get(kind):
            return f"allowed_mentions: parse {kind} and a {kind} list are mutually exclusive"
    return None


def pinged(content: str, allowed: dict[str, Any] | None, *,
           replied_author: int | None = None) -> frozenset[str]:
    """What a message notifies: ``"@everyone"``, ``"@here"``, ``"user:<id>"``, ``"role:<id>"``."""
    if allowed is None:
        parse, users, roles, replied = set(ALL_KINDS), set(), set(), True
    else:
        parse = set(allowed.get("parse") or [])
        users = {int(u) for u in allowed.get("users") or []}
        roles = {int(r) for r in allowed.get("roles") or []}
        replied = bool(allowed.get("replied_user", False))
    found: set[str] = set()
    if "everyone" in parse:
        found.update("@" + m.group(1) for m in EVERYONE_RE.finditer(content))
    for match in USER_RE.finditer(content):
        if "users" in parse or int(match.group(1)) in users:
            found.add(f"user:{match.group(1)}")
    for match in ROLE_RE.finditer(content):
        if "roles" in parse or int(match.group(1)) in roles:
            found.add(f"role:{match.group(1)}")
    if replied and replied_author is not None:
        found.add(f"user:{replied_author}")
    return frozenset(found)
