"""The memory arithmetic behind ``libra doctor``'s ``llm memory`` row."""

from __future__ import annotations

from pathlib import Path

import psutil  # type: ignore[import-untyped]
import pytest
import yaml
from pydantic import ValidationError

from libra.config import LLMSettings
from libra.config_sources import load_settings
from libra.health import Status
from libra.llm.fit import GB, RESERVED, Memory, ModelNeed, assess, memory_for
from tests.unit.core.test_compose import REPO, env_example, interpolated, libra_environment

FOUR_GB = Memory(4 * GB, "this machine's memory (4.0 GB)")
GIB = 1024 ** 3
HOST = int(psutil.virtual_memory().total)


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


@pytest.mark.parametrize(("text", "size"), [
    ("3g", 3 * GIB), ("1400m", 1400 * 1024 ** 2), ("512M", 512 * 1024 ** 2),
    ("1.5g", int(1.5 * GIB)), ("2gb", 2 * GIB), ("4GiB", 4 * GIB), ("1073741824", GIB),
])
def test_the_memory_limit_reads_sizes_as_docker_does(text: str, size: int) -> None:
    # Compose passes OLLAMA_MEMORY, which Docker reads in binary units (1g = 1024^3).
    assert LLMSettings(memory_limit=text).memory_limit == size


@pytest.mark.parametrize("text", ["3 apples", "g", "-1g", "0"])
def test_a_bad_memory_limit_is_refused_with_the_accepted_form(text: str) -> None:
    with pytest.raises(ValidationError, match=r"a size such as 3g or 1400m"):
        LLMSettings(memory_limit=text)


def compose_settings(tmp_path: Path, **env: str) -> LLMSettings:
    """The ``libra`` service's LLM settings as compose.yaml gives them, with ``env``."""
    data = yaml.safe_load((REPO / "compose.yaml").read_text(encoding="utf-8"))
    compose = interpolated(data, env_example() | env)
    return load_settings(env=libra_environment(compose, tmp_path)).llm


@pytest.mark.parametrize(("ollama_memory", "budget"), [("3g", 3 * GIB),
                                                        ("1400m", 1400 * 1024 ** 2)])
def test_in_compose_ollama_is_judged_by_its_own_limit(tmp_path: Path, ollama_memory: str,
                                                      budget: int) -> None:
    # libra reaches the ollama service by its one-word name; the machine's memory is
    # not Ollama's: compose caps that container at OLLAMA_MEMORY.
    llm = compose_settings(tmp_path, OLLAMA_MEMORY=ollama_memory)
    assert llm.memory_limit == budget
    memory = memory_for(llm.servers[0], budget=llm.memory_limit)
    assert memory is not None
    assert memory.total == min(HOST, budget)
    assert "llm.memory_limit" in memory.what
    # The limit is Ollama's alone: Libra and PostgreSQL have their own.
    assert memory.reserved == 0


def test_the_2_gb_profile_fits_ollamas_1400m() -> None:
    memory = memory_for("http://ollama:11434", budget=1400 * 1024 ** 2)
    assert memory is not None
    # qwen2.5:1.5b-instruct: 986 MB download, about 1.4 GB loaded.
    assert assess([need("qwen2.5:1.5b-instruct", 1.39)], [], memory).status is Status.OK


def test_the_budget_never_exceeds_the_machine() -> None:
    memory = memory_for("http://127.0.0.1:11434", budget=HOST * 2)
    assert memory is not None and memory.total == HOST
    assert memory.reserved == RESERVED  # the machine's: shared with Libra and the rest


def test_without_a_budget_loopback_and_one_word_hosts_get_the_machines_memory() -> None:
    for url in ("http://127.0.0.1:11434", "http://localhost:11434", "http://ollama:11434"):
        memory = memory_for(url)
        assert memory is not None and memory.total == HOST, url


def test_a_remote_ollama_is_judged_by_the_budget_only_when_one_is_given() -> None:
    assert memory_for("http://gpu.example.net:11434") is None
    memory = memory_for("http://gpu.example.net:11434", budget=8 * GIB)
    assert memory is not None and memory.total == 8 * GIB and memory.reserved == 0
