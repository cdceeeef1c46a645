"""A stray backtick must not hold back the speech of the rest of the answer."""

from __future__ import annotations

from libra.voice.sentences import SentenceSplitter

ANSWER = ("Press the ` key to open the console. Then type the command and press enter. "
          "The game saves your settings when you close it. You can change them later "
          "in the options menu, under controls. ")


def test_sentences_after_a_stray_backtick_come_as_they_end() -> None:
    splitter = SentenceSplitter()
    units: list[str] = []
    for word in ANSWER.split(" "):  # streamed word by word, as an LLM writes
        units += splitter.push(word + " ")

    assert units[:3] == [
        "Press the ` key to open the console.",
        "Then type the command and press enter.",
        "The game saves your settings when you close it.",
    ]


def test_a_real_inline_span_is_still_one_piece() -> None:
    splitter = SentenceSplitter()
    units = splitter.push("Run `make test. all` first. Then push.")

    assert units == ["Run `make test. all` first."]
    assert splitter.flush() == "Then push."
