"""``libra chat``: a terminal conversation over the same plugins as the bot.

On a terminal it shows a prompt, streams tokens, and Ctrl-C stops the running
generation (twice at the prompt, or Ctrl-D, quits). When stdin is not a terminal it
reads one message per line and prints each reply on stdout (meta and errors on
stderr), so it can be scripted.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import threading
from collections.abc import Coroutine, Iterator
from typing import Any, TextIO

from libra.chat.api import ChatService, ChatTurn
from libra.chat.messages import has_message, user_message
from libra.chat.terminal import ControlFilter, strip_controls
from libra.errors import (
    InputTooLong,
    LibraError,
    LLMServerError,
    LLMUnreachable,
    MemoryIdInvalid,
    ModelMissing,
    StreamCut,
    UnknownLanguage,
)
from libra.events import MessageSource
from libra.language.api import LanguageService
from libra.output import write_data
from libra.storage.api import MemoryScope, MessageStatus, Place

CONSOLE_USER_ID = 0
"""The console's user (0 is never a Discord snowflake, so it cannot collide)."""
CONSOLE_CHANNEL_ID = 0
"""The console's channel."""
CONSOLE_PLACE = Place(MemoryScope.CONSOLE)
"""Where the console's memories are used: in the console only."""

HELP = """commands:
  /lang [show|set CODE|auto]  show or pin the reply language (/lang CODE pins too)
  /reset                      start a fresh conversation
  /memory                     show what Libra remembers about you
  /memory remember TEXT       remember something (used in the console only)
  /memory forget [ID]         forget one memory, or all
  /help                       this text
  /quit                       leave (or Ctrl-D)
Ctrl-C stops an answer without leaving."""


def no_llm_help(err: LibraError, model: str, backend: str = "ollama") -> str:
    """Exactly what to do when no model answers."""
    if isinstance(err, ModelMissing):
        return f"The LLM server does not have {model}. Fix: ollama pull {model}"
    start = (f"start Ollama (https://ollama.com) and run\n  ollama pull {model}"
             if backend == "ollama" else
             "start your OpenAI-compatible server (llama.cpp, vLLM, LM Studio) or fix "
             "LIBRA_LLM__SERVERS")
    return (
        f"No LLM server answered ({err.message}). Either {start}\n"
        "or use the embedded model, which needs no server:\n"
        "  LIBRA_LLM__BACKEND=embedded libra chat   (installed by scripts/run)"
    )


class _LineReader:
    """Reads stdin on a daemon thread so quitting never waits for a pending line."""

    def __init__(self, stream: TextIO) -> None:
        self._queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._loop = asyncio.get_running_loop()
        self._stream = stream
        threading.Thread(target=self._pump, name="libra-console-stdin", daemon=True).start()

    def _pump(self) -> None:
        try:
            for line in self._lines():
                self._loop.call_soon_threadsafe(self._queue.put_nowait, line)
        finally:
            # End of input even if reading failed: the console must never wait forever.
            self._loop.call_soon_threadsafe(self._queue.put_nowait, None)

    def _lines(self) -> Iterator[str]:
        # Bytes that are not valid in the stream's encoding (a Latin-1 file piped in)
        # become U+FFFD: a strict text stream would kill this thread, and the C
        # locale's surrogate escapes would fail later when the text is encoded.
        raw = getattr(self._stream, "buffer", None)
        if raw is None:
            yield from self._stream
            return
        encoding = getattr(self._stream, "encoding", None) or "utf-8"
        for line in raw:
            yield line.decode(encoding, "replace").replace("\r\n", "\n")

    async def readline(self) -> str | None:
        return await self._queue.get()


class Console:
    """The interactive (or scripted) conversation loop."""

    def __init__(self, chat: ChatService, language: LanguageService, *,
                 stdin: TextIO | None = None, stdout: TextIO | None = None,
                 stderr: TextIO | None = None, interactive: bool | None = None,
                 backend: str = "ollama") -> None:
        self._chat = chat
        self._language = language
        # Looked up now, not at import: the CLI wraps stdout and stderr to redact them.
        self._in = stdin or sys.stdin
        self._out = stdout or sys.stdout
        self._err = stderr or sys.stderr
        self._tty = self._in.isatty() if interactive is None else interactive
        # A terminal executes escape sequences: a reply must not drive it.
        self._screen = self._out.isatty()
        self._backend = backend
        self._generating = False
        self._interrupts = 0
        self._quit = asyncio.Event()
        self.failures = 0

    def _meta(self, text: str, *, data: bool = False) -> None:
        # Meta lines go to the terminal, or to stderr so scripted stdout holds replies only.
        stream = self._out if self._tty else self._err
        line = (strip_controls(text) if stream.isatty() else text) + "\n"
        if data:
            # The user's own words (a memory), like a reply: configured secrets are masked,
            # secret shapes are not ("key: C minor" is no key).
            write_data(stream, line)
        else:
            stream.write(line)
        stream.flush()

    def _on_sigint(self) -> None:
        if self._generating:
            asyncio.ensure_future(self._chat.stop(CONSOLE_CHANNEL_ID))  # noqa: RUF006
            return
        self._interrupts += 1
        if self._interrupts >= 2:
            self._quit.set()
        else:
            self._meta("\n(press Ctrl-C again or Ctrl-D to quit)")

    async def run(self) -> int:
        """Converse until end of input or /quit; return the exit code."""
        loop = asyncio.get_running_loop()
        if self._tty:
            loop.add_signal_handler(signal.SIGINT, self._on_sigint)
            self._meta("Libra console — type a message, /help for commands, Ctrl-D to quit.")
        reader = _LineReader(self._in)
        try:
            while not self._quit.is_set():
                if self._tty:
                    self._out.write("you> ")
                    self._out.flush()
                line = await _first(reader.readline(), self._quit.wait())
                if line is None:
                    break
                self._interrupts = 0
                text = line.rstrip("\n")
                if not text.strip() and not self._tty:
                    continue
                if text.strip().startswith("/"):
                    if not await self._command(text.strip()):
                        break
                    continue
                await self._turn(text)
        finally:
            if self._tty:
                loop.remove_signal_handler(signal.SIGINT)
                self._out.write("\n")
        return 1 if self.failures else 0

    async def _turn(self, text: str) -> None:
        turn = ChatTurn(user_id=CONSOLE_USER_ID, channel_id=CONSOLE_CHANNEL_ID, guild_id=None,
                        text=text, source=MessageSource.CONSOLE)
        current = await self._language.current(CONSOLE_CHANNEL_ID)
        try:
            stream = await self._chat.reply(turn)
        except InputTooLong as err:
            self._error(user_message(err.code, current.language, length=err.length,
                                     limit=err.limit))
            return
        except LibraError as err:
            self._error(user_message(err.code, current.language))
            return
        if stream.notice:
            self._meta(stream.notice)
        self._meta(f"[{stream.language} · {stream.model}]")
        if self._tty:
            self._out.write("libra> ")
        self._generating = True
        # A terminal sees tokens as they come; a script gets each reply in one piece,
        # so an answer that restarts on another LLM server never leaves a void half.
        held: list[str] = []
        restarts = stream.restarts
        screen = ControlFilter() if self._screen else None
        try:
            async for delta in stream:
                if stream.restarts != restarts:
                    restarts = stream.restarts
                    held.clear()
                    if screen is not None:
                        screen.end()
                    if self._tty:
                        self._out.write("\n")
                        self._meta("(the LLM server failed; another one answers again)")
                        self._out.write("libra> ")
                shown = delta if screen is None else screen.feed(delta)
                if self._tty:
                    write_data(self._out, shown)
                    self._out.flush()
                else:
                    held.append(shown)
            write_data(self._out, "".join(held))
            held.clear()
            if stream.result is not None and stream.result.status is MessageStatus.STOPPED:
                self._out.write(" " + user_message("stopped", stream.language))
            self._out.write("\n")
        except StreamCut:
            write_data(self._out, "".join(held) + "\n")
            self._error(user_message("llm_stream_cut", stream.language))
        except (LLMUnreachable, ModelMissing) as err:
            self._out.write("\n" if self._tty else "")
            self._error(no_llm_help(err, stream.model, self._backend))
        except LibraError as err:
            self._out.write("\n" if self._tty else "")
            if isinstance(err, LLMServerError):
                # The operator running the console needs the server's own words
                # ("CUDA out of memory"), not only the short user-facing message.
                self._error(f"{user_message(err.code, stream.language)} ({err})")
            elif has_message(err.code):
                self._error(user_message(err.code, stream.language, model=stream.model))
            else:
                # The generic text promises a log line and a reference the console has
                # neither of; whoever runs it wants the cause (a server's own words).
                self._error(f"the answer failed: {err}")
        finally:
            self._generating = False
            self._out.flush()

    def _error(self, text: str) -> None:
        self.failures += 1
        stream, line = ((self._out, f"! {text}\n") if self._tty
                        else (self._err, f"libra: {text}\n"))
        # It may quote an LLM server's own words: a terminal must not execute them.
        stream.write(strip_controls(line) if stream.isatty() else line)
        stream.flush()

    async def _command(self, line: str) -> bool:
        """Run a console command; return False to quit."""
        name, _, rest = line.partition(" ")
        rest = rest.strip()
        try:
            if name in ("/quit", "/exit"):
                return False
            if name == "/help":
                self._meta(HELP)
            elif name == "/lang":
                await self._lang(rest)
            elif name == "/reset":
                await self._chat.reset(CONSOLE_USER_ID, CONSOLE_CHANNEL_ID)
                self._meta("Started a fresh conversation.")
            elif name == "/memory":
                await self._memory(rest)
            else:
                self._error(f"unknown command {name}; /help lists them")
        except UnknownLanguage as err:
            self._error(str(err))
        except InputTooLong as err:
            self._error(user_message(err.code, "en", length=err.length, limit=err.limit))
        except MemoryIdInvalid as err:
            self._error(user_message(err.code, "en", memory_id=err.memory_id))
        except LibraError as err:
            if has_message(err.code):
                self._error(user_message(err.code, "en") + f" ({err})")
            else:
                # The generic text promises a log reference the console has none of.
                self._error(f"{name} failed: {err}")
        return True

    async def _lang(self, arg: str) -> None:
        # Discord's words (show | set CODE | auto); a bare code pins too, as it always did.
        action, _, code = arg.partition(" ")
        if action == "show" and not code:
            arg = ""
        elif action == "set":
            if not code.strip():
                self._error("usage: /lang set CODE (e.g. /lang set ja), or /lang auto")
                return
            arg = code.strip()
        if not arg:
            state = await self._language.current(CONSOLE_CHANNEL_ID)
        else:
            state = await self._language.pin(CONSOLE_CHANNEL_ID,
                                             None if arg == "auto" else arg)
        mode = "pinned" if state.pinned else "auto"
        self._meta(f"reply language: {state.language} ({mode}) → "
                   f"{self._language.model_for(state.language)}")

    async def _memory(self, arg: str) -> None:
        action, _, text = arg.partition(" ")
        if action in ("", "show"):
            memories = await self._chat.memories(CONSOLE_USER_ID)
            if not memories:
                self._meta("I don't remember anything about you yet.")
            for memory in memories:
                self._meta(f"  #{memory.id}  [{memory.scope}] {memory.content}", data=True)
        elif action == "remember":
            if not text.strip():
                self._error("usage: /memory remember TEXT")
                return
            # The console is its own place: its memories never reach a Discord prompt.
            memory = await self._chat.remember(CONSOLE_USER_ID, text, place=CONSOLE_PLACE)
            self._meta(f"Remembered (#{memory.id}).")
        elif action == "forget":
            try:
                memory_id = int(text) if text.strip() else None
            except ValueError:
                self._error("usage: /memory forget [ID] (ID is a number from /memory)")
                return
            count = await self._chat.forget(CONSOLE_USER_ID, memory_id)
            self._meta(f"Forgot {count} memor{'y' if count == 1 else 'ies'}.")
        else:
            self._error("usage: /memory [show | remember TEXT | forget [ID]]")


async def _first(read: Coroutine[Any, Any, str | None],
                 quit_wait: Coroutine[Any, Any, object]) -> str | None:
    """The next line, or None when quitting was requested first."""
    reader = asyncio.ensure_future(read)
    quitter = asyncio.ensure_future(quit_wait)
    done, pending = await asyncio.wait({reader, quitter}, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    if reader in done:
        result: str | None = reader.result()
        return result
    return None
