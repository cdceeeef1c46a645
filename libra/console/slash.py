"""The console's own commands: ``/lang``, ``/reset``, ``/memory``, ``/help``, ``/quit``."""

from __future__ import annotations

from libra.chat.answer import failure_message
from libra.chat.api import ChatService
from libra.chat.messages import has_message, user_message
from libra.console.identity import CONSOLE_CHANNEL_ID, CONSOLE_PLACE, CONSOLE_USER_ID
from libra.console.screen import Screen
from libra.errors import InputTooLong, LibraError, MemoryIdInvalid, UnknownLanguage
from libra.language.api import LanguageService

HELP = """commands:
  /lang [show|set CODE|auto]  show or pin the reply language (/lang CODE pins too)
  /reset                      start a fresh conversation
  /memory                     show what Libra remembers about you
  /memory remember TEXT       remember something (used in the console only)
  /memory forget [ID]         forget one memory, or all
  /help                       this text
  /quit                       leave (or Ctrl-D)
Ctrl-C stops an answer without leaving."""


class SlashCommands:
    """Runs one console command line against the chat and language services."""

    def __init__(self, chat: ChatService, language: LanguageService, screen: Screen) -> None:
        self._chat = chat
        self._language = language
        self._screen = screen

    async def run(self, line: str) -> bool:
        """Run a console command; return False to quit."""
        name, _, rest = line.partition(" ")
        rest = rest.strip()
        try:
            if name in ("/quit", "/exit"):
                return False
            if name == "/help":
                self._screen.meta(HELP)
            elif name == "/lang":
                await self._lang(rest)
            elif name == "/reset":
                await self._chat.reset(CONSOLE_USER_ID, CONSOLE_CHANNEL_ID)
                self._screen.meta("Started a fresh conversation.")
            elif name == "/memory":
                await self._memory(rest)
            else:
                self._screen.error(f"unknown command {name}; /help lists them")
        except UnknownLanguage as err:
            self._screen.error(str(err))
        except (InputTooLong, MemoryIdInvalid) as err:
            # The shared mapper fills in the error's fields (length, limit, memory_id).
            self._screen.error(failure_message(err, "en", ref=""))
        except LibraError as err:
            if has_message(err.code):
                self._screen.error(user_message(err.code, "en") + f" ({err})")
            else:
                # The generic text promises a log reference the console has none of.
                self._screen.error(f"{name} failed: {err}")
        return True

    async def _lang(self, arg: str) -> None:
        # Discord's words (show | set CODE | auto); a bare code pins too, as it always did.
        action, _, code = arg.partition(" ")
        if action == "show" and not code:
            arg = ""
        elif action == "set":
            if not code.strip():
                self._screen.error("usage: /lang set CODE (e.g. /lang set ja), or /lang auto")
                return
            arg = code.strip()
        if not arg:
            state = await self._language.current(CONSOLE_CHANNEL_ID)
        else:
            state = await self._language.pin(CONSOLE_CHANNEL_ID,
                                             None if arg == "auto" else arg)
        mode = "pinned" if state.pinned else "auto"
        self._screen.meta(f"reply language: {state.language} ({mode}) → "
                          f"{self._language.model_for(state.language)}")

    async def _memory(self, arg: str) -> None:
        action, _, text = arg.partition(" ")
        if action in ("", "show"):
            memories = await self._chat.memories(CONSOLE_USER_ID)
            if not memories:
                self._screen.meta("I don't remember anything about you yet.")
            for memory in memories:
                self._screen.meta(f"  #{memory.id}  [{memory.scope}] {memory.content}", data=True)
        elif action == "remember":
            if not text.strip():
                self._screen.error("usage: /memory remember TEXT")
                return
            # The console is its own place: its memories never reach a Discord prompt.
            memory = await self._chat.remember(CONSOLE_USER_ID, text, place=CONSOLE_PLACE)
            self._screen.meta(f"Remembered (#{memory.id}).")
        elif action == "forget":
            try:
                memory_id = int(text) if text.strip() else None
            except ValueError:
                self._screen.error("usage: /memory forget [ID] (ID is a number from /memory)")
                return
            count = await self._chat.forget(CONSOLE_USER_ID, memory_id)
            self._screen.meta(f"Forgot {count} memor{'y' if count == 1 else 'ies'}.")
        else:
            self._screen.error("usage: /memory [show | remember TEXT | forget [ID]]")
