"""Whether a message holds anything to translate.

Emoji, mentions, links, code and chat tokens ("gg", "lol", "ㅋㅋ", "www", "草") read
the same in every language: translating them costs a model call and posts noise (a
"translation" of "gg" under every message of a gaming channel). Such messages get
``NOTHING_TO_TRANSLATE`` without the model being asked.
"""

from __future__ import annotations

import re
import unicodedata

from libra.translate.protect import CONTENT_RE, PROTECTED_RE

_CHAT_TOKENS_TEXT = """
    gg ggs ggwp gj gl hf glhf wp ez lol lols lul lmao lmfao rofl roflmao xd xdd xddd
    ok okay okey k kk kkk ty tyty thx thanx tysm tyvm np yw brb afk omg omfg wtf idk ikr
    btw pls plz imo imho tbh smh fml irl nvm ofc gn gm rip f oof bruh hmm hm mhm uh um
    ah oh eh wow yay yey ayy pog poggers kek kekw lulw omegalul monkas sadge
    copium gz grats gratz ggez mdr ptdr xptdr jpp rs rsrs kkkk jaja jajaja jeje
    haha hahaha hehe hihi huhu www w 草 笑 哈哈 哈哈哈 嘿嘿 呵呵 666 555 5555 ㅇㅇ ㄱㄱ
    ㅊㅋ ㄳ ㄷㄷ ㅇㅋ
"""
CHAT_TOKENS = frozenset(_CHAT_TOKENS_TEXT.split())
"""Chat tokens understood as written in any language (lower case)."""

_TOKEN_PATTERNS = re.compile(
    r"(?:"
    r"[ㅋㅎㅠㅜㄷ]+"  # Korean laughter, crying, shivering
    r"|(?:ha|he|hi|ho|ja|je|ka|ks|xa){2,}h?"  # laughter in Latin script
    r"|k{3,}|w{2,}|x+d+|l+o+l+|lm+a+o+|[哈嘿呵]{2,}|草+|笑+|w+草*"
    r"|[5]{3,}|6{3,}|\+1|-1"
    r")"
)
_WORD_RE = re.compile(r"[^\W_]+|\+1|-1", re.UNICODE)


def _is_symbol(ch: str) -> bool:
    """Emoji, pictographs, punctuation, digits, joiners: no language in them."""
    category = unicodedata.category(ch)
    return (category[0] in "PSZNC" or ch in "\u200d\ufe0f\ufe0e"
            or 0x1F3FB <= ord(ch) <= 0x1F3FF)  # skin-tone modifiers


def is_chat_token(word: str) -> bool:
    """Whether one word is a language-neutral chat token."""
    lowered = word.lower()
    if lowered in CHAT_TOKENS:
        return True
    # Stretched spellings: "loool", "gggg", "hahahaa", "ㅋㅋㅋㅋ".
    squeezed = re.sub(r"(.)\1{2,}", r"\1\1", lowered)
    return squeezed in CHAT_TOKENS or _TOKEN_PATTERNS.fullmatch(lowered) is not None


def worth_translating(text: str) -> bool:
    """Whether ``text`` holds prose: letters outside code, links, mentions and chat tokens."""
    prose = CONTENT_RE.sub(" ", text)
    prose = PROTECTED_RE.sub(" ", prose)
    if all(_is_symbol(ch) for ch in prose):
        return False
    words = _WORD_RE.findall(prose)
    if not words:
        return False
    return not all(is_chat_token(w) or w.isdigit() for w in words)
