"""Structural views of services the admin plugin reads but does not own.

The admin package must not import the storage or LLM implementations, so it reads
them through these small Protocols. The database is looked up by the class the
storage plugin registers (resolved lazily by name, so no static import exists).
"""

from __future__ import annotations

import importlib
from typing import Any, Protocol, runtime_checkable

from libra.plugin import Services

DATABASE_CLASS = ("libra.storage.db", "Database")
"""Where the storage plugin's database service class lives (module, name)."""


@runtime_checkable
class PoolStats(Protocol):
    """The sizing methods of an ``asyncpg.Pool``."""

    def get_size(self) -> int:
        """Connections open (busy and idle)."""
        ...

    def get_idle_size(self) -> int:
        """Connections open and idle."""
        ...

    def get_max_size(self) -> int:
        """The pool's upper bound."""
        ...


@runtime_checkable
class QueryPool(Protocol):
    """The query methods of an ``asyncpg.Pool`` the stats module uses."""

    async def fetch(self, query: str, *args: object) -> list[Any]:
        """Run ``query`` with parameters and return its rows."""
        ...


def find_pool(services: Services) -> Any | None:
    """The asyncpg pool of the ``Database`` service, or ``None`` when it is absent.

    Accepts a service exposing the pool as ``pool`` (attribute or property) or
    ``get_pool()``; a database that has not connected yet yields ``None``.
    """
    try:
        module = importlib.import_module(DATABASE_CLASS[0])
    except ImportError:
        return None
    kind = getattr(module, DATABASE_CLASS[1], None)
    if not isinstance(kind, type):
        return None
    database = services.find(kind)
    if database is None:
        return None
    try:
        pool = getattr(database, "pool", None)
        if pool is None and callable(getter := getattr(database, "get_pool", None)):
            pool = getter()
    except Exception:  # a database that is not connected raises from its property
        return None
    return pool
