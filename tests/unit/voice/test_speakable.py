"""speakable(): markdown answers become what a listener should hear."""

from __future__ import annotations

import pytest

from libra.voice.sentences import SentenceSplitter
from libra.voice.speakable import speakable


@pytest.mark.parametrize(("language", "said"), [
    ("en", "a code block."), ("ko", "코드 블록."), ("ja", "コードブロック。"),
    ("zh-cn", "代码块。"), ("zh-tw", "程式碼區塊。"), ("es", "un bloque de código."),
    ("fr", "un bloc de code."), ("de", "ein Codeblock."), ("ru", "блок кода."),
    ("pt", "um bloco de código."), ("pt-BR", "um bloco de código."),
    ("it", "un blocco di codice."), ("vi", "một khối mã."), ("sw", "a code block."),
])
def test_a_code_block_is_named_in_the_answer_language(language: str, said: str) -> None:
    assert speakable("```python\nprint('hi')\n```", language) == said
    assert speakable("```\nunclosed = True", language) == said


def test_code_in_the_middle_of_prose() -> None:
    text = "Here is the code:\n```js\nconsole.log('x');\n```\nRun it with **node**."
    assert speakable(text, "en") == "Here is the code: a code block. Run it with node."


def test_inline_code_is_read_as_its_words() -> None:
    assert (speakable("Set `max_retries` in `config.toml` or pass `--verbose`.", "en")
            == "Set max retries in config toml or pass verbose.")
    assert speakable("Call `getUserName()` first.", "en") == "Call get User Name first."


def test_links_are_read_by_name_and_bare_urls_by_site() -> None:
    assert speakable("See [the docs](https://docs.python.org/3/).", "en") == "See the docs."
    assert (speakable("Go to https://www.github.com/libra/libra?tab=1 now.", "en")
            == "Go to github.com now.")
    assert speakable("Source: <https://example.org/a>", "en") == "Source: example.org"
    assert speakable("![a cat on a mat](https://x.io/cat.png)", "en") == "a cat on a mat"


def test_emoji_and_discord_tokens_are_dropped() -> None:
    text = ("Thanks <@123456789012345678>! 😀👍🏽 <:blob:123456789012345678> "
            "<a:party:123456789012345678> see <#123456789012345678> ❤️ @everyone")
    assert speakable(text, "en") == "Thanks! see everyone"
    assert speakable("@here 모두 안녕!", "ko") == "여러분 모두 안녕!"
    assert speakable("🎉🎉", "en") == ""


def test_markup_becomes_prose_with_pauses() -> None:
    text = ("# Shopping list\n\n**Fresh** and *cheap* and ~~old~~ and __new__ ||secret||:\n"
            "- flour\n- sugar\n* [x] eggs\n\n---\n> quoted wisdom\n1. first\n2. second")
    assert speakable(text, "en") == (
        "Shopping list. Fresh and cheap and old and new secret: flour. sugar. eggs. "
        "quoted wisdom. 1. first. 2. second.")


def test_tables_are_read_row_by_row() -> None:
    text = "| Name | Age |\n|:-----|----:|\n| Bob | 3 |\n| Ann | 5 |"
    assert speakable(text, "en") == "Name, Age. Bob, 3. Ann, 5."


def test_entities_escapes_and_whitespace() -> None:
    assert speakable("Tom &amp; Jerry &lt;3\n\n\n   \\*really\\*   fast", "en") == (
        "Tom & Jerry <3. *really* fast")
    assert speakable("snake_case_name and 5 * 3", "en") == "snake case name and 5 * 3"


def test_plain_speech_is_left_alone() -> None:
    for text, language in [("The capital of France is Paris.", "en"),
                           ("프랑스의 수도는 파리입니다.", "ko"), ("法国的首都是巴黎。", "zh-cn")]:
        assert speakable(text, language) == text


def test_a_streamed_answer_split_then_made_speakable() -> None:
    answer = ("Sure! Here's how:\n\n1. Install it with `pip install libra`.\n"
              "2. Run this:\n\n```bash\nlibra run --verbose. Done!\n```\n\n"
              "See [the guide](https://libra.dev/guide) or https://github.com/x/y. "
              "Good luck 🍀 <@123456789012345678>!")
    splitter = SentenceSplitter()
    units: list[str] = []
    for k in range(0, len(answer), 3):
        units.extend(splitter.push(answer[k:k + 3]))
    if (rest := splitter.flush()) is not None:
        units.append(rest)
    said = [speakable(unit, "en") for unit in units]
    assert said == ["Sure!", "Here's how:", "1. Install it with pip install libra.",
                    "2. Run this:", "a code block.", "See the guide or github.com.",
                    "Good luck!"]
