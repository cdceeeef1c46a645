"""Core sub-commands: ``run``, ``chat``, ``doctor``, ``config show``."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

import tomli_w

from libra.config import Settings
from libra.config_sources import load_settings
from libra.errors import LibraError
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

        # Data, not a log line: the placeholder token and the invite scopes ("bot
        # applications.commands") have secret shapes but are what the operator copies.
        write_data(sys.stderr, missing_token_instructions())
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


async def _chat(settings: Settings) -> int:
    from libra.app import LibraApp, Mode, build_graph  # noqa: PLC0415
    from libra.console.transport import ConsoleTransport  # noqa: PLC0415
    from libra.llm.fallback import with_llm_fallback  # noqa: PLC0415

    settings, notice = await with_llm_fallback(settings)
    graph = build_graph(settings, Mode.CHAT)
    app = LibraApp.of(graph)
    interactive = sys.stdin.isatty()
    try:
        await app.start()
    except LibraError as err:
        print(f"libra: {err}", file=sys.stderr)
        return 1
    try:
        if notice:
            print(notice, file=sys.stdout if interactive else sys.stderr)
        failed = app.manager.failed
        for name, code in failed.items():
            print(f"libra: running without {name} ({code}); see `libra doctor`",
                  file=sys.stderr)
        if "chat" in failed:
            # Nothing to talk to: say why instead of failing on the missing service.
            print("libra: the console needs the chat, which could not start (the error "
                  "is logged above)", file=sys.stderr)
            return 2 if "config_invalid" in failed.values() else 1
        console = ConsoleTransport(chat=graph.chat.service, language=graph.language.service,
                                   llm=graph.llm.service, interactive=interactive)
        return await console.run()
    finally:
        await app.stop("console closed")


def _chat_handler(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    # Keep the terminal for the conversation: only warnings unless asked for more.
    level = "DEBUG" if args.verbose else "WARNING"
    setup_logging(level=level, fmt="human" if sys.stderr.isatty() else settings.app.log_format,
                  secrets=settings.secret_values())
    return asyncio.run(_chat(settings))


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


def _health(args: argparse.Namespace) -> int:
    from libra.heartbeat import heartbeat_path, judge  # noqa: PLC0415

    settings = load_settings(args.config)
    verdict = judge(heartbeat_path(settings.app.data_dir), ready=args.ready,
                    required=settings.admin.ready_required)
    # One line either way: Docker keeps it in `docker inspect` as the probe's output.
    print(f"{'healthy' if verdict.healthy else 'unhealthy'}: {verdict.reason}",
          file=sys.stdout if verdict.healthy else sys.stderr)
    return 0 if verdict.healthy else 1


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``run``, ``chat``, ``doctor``, ``health`` and ``config``."""
    run = sub.add_parser("run", help="run the Discord bot")
    run.set_defaults(handler=_run)

    chat = sub.add_parser("chat", help="talk to Libra in the terminal (no Discord needed)")
    chat.add_argument("-v", "--verbose", action="store_true", help="show debug logs")
    chat.set_defaults(handler=_chat_handler)

    doctor = sub.add_parser("doctor", help="check configuration, database, LLM, voice, token")
    doctor.set_defaults(handler=_doctor)

    health = sub.add_parser(
        "health", help="is the running Libra alive? (container healthcheck; no admin port)",
        description="Reads the heartbeat file the running process rewrites every "
                    "app.heartbeat_seconds in app.data_dir. Exit 0 when it is fresh, 1 when "
                    "it is missing or stale.")
    health.add_argument("--ready", action="store_true",
                        help="also require every admin.ready_required component ok or degraded")
    health.set_defaults(handler=_health)

    config = sub.add_parser("config", help="inspect the effective configuration")
    config_sub = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    show = config_sub.add_parser("show", help="print the effective config, secrets masked")
    show.add_argument("--format", choices=("toml", "json"), default="toml")
    show.set_defaults(handler=_config_show)
    example = config_sub.add_parser("example", help="print a documented example config")
    example.set_defaults(handler=_config_example)
