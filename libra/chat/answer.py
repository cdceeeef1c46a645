"""How an answer is shown, whatever the transport shows it on.

Discord (``discord/conversation.py``) and the console (``console/``) follow one set of
rules, kept here so they cannot drift apart:

- **restart**: when the reply's LLM server fails over, the text shown so far is void
  and the view starts over (:meth:`AnswerView.restart`);
- **stop**: a stopped reply ends with what arrived plus the localized "(stopped)"
  marker (:meth:`AnswerView.stop`, :func:`stopped_marker`);
- **failure**: every error becomes one short message in the reply's language
  (:func:`failure_message`).

No transport import here: a view is anything with ``restart`` and ``stop``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from libra.chat.api import ReplyStream
from libra.chat.messages import user_message
from libra.errors import LibraError, ModelMissing
from libra.storage.api import MessageStatus


class AnswerView(Protocol):
    """What shows an answer as it streams (a Discord message, a terminal)."""

    def restart(self) -> None:
        """The answer starts over: what was shown of it is void."""
        ...

    def stop(self) -> None:
        """The answer was stopped: end it with the stopped marker."""
        ...


async def answer_deltas(stream: ReplyStream, view: AnswerView) -> AsyncIterator[str]:
    """The text deltas of ``stream``, telling ``view`` when the answer restarts or stopped.

    ``restart`` comes before the first delta of the new answer; ``stop`` after the
    last delta of a stopped one. A failure propagates from the stream unchanged.
    """
    restarts = stream.restarts
    async for delta in stream:
        if stream.restarts != restarts:  # failed over: the text so far is void
            restarts = stream.restarts
            view.restart()
        yield delta
    if stream.result is not None and stream.result.status is MessageStatus.STOPPED:
        view.stop()


def stopped_marker(language: str) -> str:
    """The words that end a stopped answer, in ``language`` (each transport styles them)."""
    return user_message("stopped", language)


def failure_message(
    err: BaseException, language: str, *, ref: str, model: str | None = None,
) -> str:
    """The short, specific message a user sees for ``err`` in ``language``."""
    if not isinstance(err, LibraError):
        return user_message("unexpected", language, ref=ref)
    values: dict[str, object] = {"ref": ref, "model": model or "?"}
    if isinstance(err, ModelMissing) and model is None:
        values["model"] = getattr(err, "model", "?")
    for name in ("seconds", "limit", "length", "memory_id"):
        if hasattr(err, name):
            values[name] = getattr(err, name)
    return user_message(err.code, language, **values)
