"""Prompt assembly: system prompt, memories and recent turns within a token budget."""

from __future__ import annotations

from collections.abc import Sequence

from libra.llm.api import ChatMessage
from libra.storage.api import Memory, MessageStatus, Role, StoredMessage


def estimate_tokens(text: str) -> int:
    """A cheap, conservative token estimate that holds for Latin and CJK scripts.

    Latin text averages ~4 characters per token; CJK ideographs and Hangul are
    closer to one token per character. Counting UTF-8 bytes / 3 lands between the
    two and never badly underestimates, which is what a budget needs.
    """
    return max(1, (len(text.encode("utf-8")) + 2) // 3)


def memory_block(memories: Sequence[Memory]) -> str | None:
    """The memories as a system-prompt addendum, or ``None`` when there are none."""
    if not memories:
        return None
    lines = "\n".join(f"- {m.content}" for m in memories)
    return f"Things the user asked you to remember:\n{lines}"


def history_messages(history: Sequence[StoredMessage]) -> list[ChatMessage]:
    """Stored turns as prompt messages (failed replies carry no useful text)."""
    out: list[ChatMessage] = []
    for message in history:
        if message.status is MessageStatus.FAILED or not message.content:
            continue
        if message.role is Role.ASSISTANT:
            out.append(ChatMessage(role="assistant", content=message.content))
        else:
            out.append(ChatMessage(role="user", content=message.content))
    return out


def build_prompt(
    *,
    system_prompt: str,
    memories: Sequence[Memory],
    history: Sequence[ChatMessage],
    user_text: str,
    budget: int,
) -> tuple[ChatMessage, ...]:
    """System prompt (+ memories), then as many recent turns as fit, then the message.

    The system prompt and the new message are always included; memories come
    before history because users asked for them explicitly; history is filled
    newest first so the most recent context survives a tight budget.
    """
    system = system_prompt
    block = memory_block(memories)
    remaining = budget - estimate_tokens(system) - estimate_tokens(user_text)
    if block is not None and estimate_tokens(block) <= remaining:
        system = f"{system}\n\n{block}"
        remaining -= estimate_tokens(block)
    kept: list[ChatMessage] = []
    for message in reversed(history):
        cost = estimate_tokens(message.content)
        if cost > remaining:
            break
        kept.append(message)
        remaining -= cost
    kept.reverse()
    # A prompt must not start with an assistant turn after the system prompt.
    while kept and kept[0].role == "assistant":
        kept.pop(0)
    return (
        ChatMessage(role="system", content=system),
        *kept,
        ChatMessage(role="user", content=user_text),
    )
