"""Chat edge cases a user would notice: abandoned replies, history, console."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from libra.storage.api import MessageStatus, Role
from tests.fakes.fake_ollama import FakeOllama
from tests.integration.chat.test_console import run_console


async def test_a_reply_its_reader_abandons_is_not_stored_as_complete(
    make_chat: Any, fake_ollama: FakeOllama, pg_url: str
) -> None:
    # A transport that gives up mid-answer (its Discord message failed, the voice
    # channel was left) closes the stream: only part of the answer was delivered.
    fake_ollama.default_answer = "one two three four five six seven eight nine ten " * 5
    fake_ollama.tokens_per_second = 50
    harness = await make_chat(fake_ollama, pg_url)
    stream = await harness.start("Count to ten for me please")
    deltas = aiter(stream)
    first = await anext(deltas)
    await deltas.aclose()  # type: ignore[attr-defined]
    await fake_ollama.wait_disconnect()
    assert stream.result is not None
    assert stream.result.status is MessageStatus.STOPPED
    await harness.settle()
    internal = await harness.storage.ensure_user(1001)
    session = await harness.storage.open_session(internal.id, 2002, 3003)
    stored = await harness.storage.recent_messages(session, 10)
    assert [(m.role, m.status) for m in stored][-1] == (Role.ASSISTANT, MessageStatus.STOPPED)
    assert stored[-1].content.startswith(first)


async def test_console_shows_what_the_llm_server_said(
    fake_ollama: FakeOllama, pg_url: str, tmp_path: Path
) -> None:
    # The console is the operator's tool: "(ref ?)" and a claim that it was logged
    # (the console logs only warnings) help nobody; the server's own words do.
    fake_ollama.fail_status = 500
    fake_ollama.fail_message = "CUDA out of memory"
    code, out, err = await run_console(
        ["hello there"], {"DATABASE_URL": pg_url, "LIBRA_LLM__SERVERS": fake_ollama.url},
        tmp_path)
    assert code == 1 and out == ""
    assert "CUDA out of memory" in err
    assert "ref ?" not in err
