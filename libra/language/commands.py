"""``libra lang detect [TEXT ...]`` and ``libra lang list``; no database needed."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from typing import Any

from libra.config_sources import load_settings
from libra.language.detect import LanguageDetector
from libra.language.names import english_name
from libra.language.routing import ModelRouter


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the ``lang`` command and its sub-commands."""
    lang = subparsers.add_parser("lang", help="language detection and routing")
    sub = lang.add_subparsers(dest="lang_command", metavar="SUBCOMMAND")
    detect = sub.add_parser(
        "detect", help="detect the language of each TEXT, or of each stdin line",
        description="Print 'code<TAB>confidence' per text: one per argument, or one per "
                    "line of standard input when no argument is given.",
    )
    detect.add_argument("texts", nargs="*", metavar="TEXT")
    detect.set_defaults(handler=_detect)
    listing = sub.add_parser("list", help="configured languages and the model each one uses")
    listing.set_defaults(handler=_list)
    lang.set_defaults(handler=lambda _args: _usage(lang))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _detect(args: argparse.Namespace) -> int:
    settings = load_settings(args.config).language
    detector = LanguageDetector(settings.languages, default=settings.default,
                                zh_default=settings.zh_default)
    texts: list[str] = args.texts
    lines = texts if texts else _stdin_lines()
    for text in lines:
        detection = detector.detect(text)
        print(f"{detection.language}\t{detection.confidence:.2f}", flush=not texts)
    return 0


def _stdin_lines() -> Iterator[str]:
    # Undecodable bytes (a Latin-1 file piped in) become U+FFFD rather than a
    # traceback: one bad byte must not stop a batch of texts.
    encoding = sys.stdin.encoding or "utf-8"
    for raw in sys.stdin.buffer:
        yield raw.decode(encoding, "replace").rstrip("\r\n")


def _list(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    lang = settings.language
    router = ModelRouter(settings.llm.routes, settings.llm.default_model,
                         zh_default=lang.zh_default)
    for code in LanguageDetector(lang.languages, zh_default=lang.zh_default).languages:
        marker = " (default)" if code == lang.default else ""
        print(f"{code}\t{router.model_for(code)}\t{english_name(code)}{marker}")
    return 0
