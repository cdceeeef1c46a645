"""The llm plugin: background warm-up, readiness, health and optional tracing."""

from __future__ import annotations

import socket
import time

import pytest

from libra.config import LangfuseSettings
from libra.errors import ModelMissing
from libra.events import ModelReady
from libra.health import Status
from tests.fakes.fake_ollama import FakeOllama
from tests.fakes.llm_stack import LLMStack, llm_stack, poll_until

ROUTES = {"ko": "qwen2.5:7b-instruct", "ja": "qwen2.5:7b-instruct"}


async def wait_ready(stack: LLMStack, count: int) -> list[ModelReady]:
    await poll_until(lambda: len(stack.ready) >= count, timeout=5)
    return stack.ready


async def test_every_routed_model_is_warmed_in_the_background(fake_ollama: FakeOllama) -> None:
    fake_ollama.warm_delay = 0.2
    async with llm_stack(servers=(fake_ollama.url,), warmup=True, routes=ROUTES,
                         default_model="llama3:8b-instruct-q4_K_M") as stack:
        # start() returned before the (slow) warm-up finished
        assert [s.ready for s in stack.service.readiness()] == [False, False]
        ready = await wait_ready(stack, 2)
        assert {(e.model, e.ready) for e in ready} == {("llama3:8b-instruct-q4_K_M", True),
                                                     ("qwen2.5:7b-instruct", True)}
        assert all(e.seconds >= 0.2 for e in ready)
        assert all(s.ready for s in stack.service.readiness())
        assert fake_ollama.loaded == {"llama3:8b-instruct-q4_K_M", "qwen2.5:7b-instruct"}
        warm_calls = [r.body for r in fake_ollama.requests if r.path == "/api/generate"]
        assert all(b["prompt"] == "" and b["keep_alive"] == "30m" for b in warm_calls)
        health = (await stack.health.run())[0]
        assert health.status is Status.OK
        assert "qwen2.5:7b-instruct" in health.detail


async def test_a_failed_warm_up_degrades_but_never_fails_the_plugin(
        fake_ollama: FakeOllama) -> None:
    async with llm_stack(servers=(fake_ollama.url,), warmup=True,
                         routes={"ko": "exaone:7.8b"}) as stack:
        ready = await wait_ready(stack, 2)
        missing = next(e for e in ready if e.model == "exaone:7.8b")
        assert not missing.ready and missing.error_code == "llm_model_missing"
        status = {s.model: s for s in stack.service.readiness()}
        assert not status["exaone:7.8b"].ready
        assert status["llama3:8b-instruct-q4_K_M"].ready
        health = (await stack.health.run())[0]
        assert health.status is Status.DEGRADED
        assert health.fix == "run `ollama pull exaone:7.8b`"
        text, _ = await stack.ask("still works")  # the plugin serves the other model
        assert text == fake_ollama.default_answer


async def test_a_model_pulled_after_start_is_shown_ready_once_it_answers(
        fake_ollama: FakeOllama) -> None:
    async with llm_stack(servers=(fake_ollama.url,), warmup=True,
                         routes={"ko": "exaone:7.8b"}) as stack:
        await wait_ready(stack, 2)
        assert (await stack.health.run())[0].status is Status.DEGRADED
        fake_ollama.models.add("exaone:7.8b")  # the operator ran `ollama pull`

        text, _ = await stack.ask("안녕하세요", model="exaone:7.8b")

        status = {s.model: s for s in stack.service.readiness()}
        health = (await stack.health.run())[0]
        fake_ollama.models.discard("exaone:7.8b")  # ... and later removed it again
        with pytest.raises(ModelMissing):
            await stack.ask("다시 안녕하세요", model="exaone:7.8b")
        again = {s.model: s for s in stack.service.readiness()}
    assert text == fake_ollama.default_answer
    assert status["exaone:7.8b"].ready and health.status is Status.OK
    assert not again["exaone:7.8b"].ready and "llm_model_missing" in again["exaone:7.8b"].detail


async def test_health_is_down_with_a_fix_when_no_server_answers() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    async with llm_stack(servers=(url,), warmup=True) as stack:
        await wait_ready(stack, 2)
        assert not any(s.ready for s in stack.service.readiness())
        assert all(e.error_code == "llm_unreachable" for e in stack.ready)
        health = (await stack.health.run())[0]
    assert health.status is Status.DOWN
    assert health.fix is not None and "ollama serve" in health.fix and url in health.fix


async def test_stop_cancels_a_warm_up_in_progress(fake_ollama: FakeOllama) -> None:
    fake_ollama.warm_delay = 5.0
    async with llm_stack(servers=(fake_ollama.url,), warmup=True) as stack:
        await poll_until(lambda: bool(fake_ollama.requests))
        stopping = time.perf_counter()
    assert time.perf_counter() - stopping < 2.0  # did not wait for the 5 s model load
    assert stack.ready == []


async def test_langfuse_keys_without_the_sdk_do_not_break_anything(
        fake_ollama: FakeOllama) -> None:
    try:
        import langfuse  # noqa: F401
    except ImportError:
        pass
    else:  # with the SDK installed the tracer is exercised instead
        print("langfuse is installed: tracer path runs against an unreachable host")
    settings = LangfuseSettings(public_key="pk-lf-test", secret_key="sk-lf-test",  # type: ignore[arg-type]
                                host="http://127.0.0.1:9")
    async with llm_stack(servers=(fake_ollama.url,), langfuse=settings, cache_ttl=0) as stack:
        text, _ = await stack.ask("traced?")
    assert text == fake_ollama.default_answer
