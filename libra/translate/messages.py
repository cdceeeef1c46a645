"""What translation tells users, per language (English when a text is not translated).

Transport-neutral texts: the Discord commands and the opt-in relay format them.
"""

from __future__ import annotations

from libra.chat.messages import user_message

_TEXTS: dict[str, dict[str, str]] = {
    "badge": {"en": "-# {source} → {target}"},
    "nothing": {
        "en": "Nothing to translate: emoji, mentions, links, code and chat words like "
              "“gg” read the same in every language.",
        "ko": "번역할 내용이 없습니다: 이모지, 멘션, 링크, 코드, “gg” 같은 채팅 표현은 "
              "그대로 읽힙니다.",
        "ja": "翻訳するものがありません:絵文字、メンション、リンク、コード、「gg」などの"
              "チャット語はどの言語でも同じです。",
    },
    "same": {
        "en": "This is already in {language}: nothing to translate.",
        "ko": "이미 {language}입니다. 번역할 필요가 없습니다.",
        "ja": "すでに{language}です。翻訳は不要です。",
    },
    "failed": {
        "en": "I couldn't translate this reliably ({reason}), so I'm not showing a "
              "translation that may be wrong. Please try again, or rephrase it.",
        "ko": "신뢰할 수 있게 번역하지 못했습니다 ({reason}). 틀릴 수 있는 번역은 보여 드리지 "
              "않습니다. 다시 시도하거나 바꿔 써 주세요.",
        "ja": "確実に翻訳できませんでした({reason})。誤っているかもしれない翻訳は表示しません。"
              "もう一度試すか、言い換えてください。",
    },
    "failed_beneath": {
        "en": "-# (Libra couldn't translate this message reliably into {language}.)",
    },
    "unknown_language": {
        "en": "I don't know the language “{name}”. I can translate into: {choices}.",
        "ko": "“{name}” 언어를 모릅니다. 번역 가능한 언어: {choices}.",
        "ja": "「{name}」という言語は分かりません。翻訳できる言語: {choices}。",
    },
    "too_long": {
        "en": "That text is {length} characters; I translate up to {limit} at a time. "
              "Please split it.",
        "ko": "텍스트가 {length}자입니다. 한 번에 {limit}자까지 번역할 수 있습니다. 나눠 주세요.",
        "ja": "テキストが{length}文字あります。一度に翻訳できるのは{limit}文字までです。"
              "分けてください。",
    },
    "empty_message": {
        "en": "That message has no text to translate.",
    },
    "history_empty": {"en": "You have no translations stored."},
    "history_none_match": {"en": "None of your translations matches “{query}”."},
    "history_header": {"en": "Your translations ({total}{matching}) — page {page} of {pages}"},
    "history_more": {"en": "-# More: `/translations history page:{next}`"},
    "history_deleted": {"en": "Deleted {count} stored translation(s)."},
    "opt_in_on": {
        "en": "From now on, your messages in this channel get a translation into "
              "{language} beneath them (when they are in another language). "
              "`/translations me state:off` stops it.",
    },
    "opt_in_off": {"en": "Your messages in this channel are no longer translated."},
    "glossary_only_guild": {"en": "The glossary belongs to a server: use it there."},
    "glossary_added_keep": {"en": "Added: **{term}** is never translated here."},
    "glossary_added": {"en": "Added: **{term}** becomes **{rendering}** in {language}."},
    "glossary_removed": {"en": "Removed {count} entr(y/ies) for **{term}**."},
    "glossary_empty": {
        "en": "This server's glossary is empty. Admins add terms with `/glossary add`.",
    },
    "glossary_header": {"en": "Glossary of this server ({count}):"},
    "glossary_keep": {"en": "never translated"},
    "every_language": {"en": "every language"},
    "unavailable": {
        "en": "Translation is unavailable right now. Everything else still works.",
    },
}


def _base(language: str) -> str:
    return language if language in ("zh-cn", "zh-tw") else language.split("-", maxsplit=1)[0]


def translate_message(key: str, language: str = "en", /, **values: object) -> str:
    """The text ``key`` in ``language`` (English when it has no such translation)."""
    table = _TEXTS[key]
    template = table.get(_base(language)) or table["en"]
    return template.format(**values)


def error_message(code: str, language: str, **values: object) -> str:
    """Libra's shared message for an error ``code`` (rate limits, LLM failures...)."""
    return user_message(code, language, **values)
