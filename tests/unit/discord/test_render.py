"""Splitting answers into Discord messages: what a reader sees in each part."""

from __future__ import annotations

import random
import re

import pytest

from libra.discord.render import balanced_fences, split_message, wrap_tables

WORDS = [
    "alpha",
    "beta",
    "gamma",
    "delta",
    "epsilon",
    "zeta",
    "theta",
    "kappa",
    "lambda",
    "sigma",
    "omega",
]


def prose(words: int, seed: int) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) for _ in range(words))


def words_of(text: str) -> list[str]:
    """The words a reader sees, ignoring fence lines the splitter adds."""
    lines = [line for line in text.split("\n") if not line.strip().startswith("```")]
    return " ".join(lines).split()


def long_answer() -> str:
    code = "\n".join(f"def f{i}(x):\n    return x * {i}  # scaled" for i in range(45))
    return (
        prose(150, 1) + "\n\n" + f"```python\n{code}\n```" + "\n\n" + prose(130, 2) + "\n\nThe end."
    )


def test_a_3500_char_answer_with_code_is_split_cleanly() -> None:
    text = long_answer()
    assert 3300 < len(text) < 3800

    parts = split_message(text)

    assert len(parts) >= 2
    assert all(len(part) <= 2000 for part in parts)
    assert all(balanced_fences(part) for part in parts)
    assert words_of("\n".join(parts)) == words_of(text)
    vocabulary = set(WORDS) | set(words_of(text))
    for part in parts:
        assert set(words_of(part)) <= vocabulary  # no word cut in two


def test_a_code_block_cut_in_two_is_reopened_with_its_language() -> None:
    code = "\n".join(f"let value_{i} = compute({i});" for i in range(200))
    text = f"Here you go:\n\n```rust\n{code}\n```\nDone."

    parts = split_message(text)

    assert len(parts) == 3
    assert parts[0].endswith("\n```")
    assert parts[1].startswith("```rust\n") and parts[1].endswith("\n```")
    assert parts[2].startswith("```rust\n")
    assert all(balanced_fences(part) and len(part) <= 2000 for part in parts)
    code_lines = [
        line for part in parts for line in part.split("\n") if line.startswith("let value_")
    ]
    assert code_lines == code.split("\n")  # every line once, none broken


def test_paragraph_boundaries_are_preferred() -> None:
    first, second = prose(200, 3), prose(200, 4)
    assert len(first) < 2000 < len(first) + len(second)

    assert split_message(f"{first}\n\n{second}") == [first, second]


def test_a_word_longer_than_a_message_is_the_only_thing_cut() -> None:
    huge = "x" * 4500
    parts = split_message(f"before {huge} after")

    assert all(len(part) <= 2000 for part in parts)
    assert "".join(parts).replace(" ", "") == f"before{huge}after"
    assert parts[0] == "before"


def test_markdown_tables_are_wrapped_in_code_blocks() -> None:
    text = "Scores:\n| name | score |\n| --- | ---: |\n| ana | 3 |\n| bo | 5 |\nNice."

    assert wrap_tables(text) == (
        "Scores:\n```\n| name | score |\n| --- | ---: |\n| ana | 3 |\n| bo | 5 |\n```\nNice."
    )
    assert split_message(text) == [wrap_tables(text)]


def test_tables_inside_code_blocks_are_left_alone() -> None:
    text = "```\n| a | b |\n|---|---|\n```"

    assert wrap_tables(text) == text


def test_an_unclosed_block_is_closed_in_the_last_part() -> None:
    assert split_message("```py\nprint(1)") == ["```py\nprint(1)\n```"]


def test_short_and_empty_text() -> None:
    assert split_message("hello") == ["hello"]
    assert split_message("") == []
    assert split_message("\n\n") == []


@pytest.mark.parametrize("seed", range(20))
def test_random_markdown_always_gives_valid_parts(seed: int) -> None:
    rng = random.Random(seed)
    blocks = []
    for n in range(rng.randint(3, 12)):
        if rng.random() < 0.3:
            lang = rng.choice(["", "py", "sql"])
            body = "\n".join(prose(rng.randint(1, 12), seed * 100 + n + i) for i in range(40))
            blocks.append(f"```{lang}\n{body}\n```")
        else:
            blocks.append(prose(rng.randint(5, 400), seed * 100 + n))
    text = "\n\n".join(blocks)

    parts = split_message(text)

    assert all(0 < len(part) <= 2000 for part in parts)
    assert all(balanced_fences(part) for part in parts)
    assert words_of("\n".join(parts)) == words_of(text)
    assert not any(re.search(r"```\n```", part) for part in parts)  # no empty blocks


def test_a_tiny_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="too small"):
        split_message("text", limit=4)
