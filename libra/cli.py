"""Command line: ``libra run | chat | migrate | doctor | config | lang | admin | models | voice``.

Each area adds its sub-commands from its own ``commands.py`` module exposing
``register(subparsers)``; this module only assembles them and maps errors to exit
codes (2 = configuration/usage error, 1 = failure, 130 = Ctrl-C, 141 = the
reader of stdout went away).
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from libra import __version__
from libra.errors import ConfigError, LibraError
from libra.output import redact_standard_streams

COMMAND_MODULES = (
    "libra.commands",
    "libra.storage.commands",
    "libra.language.commands",
    "libra.admin.commands",
    "libra.voice.models.commands",
    "libra.voice.reply_cli",
)
"""Modules that each add sub-commands; missing optional ones are skipped."""
CONFIG_HELP = "config file (default: config/libra.toml when present)"


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser."""
    parser = argparse.ArgumentParser(
        prog="libra", description="Libra: a private, multilingual AI companion for Discord."
    )
    parser.add_argument("--version", action="version", version=f"libra {__version__}")
    parser.add_argument("--config", type=Path, metavar="PATH", help=CONFIG_HELP)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            if err.name == module_name:
                continue
            raise
        module.register(sub)
    _accept_config_anywhere(parser)
    return parser


def _accept_config_anywhere(parser: argparse.ArgumentParser) -> None:
    """Let ``--config`` also follow a sub-command: ``libra migrate status --config x.toml``."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for command in action.choices.values():
                # SUPPRESS: when not given here, the value given before the command stays.
                command.add_argument("--config", type=Path, metavar="PATH",
                                     default=argparse.SUPPRESS, help=CONFIG_HELP)
                _accept_config_anywhere(command)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``libra`` console script."""
    # First: every message below, a command's output and a traceback are redacted.
    redact_standard_streams()
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return int(handler(args) or 0)
    except ConfigError as err:
        print(f"libra: configuration error: {err}", file=sys.stderr)
        return 2
    except LibraError as err:
        print(f"libra: {err}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader went away (`libra lang detect < big.txt | head -1`): end quietly,
        # and keep the interpreter's final flush of stdout from failing again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE
    except OSError as err:
        # A data dir that cannot be created, a full disk, a port in use: the
        # system's own words name the path, which says more than a traceback.
        print(f"libra: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
