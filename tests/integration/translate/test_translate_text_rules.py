"""The text rules a translation is checked against, on the text users actually write.

Glossary terms in other scripts than ASCII, stretched chat ("NOOOO", "ㅋㅋㅋㅋ"),
quotes inside a translation and Wikipedia-style URLs: each of these once made a
good translation fail or lose a character.
"""

from __future__ import annotations

import pytest

from libra.translate.checks import garbage_problem, tidy
from libra.translate.glossary import GlossaryPlan, enforce
from libra.translate.protect import shield, term_regex, unshield


@pytest.mark.parametrize(("term", "inside_a_word", "as_a_word"), [
    ("Über", "Wir wohnen gegenüber der Schule", "Über den Wolken"),
    ("Мир", "Мировой рекорд побит", "Мир и труд"),
    ("café", "Meet me at the caféteria", "Meet me at the café at nine"),
    ("naïve", "so naïvety it is", "not so naïve"),
    ("Ωmega", "the XΩmega build", "the Ωmega build"),
])
def test_a_term_starting_or_ending_with_a_non_ascii_letter_matches_whole_words_only(
        term: str, inside_a_word: str, as_a_word: str) -> None:
    pattern = term_regex([term])
    assert pattern is not None
    assert pattern.search(inside_a_word) is None
    found = pattern.search(as_a_word)
    assert found is not None and found.group(0).lower() == term.lower()


@pytest.mark.parametrize(("term", "text"), [
    ("天気", "今日は天気がいいですね"),  # Japanese: no spaces between words
    ("ライブラ", "ライブラが答えた"),
    ("服务器", "我们的服务器坏了"),  # Chinese
    ("리브라", "리브라가 답했어요"),  # Korean: particles attach to the noun
    ("서버", "디스코드서버에 와"),  # Korean compounds are often written solid
    ("ลิบรา", "สวัสดีลิบราครับ"),  # Thai: no spaces between words
])
def test_a_term_in_a_script_written_without_spaces_matches_inside_the_run(
        term: str, text: str) -> None:
    pattern = term_regex([term])
    assert pattern is not None and pattern.search(text) is not None


def test_a_kept_term_is_not_shielded_inside_another_word() -> None:
    shielded = shield("Мировой рекорд и Мир", ["Мир"])
    assert shielded.text == "Мировой рекорд и ⟦0⟧"


def test_enforcement_never_rewrites_inside_a_word() -> None:
    plan = GlossaryPlan(keep=(), render=(("café", "kafe"),), version="v")
    answer, missing = enforce("Ni vidas nin en la caféteria", plan)
    assert answer == "Ni vidas nin en la caféteria" and missing == ["café"]
    answer, missing = enforce("Ni trinkas café", plan)
    assert answer == "Ni trinkas kafe" and missing == []


O32 = "O" * 32
DOTS = "…" * 30


@pytest.mark.parametrize(("source", "answer"), [
    (f"N{O32} the raid is off", f"N{O32}N le raid est annulé"),
    ("ha" * 15 + " that was great", "ja" * 15 + " eso fue genial"),
    (f"wait{DOTS} what", f"attends{DOTS} quoi"),
    ("ㅋ" * 12 + " 진짜 웃기다", "ha" * 14 + " that is so funny"),
    ("lo" * 14 + "l", "mdr" * 14),
])
def test_stretched_chat_is_not_a_loop(source: str, answer: str) -> None:
    assert garbage_problem(answer, source) is None


@pytest.mark.parametrize(("source", "answer"), [
    ("Good morning, the server maintenance starts soon", "zx" * 40),
    ("haha that was great", "jaja eso fue genial " + "jajajaja eso " * 12),
    ("NOOOOO the raid is off", "NOOOOOON " + "le raid est annulé " * 8),
])
def test_a_model_stuck_in_a_loop_is_still_caught(source: str, answer: str) -> None:
    assert garbage_problem(answer, source) == "the answer repeats itself"


@pytest.mark.parametrize(("answer", "tidied"), [
    ('"Bonjour" dit-il, "ça va"', '"Bonjour" dit-il, "ça va"'),
    ("«Salut» et «au revoir»", "«Salut» et «au revoir»"),
    ('"Bonjour à tous"', "Bonjour à tous"),
    ("“Bonjour à tous”", "Bonjour à tous"),
    ("「こんにちは」", "こんにちは"),
    ("Here is the translation: «Bonjour à tous»", "Bonjour à tous"),
])
def test_tidy_strips_only_quotes_wrapping_the_whole_answer(answer: str, tidied: str) -> None:
    assert tidy(answer, "Hello everyone") == tidied


@pytest.mark.parametrize(("text", "url", "after"), [
    ("See https://en.wikipedia.org/wiki/Libra_(constellation) tonight",
     "https://en.wikipedia.org/wiki/Libra_(constellation)", " tonight"),
    ("(see https://en.wikipedia.org/wiki/Libra_(astrology))",
     "https://en.wikipedia.org/wiki/Libra_(astrology)", ")"),
    ("(details at https://example.com/a)", "https://example.com/a", ")"),
    ("Read https://example.com/guide.", "https://example.com/guide", "."),
])
def test_urls_keep_balanced_parentheses_and_leave_prose_punctuation(
        text: str, url: str, after: str) -> None:
    shielded = shield(text)
    assert url in shielded.tokens
    marker = f"⟦{shielded.tokens.index(url)}⟧"
    assert shielded.text.split(marker, 1)[1].startswith(after)
    assert unshield(shielded.text, shielded) == text
