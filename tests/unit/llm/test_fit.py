"""The memory arithmetic behind ``libra doctor``'s ``llm memory`` row."""

from __future__ import annotations

from pathlib import Path

import pytest

from libra.health import Status
from libra.llm.fit import GB, RESERVED, Memory, ModelNeed, assess, cgroup_limit

FOUR_GB = Memory(4 * GB, "this machine's memory (4.0 GB)")


def need(model: str, gb: float) -> ModelNeed:
    return ModelNeed(model, int(gb * GB), "download size + runtime")


def test_the_default_pair_of_7_8b_models_does_not_fit_a_4_gb_vps() -> None:
    result = assess([need("llama3:8b-instruct-q4_K_M", 5.9), need("qwen2.5:7b-instruct", 5.7)],
                    [], FOUR_GB)
    assert result.status is Status.DOWN
    assert "llama3:8b-instruct-q4_K_M needs about 5.9 GB" in result.detail


def test_one_small_model_fits_a_4_gb_vps() -> None:
    result = assess([need("qwen2.5:3b-instruct", 2.4)], [], FOUR_GB)
    assert result.status is Status.OK and "2.4 GB" in result.detail


def test_two_that_fit_alone_but_not_together_warn() -> None:
    result = assess([need("a:3b", 2.4), need("b:3b", 2.4)], ["c:custom"], FOUR_GB)
    assert result.status is Status.DEGRADED
    assert "4.8 GB together" in result.detail and "size unknown: c:custom" in result.detail


def test_the_reserve_counts() -> None:
    exactly = (FOUR_GB.total - RESERVED) / GB
    assert assess([need("a", exactly)], [], FOUR_GB).status is Status.OK
    assert assess([need("a", exactly + 0.01)], [], FOUR_GB).status is Status.DOWN


@pytest.mark.parametrize(("files", "limit"), [
    ({"memory.max": "2147483648\n"}, 2147483648),
    ({"memory.max": "max\n"}, None),
    ({"memory/memory.limit_in_bytes": "1073741824\n"}, 1073741824),
    ({"memory/memory.limit_in_bytes": "9223372036854771712\n"}, None),  # v1 "unlimited"
    ({}, None),
])
def test_cgroup_limits_v1_and_v2(tmp_path: Path, files: dict[str, str],
                                 limit: int | None) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert cgroup_limit(tmp_path) == limit
