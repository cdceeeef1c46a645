"""SentenceSplitter: units as soon as they end, never fooled, nothing lost."""

from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from libra.voice.sentences import SentenceSplitter, split_sentences
from libra.voice.speakable import speakable


def stream(text: str, step: int = 1, **options: int | None) -> list[str]:
    splitter = SentenceSplitter(**options)  # type: ignore[arg-type]
    units: list[str] = []
    for k in range(0, len(text), step):
        units.extend(splitter.push(text[k:k + step]))
    rest = splitter.flush()
    return [*units, rest] if rest else units


@pytest.mark.parametrize("step", [1, 4, 1000])
def test_sentences_end_at_their_marks_whatever_the_chunking(step: int) -> None:
    text = "Hello there. How are you? I'm fine! See you."
    assert stream(text, step) == ["Hello there.", "How are you?", "I'm fine!", "See you."]


def test_a_sentence_is_out_as_soon_as_the_next_word_starts() -> None:
    splitter = SentenceSplitter()
    assert splitter.push("The capital is Paris") == []
    assert splitter.push(".") == []  # could still be "Paris.com" or "3.14"
    assert splitter.push(" It") == ["The capital is Paris."]
    assert splitter.flush() == "It"


@pytest.mark.parametrize("text", [
    "Pi is about 3.14 and e is 2.71 today.",
    "Dr. Smith met Mr. Jones and Mrs. Brown at noon.",
    "Use fruit, e.g. apples, i.e. the red ones, for this.",
    "She moved to the U.S. and then to Canada.",
    "Open https://example.com/a.b?c=1&d=2 in a browser.",
    "It starts at 9 a.m. and ends at 5 p.m. sharp.",
    "Well... maybe later, we will see.",
    "Call `os.path.join. Then` with two paths.",
    "Prices rose 1,000 points at 12:30 today.",
])
def test_not_fooled(text: str) -> None:
    assert stream(text, first_clause_chars=None) == [text]


def test_list_numbers_do_not_end_sentences_but_items_do() -> None:
    text = "Steps:\n1. Preheat the oven.\n2. Mix the flour\n3. Bake\n\nDone."
    assert stream(text) == ["Steps:", "1. Preheat the oven.", "2. Mix the flour", "3. Bake",
                            "Done."]


def test_headings_and_table_rows_are_units_and_soft_wraps_are_not() -> None:
    text = "# Title\nThe capital of\nFrance is Paris.\n| a | b |\n| 1 | 2 |\n"
    assert stream(text) == ["# Title", "The capital of\nFrance is Paris.", "| a | b |",
                            "| 1 | 2 |"]


@pytest.mark.parametrize(("text", "units"), [
    ("안녕하세요. 만나서 반갑습니다! 오늘은 뭐 해요?",
     ["안녕하세요.", "만나서 반갑습니다!", "오늘은 뭐 해요?"]),
    ("今日は良い天気です。明日も晴れるでしょう！本当？",
     ["今日は良い天気です。", "明日も晴れるでしょう！", "本当？"]),
    ("你好。谢谢你！「好的。」再见。", ["你好。", "谢谢你！", "「好的。」", "再见。"]),
    ("Bonjour ! Ça va ? Oui.", ["Bonjour !", "Ça va ?", "Oui."]),
    ("Привет. Как дела? Хорошо, т.е. отлично.", ["Привет.", "Как дела?",
                                                  "Хорошо, т.е. отлично."]),
])
def test_multilingual(text: str, units: list[str]) -> None:
    assert stream(text) == units


def test_a_code_block_is_one_unit_even_split_across_deltas() -> None:
    text = ("Here is the code:\n```python\nx = 3.14. \nprint('Done. Next!')\n\n"
            "y = 2\n```\nRun it. Then relax.")
    expected = ["Here is the code:",
                "```python\nx = 3.14. \nprint('Done. Next!')\n\ny = 2\n```",
                "Run it.", "Then relax."]
    for step in (1, 2, 3, 7, 1000):
        assert stream(text, step) == expected


def test_prose_right_before_a_fence_is_its_own_unit_and_an_unclosed_fence_flushes() -> None:
    splitter = SentenceSplitter()
    assert splitter.push("Like this\n~~~~\nprint(1). X\n") == ["Like this"]
    assert splitter.in_code_block
    assert splitter.push("~~~\nmore") == []  # a shorter fence does not close it
    assert splitter.flush() == "~~~~\nprint(1). X\n~~~\nmore"


def test_a_long_sentence_is_cut_at_a_clause_then_at_a_space() -> None:
    clauses = ", ".join(f"then item number {n} comes along" for n in range(12)) + "."
    units = stream(clauses, 3, first_clause_chars=None)
    assert len(units) > 2
    assert all(u.endswith((",", ".")) for u in units)
    assert all(len(u) <= 150 + 40 for u in units)
    words = " ".join(["word"] * 120)
    units = stream(words, 5, first_clause_chars=None)
    assert len(units) >= 2 and all(len(u) <= 250 for u in units)
    assert " ".join(units) == words


def test_text_without_spaces_is_cut_too() -> None:
    text = "가" * 200  # 600 weighted characters, no space, no mark
    units = stream(text, 10)
    assert len(units) >= 2 and "".join(units) == text


def test_the_first_unit_may_be_a_clause_but_later_ones_are_sentences() -> None:
    text = ("Sure, the capital of France is Paris, a city on the Seine that has many "
            "museums and parks. It is big, old, and very beautiful, with lots to see.")
    units = stream(text, 3, first_clause_chars=30)
    assert units[0] == "Sure, the capital of France is Paris,"
    assert units[1:] == ["a city on the Seine that has many museums and parks.",
                         "It is big, old, and very beautiful, with lots to see."]
    assert stream(text, 3, first_clause_chars=None)[0].endswith("parks.")


def test_flush_empty_and_reuse() -> None:
    splitter = SentenceSplitter()
    assert splitter.push("  \n ") == []
    assert splitter.flush() is None
    assert splitter.push("Again. And") == ["Again."]
    assert splitter.flush() == "And"
    assert split_sentences("One. Two.") == ["One.", "Two."]


# --- properties ----------------------------------------------------------------------

_PROSE = st.sampled_from([
    "Hello there.", "Is it 3.14?", "Dr. Who said hi!", "Visit https://a.b/c.d now.",
    "Use `a.b()` here.", "1. First item", "- a bullet", "# A heading", "Wait...",
    "and then, later,", "e.g. this one", "안녕하세요.", "こんにちは。", "你好！", "so", "**bold**.",
    "a long clause without any end that keeps going and going and going and going",
])
_CODE = st.sampled_from(["```\nx = 1. Y = 2!\n```", "```py\nprint('a. b')\n\n```",
                         "~~~\nSECRET. CODE?\n~~~"])
_SEPARATORS = st.sampled_from([" ", "\n", "\n\n", "  "])


@st.composite
def answers(draw: st.DrawFn) -> str:
    parts = draw(st.lists(st.one_of(_PROSE, _PROSE, _PROSE, _CODE), min_size=1, max_size=12))
    text = ""
    for part in parts:
        text += part + draw(_SEPARATORS) if not part.startswith(("```", "~~~")) else (
            ("\n" if text and not text.endswith("\n") else "") + part + "\n")
    return text


@st.composite
def chunked(draw: st.DrawFn) -> tuple[str, list[str]]:
    text = draw(answers())
    cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=20)))
    bounds = [0, *cuts, len(text)]
    return text, [text[a:b] for a, b in itertools.pairwise(bounds)]


def _feed(chunks: list[str], first: int | None = 40) -> list[str]:
    splitter = SentenceSplitter(first_clause_chars=first)
    units = [u for chunk in chunks for u in splitter.push(chunk)]
    rest = splitter.flush()
    return [*units, rest] if rest else units


@settings(max_examples=300, deadline=None)
@given(chunked())
def test_nothing_is_lost_and_the_chunking_does_not_matter(case: tuple[str, list[str]]) -> None:
    text, chunks = case
    units = _feed(chunks)
    assert re.sub(r"\s", "", "".join(units)) == re.sub(r"\s", "", text)
    assert units == _feed([text])
    for unit in units:  # a fence is never cut: a unit holds whole blocks or none
        fences = [line for line in unit.split("\n") if line.strip().startswith(("```", "~~~"))]
        assert len(fences) % 2 == 0, unit


@settings(max_examples=200, deadline=None)
@given(chunked())
def test_every_prose_word_is_spoken_and_no_code_is(case: tuple[str, list[str]]) -> None:
    text, chunks = case
    spoken = " ".join(speakable(unit, "en") for unit in _feed(chunks))
    assert "SECRET" not in spoken and "print" not in spoken and "```" not in spoken
    prose = re.sub(r"(```|~~~).*?\1\n", " ", text, flags=re.DOTALL)
    for word in re.findall(r"[^\W\d_]{3,}", re.sub(r"https?://\S+", "", prose)):
        assert word in spoken, (word, spoken)
