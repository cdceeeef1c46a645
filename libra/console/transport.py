"""``libra chat``: a terminal conversation over the same services as the bot.

On a terminal it shows a prompt, streams tokens, and Ctrl-C stops the running
generation (twice at the prompt, or Ctrl-D, quits). When stdin is not a terminal it
reads one message per line and prints each reply on stdout (meta and errors on
stderr), so it can be scripted.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from typing import TextIO

from libra.chat.answer import answer_deltas, failure_message
from libra.chat.api import ChatService, ChatTurn
from libra.console.answer import TerminalAnswer, console_failure
from libra.console.identity import CONSOLE_CHANNEL_ID, CONSOLE_USER_ID
from libra.console.lines import LineReader, first_line
from libra.console.screen import Screen
from libra.console.slash import SlashCommands
from libra.errors import LibraError, StreamCut
from libra.events import MessageSource
from libra.language.api import LanguageService
from libra.llm.api import LLMService


class ConsoleTransport:
    """The interactive (or scripted) conversation loop."""

    def __init__(self, *, chat: ChatService, language: LanguageService, llm: LLMService,
                 stdin: TextIO | None = None, stdout: TextIO | None = None,
                 stderr: TextIO | None = None, interactive: bool | None = None) -> None:
        self._chat = chat
        self._language = language
        self._llm = llm
        # Looked up now, not at import: the CLI wraps stdout and stderr to redact them.
        self._in = stdin or sys.stdin
        out = stdout or sys.stdout
        tty = self._in.isatty() if interactive is None else interactive
        self._screen = Screen(out, stderr or sys.stderr, tty=tty)
        self._commands = SlashCommands(chat, language, self._screen)
        self._generating = False
        self._interrupts = 0
        self._quit = asyncio.Event()
        self._stopping: set[asyncio.Task[bool]] = set()

    @property
    def failures(self) -> int:
        """Errors shown so far (any makes the exit code 1)."""
        return self._screen.failures

    def _on_sigint(self) -> None:
        if self._generating:
            task = asyncio.get_running_loop().create_task(
                self._chat.stop(CONSOLE_CHANNEL_ID), name="console:stop")
            self._stopping.add(task)
            task.add_done_callback(self._stopping.discard)
            return
        self._interrupts += 1
        if self._interrupts >= 2:
            self._quit.set()
        else:
            self._screen.meta("\n(press Ctrl-C again or Ctrl-D to quit)")

    async def run(self) -> int:
        """Converse until end of input or /quit; return the exit code."""
        loop = asyncio.get_running_loop()
        screen = self._screen
        if screen.tty:
            loop.add_signal_handler(signal.SIGINT, self._on_sigint)
            screen.meta("Libra console — type a message, /help for commands, Ctrl-D to quit.")
        reader = LineReader(self._in)
        try:
            while not self._quit.is_set():
                if screen.tty:
                    screen.out.write("you> ")
                    screen.out.flush()
                line = await first_line(reader.readline(), self._quit.wait())
                if line is None:
                    break
                self._interrupts = 0
                text = line.rstrip("\n")
                if not text.strip() and not screen.tty:
                    continue
                if text.strip().startswith("/"):
                    if not await self._commands.run(text.strip()):
                        break
                    continue
                await self._turn(text)
        finally:
            if screen.tty:
                loop.remove_signal_handler(signal.SIGINT)
                screen.out.write("\n")
        return 1 if self.failures else 0

    async def _turn(self, text: str) -> None:
        screen = self._screen
        turn = ChatTurn(user_id=CONSOLE_USER_ID, channel_id=CONSOLE_CHANNEL_ID, guild_id=None,
                        text=text, source=MessageSource.CONSOLE)
        current = await self._language.current(CONSOLE_CHANNEL_ID)
        try:
            stream = await self._chat.reply(turn)
        except LibraError as err:
            # Refused input (empty, too long): the same words Discord would use.
            screen.error(failure_message(err, current.language, ref=turn.correlation_id))
            return
        if stream.notice:
            screen.meta(stream.notice)
        screen.meta(f"[{stream.language} · {stream.model}]")
        if screen.tty:
            screen.out.write("libra> ")
        self._generating = True
        view = TerminalAnswer(screen, stream.language, filter_controls=screen.out.isatty())
        try:
            async for delta in answer_deltas(stream, view):
                view.show(delta)
            view.finish()
        except StreamCut as err:
            view.cut()
            screen.error(failure_message(err, stream.language, ref=turn.correlation_id,
                                         model=stream.model))
        except LibraError as err:
            view.abandon()
            screen.error(console_failure(err, stream.language, ref=turn.correlation_id,
                                         model=stream.model, backend=self._llm.backend_kind()))
        finally:
            self._generating = False
            screen.out.flush()
