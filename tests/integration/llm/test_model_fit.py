"""``libra doctor`` says when the routed models cannot fit in the memory it sees."""

from __future__ import annotations

from pathlib import Path

from libra.config import LLMSettings, Settings
from libra.health import Status
from libra.llm.fit import RESERVED, RUNTIME_EXTRA, check_model_fit, memory_for
from tests.fakes.conftest_llm import FakeOllamaFactory
from tests.fakes.fake_ollama import FakeOllama
from tests.integration.test_doctor import GOOD_TOKEN, doctor, row

SMALL = "qwen2.5:1.5b-instruct"
BIG = "qwen2.5:7b-instruct"


def settings_for(url: str, routes: dict[str, str]) -> Settings:
    return Settings(llm=LLMSettings(servers=(url,), default_model=SMALL, routes=routes))


def usable(url: str) -> int:
    memory = memory_for(url)
    assert memory is not None  # the fake listens on loopback
    return memory.total - RESERVED


async def test_models_that_fit_together_pass(fake_ollama_factory: FakeOllamaFactory) -> None:
    fake: FakeOllama = await fake_ollama_factory(
        models=(SMALL, BIG), model_sizes={SMALL: 986_000_000, BIG: 4_700_000_000})
    budget = usable(fake.url)
    [result] = await check_model_fit(settings_for(fake.url, {"ko": BIG}))
    expected = (986_000_000 + 4_700_000_000) * 1.15 + 2 * RUNTIME_EXTRA
    assert result.status is (Status.OK if expected < budget else Status.DEGRADED), result
    assert any(r.path == "/api/tags" for r in fake.requests)


async def test_models_too_big_together_warn_and_name_them(
    fake_ollama_factory: FakeOllamaFactory
) -> None:
    fake: FakeOllama = await fake_ollama_factory(models=(SMALL, BIG))
    # Each fits alone, both together do not: sizes from this machine's own memory.
    each = int(usable(fake.url) * 0.6 / 1.15)
    fake.model_sizes = {SMALL: each, BIG: each}
    [result] = await check_model_fit(settings_for(fake.url, {"ko": BIG, "ja": BIG}))
    assert result.status is Status.DEGRADED, result
    assert SMALL in result.detail and BIG in result.detail and "unload" in result.detail
    assert result.fix is not None and "one model can serve several languages" in result.fix


async def test_a_model_larger_than_memory_fails(fake_ollama_factory: FakeOllamaFactory) -> None:
    fake: FakeOllama = await fake_ollama_factory(models=(SMALL, BIG))
    fake.model_sizes = {SMALL: 986_000_000, BIG: 2 * usable(fake.url)}
    [result] = await check_model_fit(settings_for(fake.url, {"ko": BIG}))
    assert result.status is Status.DOWN, result
    assert BIG in result.detail and "cannot load" in result.detail


async def test_a_loaded_models_real_size_wins_over_its_download_size(
    fake_ollama_factory: FakeOllamaFactory
) -> None:
    fake: FakeOllama = await fake_ollama_factory(models=(SMALL,))
    fake.model_sizes = {SMALL: 2 * usable(fake.url)}
    fake.loaded.add(SMALL)  # /api/ps lists it with its footprint
    [result] = await check_model_fit(settings_for(fake.url, {}))
    assert result.status is Status.DOWN and "loaded, from Ollama" in result.detail


async def test_unreachable_ollama_uses_the_table_of_known_sizes() -> None:
    # Nothing listens on port 9 (discard): sizes come from the table.
    [result] = await check_model_fit(settings_for("http://127.0.0.1:9", {"ko": BIG}))
    assert "unknown" not in result.detail
    # qwen2.5:7b-instruct's 4.7 GB download, plus the runtime: about 5.7 GB.
    assert ("qwen2.5:7b-instruct 5.7 GB" in result.detail
            or "qwen2.5:7b-instruct needs about 5.7 GB" in result.detail), result
    [unknown] = await check_model_fit(
        Settings(llm=LLMSettings(servers=("http://127.0.0.1:9",), default_model="my-own:1b",
                                 routes={})))
    assert unknown.status is Status.OFF and "my-own:1b" in unknown.detail


async def test_a_remote_ollama_is_not_judged_by_this_machine() -> None:
    [result] = await check_model_fit(settings_for("http://gpu.example.net:11434", {}))
    assert result.status is Status.OFF and "another machine" in result.detail


async def test_doctor_shows_the_row(
    tmp_path: Path, pg_url: str, fake_ollama_factory: FakeOllamaFactory
) -> None:
    fake: FakeOllama = await fake_ollama_factory(models=("llama3:8b-instruct-q4_K_M", BIG))
    fake.model_sizes = {BIG: 2 * usable(fake.url)}
    code, out = await doctor(tmp_path, DATABASE_URL=pg_url, LIBRA_LLM__SERVERS=fake.url,
                             DISCORD_TOKEN=GOOD_TOKEN)
    assert row(out, "llm memory").startswith("FAIL"), out
    assert "qwen2.5:7b-instruct needs about" in out and "fix: route languages" in out
    assert code == 1
