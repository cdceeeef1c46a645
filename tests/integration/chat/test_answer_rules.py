"""The answer rules Discord and the console share (``libra.chat.answer``).

Restarts, the stop marker and failure messages are one set of rules: an answer that
fails over, is stopped or fails looks the same in a Discord message and in the
terminal, in the reply's language. Real chat service, real fake Ollama servers; the
Discord side is the real ``Responder`` writing to a recording outlet.
"""

from __future__ import annotations

import io
import os
import signal
from typing import Any

import pytest

from libra.chat.answer import answer_deltas, stopped_marker
from libra.chat.api import ChatTurn
from libra.console.transport import ConsoleTransport
from libra.discord.conversation import Outlet, Responder
from libra.discord.pacing import EditPacer
from tests.fakes.fake_ollama import FakeOllama

VOID = "this first answer dies on its server and never counts"
ANSWER = "the answer that another server gave in full"
KOREAN = "정말 고마워요, 좋은 하루 보내세요"


class RecordingView:
    """An ``AnswerView`` that records what the shared rules told it, in order."""

    def __init__(self) -> None:
        self.events: list[str] = []

    def restart(self) -> None:
        self.events.append("<restart>")

    def stop(self) -> None:
        self.events.append("<stop>")


class RecordingOutlet:
    """Discord's side of a reply as plain messages: what was sent and how it was edited."""

    def __init__(self, channel_id: int, on_send: Any = None) -> None:
        self.messages: list[str] = []
        self._on_send = on_send
        self.outlet: Outlet[int] = Outlet(send=self._send, edit=self._edit,
                                          channel_id=channel_id)

    async def _send(self, content: str) -> int:
        self.messages.append(content)
        if self._on_send is not None:
            await self._on_send()
        return len(self.messages) - 1

    async def _edit(self, handle: int, content: str) -> None:
        self.messages[handle] = content


def crash_the_first_answer(servers: list[FakeOllama]) -> None:
    """The first generation (on whichever server) dies after three tokens; later ones live."""
    calls = 0
    for server in servers:
        def answer(body: dict[str, Any], server: FakeOllama = server) -> str:
            nonlocal calls
            calls += 1
            server.disconnect_after = 3 if calls == 1 else None
            return VOID if calls == 1 else ANSWER
        server.answer_fn = answer


def responder(harness: Any) -> Responder:
    return Responder(chat=harness.chat, language=harness.language,
                     pacer=EditPacer(limit=1000, window=1.0, smooth=False),
                     bus=harness.app.bus)


def console(harness: Any, lines: str, *, interactive: bool = False,
            stdout: io.StringIO | None = None) -> tuple[ConsoleTransport, io.StringIO, io.StringIO]:
    out, err = stdout or io.StringIO(), io.StringIO()
    transport = ConsoleTransport(
        chat=harness.chat, language=harness.language, llm=harness.llm,
        stdin=io.StringIO(lines), stdout=out, stderr=err, interactive=interactive)
    return transport, out, err


async def test_a_failover_restart_voids_the_text_so_far_in_every_transport(
    make_chat: Any, fake_ollama_factory: Any, pg_url: str
) -> None:
    servers = [await fake_ollama_factory() for _ in range(2)]
    harness = await make_chat(servers[0], pg_url, servers=[s.url for s in servers])

    # The rule itself: the view hears "restart" right before the new answer's first text.
    crash_the_first_answer(servers)
    view = RecordingView()
    stream = await harness.start("explain it")
    async for delta in answer_deltas(stream, view):
        view.events.append(delta)
    restart = view.events.index("<restart>")
    assert view.events.count("<restart>") == 1
    assert VOID.startswith("".join(view.events[:restart]))
    assert "".join(view.events[restart + 1:]) == ANSWER

    # Discord: the message ends up holding the new answer only.
    crash_the_first_answer(servers)
    discord = RecordingOutlet(channel_id=2002)
    answer = await responder(harness).answer(
        ChatTurn(user_id=1001, channel_id=2002, guild_id=3003, text="explain it again"),
        discord.outlet)
    assert answer.status == "complete"
    assert discord.messages == [ANSWER]

    # The console: stdout holds the new answer only.
    crash_the_first_answer(servers)
    transport, out, err = console(harness, "explain it once more\n")
    assert await transport.run() == 0, err.getvalue()
    assert out.getvalue() == ANSWER + "\n"


async def test_a_stopped_answer_ends_with_the_same_localized_marker_everywhere(
    make_chat: Any, fake_ollama: FakeOllama, pg_url: str
) -> None:
    fake_ollama.tokens_per_second = 20
    harness = await make_chat(fake_ollama, pg_url)
    marker = stopped_marker("ko")
    assert marker != stopped_marker("en")  # the marker speaks the reply's language

    # The rule itself: "stop" comes after the last text of a stopped answer.
    view = RecordingView()
    stream = await harness.start(KOREAN, channel=2002)
    async for delta in answer_deltas(stream, view):
        view.events.append(delta)
        if len(view.events) == 2:
            await harness.chat.stop(2002)
    assert view.events[-1] == "<stop>" and view.events.count("<stop>") == 1

    # Discord: stopped once the first text shows; the message ends with the marker.
    async def stop_discord() -> None:
        await harness.chat.stop(4004)

    discord = RecordingOutlet(channel_id=4004, on_send=stop_discord)
    answer = await responder(harness).answer(
        ChatTurn(user_id=1001, channel_id=4004, guild_id=3003, text=KOREAN), discord.outlet)
    assert answer.status == "stopped"
    assert discord.messages[-1].endswith(f" *{marker}*")

    # The console: Ctrl-C once the first text shows; the line ends with the marker.
    class CtrlCOnFirstText(io.StringIO):
        pressed = False

        def write(self, text: str) -> int:
            written = super().write(text)
            if self.getvalue().endswith("libra> ") or not text or self.pressed:
                return written
            if "libra> " in self.getvalue():
                self.pressed = True
                os.kill(os.getpid(), signal.SIGINT)  # the console's own Ctrl-C handler
            return written

    transport, out, _ = console(harness, KOREAN + "\n", interactive=True,
                                stdout=CtrlCOnFirstText())
    assert await transport.run() == 0
    [reply] = [line for line in out.getvalue().splitlines() if line.startswith("libra> ")]
    assert reply.endswith(f" {marker}")


@pytest.mark.parametrize("failure", ["server_error", "cut"])
async def test_the_console_shows_the_failure_message_discord_shows(
    make_chat: Any, fake_ollama: FakeOllama, pg_url: str, failure: str
) -> None:
    if failure == "server_error":
        fake_ollama.fail_status, fake_ollama.fail_message = 500, "CUDA out of memory"
    else:
        fake_ollama.disconnect_after = 3
    harness = await make_chat(fake_ollama, pg_url, failover_backoff=0)

    discord = RecordingOutlet(channel_id=2002)
    answer = await responder(harness).answer(
        ChatTurn(user_id=1001, channel_id=2002, guild_id=3003, text=KOREAN), discord.outlet)
    assert answer.status != "complete"
    shown_in_discord = discord.messages[-1]
    assert any("\uac00" <= char <= "\ud7a3" for char in shown_in_discord)  # in Korean

    transport, _, err = console(harness, KOREAN + "\n")
    assert await transport.run() == 1
    [line] = [line for line in err.getvalue().splitlines() if line.startswith("libra: ")]
    # The same words; the operator at the console also gets the server's own.
    assert line.startswith(f"libra: {shown_in_discord}")
    if failure == "server_error":
        assert "CUDA out of memory" in line
    else:
        assert line == f"libra: {shown_in_discord}"
