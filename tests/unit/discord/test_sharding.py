"""The hikari hooks of a scaled-out bot follow the hikari they were written against."""

from __future__ import annotations

import inspect

import hikari
import pytest
from hikari.impl import shard as shard_impl

from libra.cluster.topology import check_topology, topology_of
from libra.config import Settings
from libra.discord.sharding import SUPPORTED_HIKARI, GatedGatewayBot, shard_of, shard_plan
from libra.errors import ConfigError


def test_the_hooks_match_the_installed_hikari() -> None:
    # GatedGatewayBot copies hikari's private _start_one_shard and GatedShard overrides
    # _send_json: a hikari upgrade must be checked against them before it is allowed.
    assert hikari.__version__.startswith(SUPPORTED_HIKARI), hikari.__version__
    ours = inspect.signature(GatedGatewayBot._start_one_shard).parameters
    theirs = inspect.signature(hikari.GatewayBot._start_one_shard).parameters
    assert list(ours) == list(theirs)
    send = inspect.signature(shard_impl.GatewayShardImpl._send_json).parameters
    assert list(send) == ["self", "data", "priority"]


def test_a_guild_belongs_to_the_shard_discord_computes() -> None:
    guild = 197038439483310086
    assert shard_of(guild, 1) == 0
    assert shard_of(guild, 2) == (guild >> 22) % 2
    assert {shard_of(guild + (n << 22), 4) for n in range(4)} == {0, 1, 2, 3}


def test_the_shard_plan_passes_only_what_is_configured() -> None:
    assert shard_plan((), None) == {}
    assert shard_plan((), 3) == {"shard_count": 3, "shard_ids": [0, 1, 2]}
    assert shard_plan((1,), 2) == {"shard_count": 2, "shard_ids": [1]}


@pytest.mark.parametrize(("discord", "message"), [
    ({"shard_ids": [0]}, "set discord.shard_count too"),
    ({"shard_count": 2, "shard_ids": [2]}, "shard ids run from 0 to 1"),
    ({"shard_count": 2, "shard_ids": [1, 1]}, "listed twice"),
])
def test_shard_settings_are_checked_at_load(discord: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Settings.model_validate({"discord": discord})


def test_several_instances_need_redis_and_an_external_database() -> None:
    database = {"url": "postgresql://libra@db/libra"}
    one = Settings.model_validate({"discord": {"shard_count": 2, "shard_ids": [0, 1]}})
    assert not topology_of(one).scaled_out
    check_topology(one)  # one process running every shard: nothing is required
    without_redis = Settings.model_validate({"app": {"instances": 2}, "database": database})
    with pytest.raises(ConfigError, match="without Redis") as refused:
        check_topology(without_redis)
    assert "REDIS_URL" in (refused.value.hint or "")
    fine = Settings.model_validate({"app": {"instances": 2}, "database": database,
                                    "redis": {"url": "redis://redis:6379/0"}})
    assert check_topology(fine).instances == 2
