"""Logging setup: loguru sinks whose every line passes through redaction.

Human format on a terminal, JSON lines otherwise (or on request). Redaction runs
twice on purpose: a patcher scrubs each record's message and extras before any
sink sees it, and our sinks scrub the fully formatted text, which also covers
tracebacks and exception messages (where URLs with passwords usually hide).
Standard-library logging (hikari, aiohttp, asyncio) and Python warnings are routed
into the same sinks.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import traceback
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TextIO, cast

from loguru import logger

if TYPE_CHECKING:
    from loguru import BasicHandlerConfig, Message, Record

MASK = "***"

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Passwords inside URLs: scheme://user:password@host
    (re.compile(r"(?P<pre>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*:)[^@\s/]+(?P<post>@)"),
     rf"\g<pre>{MASK}\g<post>"),
    # Authorization headers: any credential after the scheme.
    (re.compile(r"(?i)\b(?P<pre>authorization[\"']?\s*[=:]\s*[\"']?(?:bearer|bot|basic)\s+)"
                r"[A-Za-z0-9._~+/=-]{8,}"), rf"\g<pre>{MASK}"),
    # Bearer/Bot tokens elsewhere: only token-shaped words (a digit or symbol in 16+
    # characters), so prose such as "the bot responded" stays readable.
    (re.compile(r"(?i)\b(?P<pre>(?:bearer|bot)\s+)(?=[A-Za-z]*[0-9._~+/=-])"
                r"[A-Za-z0-9._~+/=-]{16,}"), rf"\g<pre>{MASK}"),
    # Discord bot tokens: three base64url segments. The first is bounded (real ones
    # are under 40 characters): unbounded, every "-" in a long base64 blob restarts a
    # scan to the blob's end, and a 60 kB line took seconds on the event loop.
    (re.compile(r"\b[A-Za-z0-9_-]{20,200}+\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{20,}\b"), MASK),
    # key=value / key: value / "key": "value" for sensitive key names. The match
    # starts at the key word itself (whatever precedes it in the name is kept as is),
    # for the same reason: a "[\w.-]*" prefix made long base64 lines quadratic.
    # A JSON literal or a little English word is no secret: masking it turned
    # `"metrics_token": null` into invalid JSON and "the password: the password is
    # empty" into nonsense, now that command output passes through here too.
    (re.compile(
        r"(?i)(?P<pre>(?:password|passwd|pwd|secret|token|api[_-]?key|key)"
        r"[\"']?\s*[=:]\s*[\"']?)"
        r"(?!(?:null|none|true|false|the|a|an|is|was|not|no|must|cannot)(?:[\s\"',;)}\]]|$))"
        r"(?P<val>[^\s\"'&,;)}\]]+)"
    ), rf"\g<pre>{MASK}"),
)


class Redactor:
    """Replaces secrets in text: known shapes plus the configured secret values."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Longest first so a secret containing another is masked whole.
        self._secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def add_secrets(self, secrets: Iterable[str]) -> None:
        """Also mask these exact values from now on."""
        self._secrets = sorted({*self._secrets, *(s for s in secrets if len(s) >= 4)},
                               key=len, reverse=True)

    def mask_values(self, text: str) -> str:
        """Return ``text`` with the configured secret values masked (not the shapes)."""
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def __call__(self, text: str) -> str:
        """Return ``text`` with every secret masked."""
        text = self.mask_values(text)
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text


def _redact_value(redact: Redactor, value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _redact_value(redact, v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_redact_value(redact, v) for v in value)
    return value


class _TextSink:
    def __init__(self, stream: TextIO, redact: Redactor) -> None:
        self._stream = stream
        self._redact = redact

    def __call__(self, message: Message) -> None:
        self._stream.write(self._redact(str(message)))
        self._stream.flush()


class _JsonSink:
    def __init__(self, stream: TextIO, redact: Redactor) -> None:
        self._stream = stream
        self._redact = redact

    def __call__(self, message: Message) -> None:
        record = message.record
        line: dict[str, Any] = {
            "time": record["time"].isoformat(),
            "level": record["level"].name,
            "logger": record["name"],
            "message": record["message"],
        }
        # Fields are redacted before encoding too: JSON escapes quotes and
        # backslashes, so a secret containing one no longer matches in the line.
        if record["extra"]:
            line["extra"] = {k: v if isinstance(v, int | float | bool | None)
                             else self._redact(str(v)) for k, v in record["extra"].items()}
        if record["exception"] is not None:
            exc = record["exception"]
            line["exception"] = self._redact("".join(
                traceback.format_exception(exc.type, exc.value, exc.traceback)
            ))
        text = json.dumps(line, ensure_ascii=False)
        self._stream.write(self._redact(text) + "\n")
        self._stream.flush()


class _InterceptHandler(logging.Handler):
    """Sends standard-library log records to loguru (and so through redaction)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        name = record.name

        def rename(rec: Record) -> None:
            rec["name"] = name  # show "hikari.rest", not this module

        try:
            message = record.getMessage()
        except Exception:  # a library's bad format string must not raise into it
            self.handleError(record)
            return
        logger.patch(rename).opt(exception=record.exc_info).log(level, message)


HUMAN_FORMAT = (
    "<green>{time:HH:mm:ss.SSS}</green> <level>{level: <7}</level> "
    "<cyan>{name}</cyan> {message}"
)


def setup_logging(
    *,
    level: str = "INFO",
    fmt: str = "auto",
    secrets: Iterable[str] = (),
    stream: TextIO | None = None,
) -> Redactor:
    """Configure loguru (and stdlib logging) once for the process; return the redactor.

    When the standard streams are redacted (``libra`` does that first, see
    :mod:`libra.output`) and no ``stream`` is given, the logs share their redactor and
    write to the real standard error: the secrets given here then also mask what
    commands print.

    Args:
        level: lowest level written.
        fmt: ``human``, ``json`` or ``auto`` (human on a terminal).
        secrets: exact values to mask (the configured secrets).
        stream: where to write (default standard error).
    """
    from libra.output import RedactingWriter, redact_standard_streams  # noqa: PLC0415 (cycle)

    if stream is None and isinstance(sys.stderr, RedactingWriter):
        redact = redact_standard_streams()
        redact.add_secrets(secrets)
        out: TextIO = sys.stderr.inner
    else:
        out = stream or sys.stderr
        redact = Redactor(secrets)
    use_json = fmt == "json" or (fmt == "auto" and not out.isatty())

    def patch(record: Record) -> None:
        record["message"] = redact(record["message"])
        if record["extra"]:
            record["extra"].update(_redact_value(redact, dict(record["extra"])))

    sink: Any = _JsonSink(out, redact) if use_json else _TextSink(out, redact)
    handler: dict[str, Any] = {"sink": sink, "level": level, "backtrace": False,
                               "diagnose": False}  # diagnose would print local values
    if use_json:
        handler["format"] = "{message}"
    else:
        # loguru ends a string format with "\n{exception}" itself: adding it here wrote a
        # blank line after each line and every traceback twice.
        handler["format"] = HUMAN_FORMAT
        handler["colorize"] = out.isatty()
    logger.configure(handlers=[cast("BasicHandlerConfig", handler)], patcher=patch)
    logging.basicConfig(handlers=[_InterceptHandler()], level=logging.INFO, force=True)
    # Python warnings (ResourceWarning, DeprecationWarning from drivers) otherwise go
    # straight to stderr: unredacted and, in JSON mode, not JSON.
    logging.captureWarnings(True)
    return redact
