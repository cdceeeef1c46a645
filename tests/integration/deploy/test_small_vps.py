"""``config/small-vps.toml``: valid settings, and ``libra doctor`` says its model fits.

``libra doctor`` runs as a real process against a fake Ollama that reports Ollama's
download sizes, with the memory compose gives Ollama on a 2 GB or 4 GB VPS
(``OLLAMA_MEMORY``, passed to Libra as ``LIBRA_LLM__MEMORY_LIMIT``, as .env.example
sets them). The in-process test also covers the whole-machine figures.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from libra.config import docker_size
from libra.config_sources import load_settings
from libra.health import Status
from libra.llm.fit import Memory, assess, model_needs
from libra.llm.readiness import routed_models
from tests.fakes.conftest_llm import FakeOllamaFactory
from tests.integration.test_doctor import GOOD_TOKEN, row

REPO = Path(__file__).resolve().parents[3]
PROFILE = REPO / "config" / "small-vps.toml"
SIZES = {"qwen2.5:1.5b-instruct": 986_000_000, "qwen2.5:3b-instruct": 1_900_000_000}
"""Ollama's q4_K_M downloads (the library pages; also fit.KNOWN_SIZES)."""
GB = 1_000_000_000
FOUR_GB_MODEL = {"LIBRA_LLM__DEFAULT_MODEL": "qwen2.5:3b-instruct"}
"""What .env.example and the profile tell a 4 GB VPS to choose."""


async def doctor_with_memory(tmp_path: Path, ollama_memory: str, ollama_url: str,
                             pg_url: str, **env: str) -> str:
    """``libra doctor --config config/small-vps.toml`` as compose runs it."""
    full_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path),
                "LIBRA_DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": str(REPO),
                "DATABASE_URL": pg_url, "LIBRA_LLM__SERVERS": ollama_url,
                "LIBRA_LLM__MEMORY_LIMIT": ollama_memory, "DISCORD_TOKEN": GOOD_TOKEN, **env}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "libra", "doctor", "--config", str(PROFILE),
        cwd=tmp_path, env=full_env, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), 90)
    return out.decode()


def test_the_profile_is_valid_settings_for_one_small_model() -> None:
    settings = load_settings(PROFILE, env={})
    assert routed_models(settings.llm.default_model, settings.llm.routes) == [
        "qwen2.5:1.5b-instruct"]
    assert settings.llm.max_concurrency == 1 and settings.llm.num_ctx == 2048
    assert settings.voice.languages == ("en",)
    assert settings.voice.stt_engine == "vosk"
    assert settings.voice.tts_voices == {"en": "en_US-joe-medium"}
    # The 4 GB choice comes from the environment, as compose passes it, and wins.
    bigger = load_settings(PROFILE, env=FOUR_GB_MODEL)
    assert routed_models(bigger.llm.default_model, bigger.llm.routes) == ["qwen2.5:3b-instruct"]


@pytest.mark.parametrize(("memory", "env", "status"), [
    (2 * GB, {}, Status.OK),
    (4 * GB, FOUR_GB_MODEL, Status.OK),
    (2 * GB, FOUR_GB_MODEL, Status.DOWN),  # the 4 GB choice on a 2 GB VPS: warned
])
async def test_the_assessment_of_the_profile(fake_ollama_factory: FakeOllamaFactory,
                                             memory: int, env: dict[str, str],
                                             status: Status) -> None:
    fake = await fake_ollama_factory(models=tuple(SIZES), model_sizes=SIZES)
    llm = load_settings(PROFILE, env=env).llm
    needs, unknown = await model_needs(fake.url, routed_models(llm.default_model, llm.routes))
    result = assess(needs, unknown, Memory(memory, f"a {memory // GB} GB VPS"))
    assert result.status is status, result


@pytest.mark.slow
@pytest.mark.parametrize(("ollama_memory", "env", "verdict"), [
    ("1400m", {}, "ok"),            # .env.example's 2 GB VPS
    ("3g", FOUR_GB_MODEL, "ok"),    # its 4 GB default
    ("1400m", FOUR_GB_MODEL, "FAIL"),
])
async def test_libra_doctor_says_whether_the_model_fits(
        tmp_path: Path, pg_url: str, fake_ollama_factory: FakeOllamaFactory,
        ollama_memory: str, env: dict[str, str], verdict: str) -> None:
    fake = await fake_ollama_factory(models=tuple(SIZES), model_sizes=SIZES)
    out = await doctor_with_memory(tmp_path, ollama_memory, fake.url, pg_url, **env)
    line = row(out, "llm memory")
    assert line.startswith(verdict), out
    budget = docker_size(ollama_memory)
    assert f"Ollama's llm.memory_limit ({budget / GB:.1f} GB)" in line, line
    print(line)
    model = env.get("LIBRA_LLM__DEFAULT_MODEL", "qwen2.5:1.5b-instruct")
    assert model in line
