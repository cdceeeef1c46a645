"""One answer in the console: the shared answer rules (:mod:`libra.chat.answer`) on a terminal.

A terminal sees tokens as they come; a script gets each reply in one piece, so an
answer that restarts on another LLM server never leaves a void half on stdout.
"""

from __future__ import annotations

from libra.chat.answer import failure_message, stopped_marker
from libra.chat.messages import has_message
from libra.console.screen import Screen
from libra.console.terminal import ControlFilter
from libra.errors import LibraError, LLMServerError, LLMUnreachable, ModelMissing
from libra.output import write_data

RESTART_NOTE = "(the LLM server failed; another one answers again)"


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


def console_failure(err: LibraError, language: str, *, ref: str, model: str,
                    backend: str) -> str:
    """What the console shows when an answer fails: Discord's message, plus the cause.

    Whoever runs the console is also the operator, so where Discord would show a
    short message and log the rest, the console says what to do or quotes the cause.
    """
    if isinstance(err, LLMUnreachable | ModelMissing):
        return no_llm_help(err, model, backend)
    if not has_message(err.code):
        # The generic text promises a log line and a reference the console has
        # neither of; whoever runs it wants the cause (a server's own words).
        return f"the answer failed: {err}"
    text = failure_message(err, language, ref=ref, model=model)
    if isinstance(err, LLMServerError):
        # The server's own words ("CUDA out of memory"), not only the short message.
        return f"{text} ({err})"
    return text


class TerminalAnswer:
    """Shows one streaming answer on the console; an :class:`~libra.chat.answer.AnswerView`."""

    def __init__(self, screen: Screen, language: str, *, filter_controls: bool) -> None:
        self._screen = screen
        self._language = language
        # A terminal executes escape sequences: a reply must not drive it.
        self._filter = ControlFilter() if filter_controls else None
        self._held: list[str] = []
        self._stopped = False

    def restart(self) -> None:
        """The answer starts over: drop the held text, and say so on a terminal."""
        self._held.clear()
        if self._filter is not None:
            self._filter.end()
        if self._screen.tty:
            self._screen.out.write("\n")
            self._screen.meta(RESTART_NOTE)
            self._screen.out.write("libra> ")

    def stop(self) -> None:
        """The answer was stopped: it ends with the localized marker."""
        self._stopped = True

    def show(self, delta: str) -> None:
        """Show ``delta`` now on a terminal, or hold it for the whole reply."""
        shown = delta if self._filter is None else self._filter.feed(delta)
        if self._screen.tty:
            write_data(self._screen.out, shown)
            self._screen.out.flush()
        else:
            self._held.append(shown)

    def finish(self) -> None:
        """The answer is complete (or stopped): end its line."""
        out = self._screen.out
        write_data(out, "".join(self._held))
        self._held.clear()
        if self._stopped:
            out.write(" " + stopped_marker(self._language))
        out.write("\n")

    def cut(self) -> None:
        """The stream broke off: keep what arrived, on its own line."""
        write_data(self._screen.out, "".join(self._held) + "\n")
        self._held.clear()

    def abandon(self) -> None:
        """The answer failed: what was held is void; a terminal ends the line."""
        self._held.clear()
        self._screen.out.write("\n" if self._screen.tty else "")
