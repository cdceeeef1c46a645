"""The translation prompt: a fixed instruction, the glossary, the context, the text.

The instruction is in English (every routed model follows English instructions best)
and names the languages by their English names. The text to translate is the whole
user message: nothing else is in it, so a model that answers "Sure! Here is..." is
caught by the checks rather than encouraged by a conversational frame. Context lines
go in the system message, marked as context, so they are never translated themselves.
"""

from __future__ import annotations

from collections.abc import Sequence

from libra.language.names import english_name
from libra.llm.api import ChatMessage
from libra.translate.api import ContextMessage
from libra.translate.glossary import GlossaryPlan

MAX_CONTEXT_CHARS = 300
"""Each context line is cut to this: it only disambiguates, it is not translated."""

_RULES = """You are a professional translator. Translate the user's message from \
{source} into {target}.
Rules:
- Answer with the translation only: no preamble, no quotes, no notes, no explanations.
- Markers like ⟦0⟧, ⟦1⟧ stand for code, links, mentions, emoji or formatting. Copy every \
marker exactly once, unchanged, at the matching place in the translation.
- Keep the line breaks, the tone and the register (casual stays casual).
- Keep names of people, products and servers as they are.
- If a word has no translation, keep it as written."""


def system_prompt(*, source: str, target: str, plan: GlossaryPlan,
                  context: Sequence[ContextMessage], correction: str | None = None) -> str:
    """The system message of one translation request."""
    parts = [_RULES.format(source=english_name(source), target=english_name(target))]
    if plan.render:
        terms = "\n".join(f"- {term} → {rendering}" for term, rendering in plan.render)
        parts.append(f"Glossary (always translate these terms exactly like this):\n{terms}")
    if context:
        lines = "\n".join(f"{c.author}: {c.text[:MAX_CONTEXT_CHARS]}" for c in context)
        parts.append("Earlier messages of the conversation, for context only "
                     f"(do not translate them):\n{lines}")
    if correction:
        parts.append(f"Your previous translation was refused: {correction}. "
                     "Translate again and follow the rules exactly.")
    return "\n\n".join(parts)


def messages(text: str, *, source: str, target: str, plan: GlossaryPlan,
             context: Sequence[ContextMessage], correction: str | None = None,
             ) -> tuple[ChatMessage, ...]:
    """The whole prompt: the instruction, then the (shielded) text as the user message."""
    return (
        ChatMessage(role="system", content=system_prompt(
            source=source, target=target, plan=plan, context=context, correction=correction)),
        ChatMessage(role="user", content=text),
    )
