"""Is this process one of several, and is the configuration fit for that?

Several instances need Redis (so what Discord limits per bot is shared) and one
external PostgreSQL (the embedded server lives in one process's data directory and
would give each instance its own, silently split, history and memory).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from libra.config import Settings
from libra.errors import ConfigError


@dataclass(frozen=True, slots=True, kw_only=True)
class Topology:
    """What this process runs of the whole bot."""

    instances: int
    """``app.instances``, or 2 when ``discord.shard_ids`` names only some shards."""
    shard_ids: tuple[int, ...] | None
    """Shards this process runs (``None`` = every shard)."""
    shard_count: int | None
    """Shards of the whole bot (``None`` = Discord's recommendation)."""

    @property
    def scaled_out(self) -> bool:
        """More than one process serves this bot."""
        return self.instances > 1


def topology_of(settings: Settings) -> Topology:
    """The topology ``settings`` describe."""
    discord = settings.discord
    instances = settings.app.instances
    ids = discord.shard_ids or None
    if ids is not None and discord.shard_count is not None and len(ids) < discord.shard_count:
        instances = max(instances, 2)  # another process runs the other shards
    return Topology(instances=instances, shard_ids=ids, shard_count=discord.shard_count)


def check_topology(settings: Settings) -> Topology:
    """The topology, once it is known to work.

    Raises:
        ConfigError: several instances with the embedded database or without Redis.
    """
    topology = topology_of(settings)
    if not topology.scaled_out:
        return topology
    why = (f"app.instances = {settings.app.instances}" if settings.app.instances > 1
           else f"discord.shard_ids = {list(settings.discord.shard_ids)} of "
                f"{settings.discord.shard_count} shards")
    if settings.database.url is None:
        raise ConfigError(
            f"several instances are configured ({why}), but the embedded PostgreSQL serves "
            "only the process that started it: each instance would keep its own history",
            hint="run one PostgreSQL server and set DATABASE_URL on every instance "
                 "(docs/scale-out.md)")
    if settings.redis.url is None:
        raise ConfigError(
            f"several instances are configured ({why}), but without Redis they cannot share "
            "rate limits, LLM slots or Discord's identify and REST budgets",
            hint="set REDIS_URL on every instance (docs/scale-out.md)")
    return topology


def bot_namespace(settings: Settings) -> str:
    """``bot-<application id>`` from the token, so two bots can share one Redis."""
    token = settings.discord.token
    if token is None:
        return "bot-none"
    head = token.get_secret_value().split(".", 1)[0]
    try:
        app_id = base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        return "bot-unknown"
    return f"bot-{app_id}" if app_id.isdigit() else "bot-unknown"
