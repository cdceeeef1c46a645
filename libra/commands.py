"""Core sub-commands: ``run``, ``config show``."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

import tomli_w

from libra.config import Settings
from libra.config_sources import load_settings
from libra.logging import setup_logging
from libra.output import write_data


def load(args: argparse.Namespace) -> Settings:
    """Settings for a command, with logging configured to redact their secrets."""
    settings = load_settings(getattr(args, "config", None))
    setup_logging(level=settings.app.log_level, fmt=settings.app.log_format,
                  secrets=settings.secret_values())
    return settings


def _run(args: argparse.Namespace) -> int:
    from libra.app import Mode, run_app  # noqa: PLC0415

    settings = load(args)
    if settings.discord.token is None:
        # Before anything starts: without a token there is nothing useful to run.
        from libra.discord.onboarding import missing_token_instructions  # noqa: PLC0415

        sys.stderr.write(missing_token_instructions())
        return 2
    from libra.doctor import check_discord_token  # noqa: PLC0415
    from libra.health import Status  # noqa: PLC0415

    token = check_discord_token(settings)
    if token.status is Status.DOWN:
        # hikari would fail later with a traceback and no advice.
        sys.stderr.write(f"libra: the configured Discord token (DISCORD_TOKEN) is not a bot "
                         f"token ({token.detail})\nfix: {token.fix}\n")
        return 2
    return asyncio.run(run_app(settings, Mode.RUN))


def _strip_none(value: Any) -> Any:
    # TOML has no null: unset settings are shown as comments by leaving them out.
    if isinstance(value, dict):
        return {k: _strip_none(v) for k, v in value.items() if v is not None}
    return value


def _config_show(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    data = settings.masked()
    # Masked field by field already; the secret-shape patterns would mangle it.
    if args.format == "json":
        write_data(sys.stdout, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    else:
        write_data(sys.stdout, tomli_w.dumps(_strip_none(data)))
    return 0


def _config_example(args: argparse.Namespace) -> int:
    from libra.config_example import render_example  # noqa: PLC0415

    write_data(sys.stdout, render_example())
    return 0


def _doctor(args: argparse.Namespace) -> int:
    from libra.doctor import exit_code, render, run_checks  # noqa: PLC0415

    settings = load_settings(args.config)
    # WARNING, not ERROR: starting the embedded server may change the host (a system
    # user, a folder's search permission), and that must never happen silently.
    setup_logging(level="WARNING", fmt="human", secrets=settings.secret_values())
    rows = asyncio.run(run_checks(settings))
    print(render(rows))
    return exit_code(rows)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``run`` and ``config``."""
    run = sub.add_parser("run", help="run the Discord bot")
    run.set_defaults(handler=_run)

    doctor = sub.add_parser("doctor", help="check configuration, database, LLM, voice, token")
    doctor.set_defaults(handler=_doctor)

    config = sub.add_parser("config", help="inspect the effective configuration")
    config_sub = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    show = config_sub.add_parser("show", help="print the effective config, secrets masked")
    show.add_argument("--format", choices=("toml", "json"), default="toml")
    show.set_defaults(handler=_config_show)
    example = config_sub.add_parser("example", help="print a documented example config")
    example.set_defaults(handler=_config_example)
