"""``libra chat``: the local console on the same plugins as the bot."""

from __future__ import annotations

import argparse
import asyncio
import sys

import aiohttp

from libra.app import LibraApp, Mode, build_graph
from libra.chat.console import Console
from libra.config import Settings
from libra.config_sources import load_settings
from libra.errors import LibraError
from libra.llm.backends.http import redact_url
from libra.logging import setup_logging


async def _ollama_answers(servers: tuple[str, ...]) -> bool:
    timeout = aiohttp.ClientTimeout(total=1.5)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        for server in servers:
            try:
                async with session.get(server.rstrip("/") + "/api/tags") as response:
                    if response.status < 500:
                        return True
            except (aiohttp.ClientError, TimeoutError):
                continue
    return False


async def with_llm_fallback(settings: Settings) -> tuple[Settings, str | None]:
    """Use the embedded model when Ollama is configured but nothing answers.

    Returns the settings to use and a notice for the user (``None`` if unchanged).
    """
    if settings.llm.backend != "ollama" or await _ollama_answers(settings.llm.servers):
        return settings, None
    from libra.llm.backends.embedded import fallback_model  # noqa: PLC0415

    gguf = fallback_model(settings.llm.embedded_model_path)
    if gguf is None:
        return settings, None  # the first reply explains how to get a model
    # One file answers every language: route everything to it under its real name,
    # so the console never claims a model that is not running. A 135M model sampled
    # at chat temperatures answers "capital of France?" with invented towns 5 times
    # in 6 (measured); greedy decoding answers it right every time.
    llm = settings.llm.model_copy(update={"backend": "embedded", "embedded_model_path": gguf,
                                          "default_model": gguf.stem, "routes": {},
                                          "temperature": 0.0})
    servers = ", ".join(redact_url(server) for server in settings.llm.servers)
    notice = (f"No Ollama answered at {servers}: using the embedded "
              "SmolLM2 model (small, English only). For better answers start Ollama and "
              f"run `ollama pull {settings.llm.default_model}`.")
    return settings.model_copy(update={"llm": llm}), notice


async def _chat(settings: Settings) -> int:
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
        console = Console(graph.chat.service, graph.language.service,
                          interactive=interactive, backend=settings.llm.backend)
        return await console.run()
    finally:
        await app.stop("console closed")


def _handler(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    # Keep the terminal for the conversation: only warnings unless asked for more.
    level = "DEBUG" if args.verbose else "WARNING"
    setup_logging(level=level, fmt="human" if sys.stderr.isatty() else settings.app.log_format,
                  secrets=settings.secret_values())
    return asyncio.run(_chat(settings))


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``chat``."""
    parser = sub.add_parser("chat", help="talk to Libra in the terminal (no Discord needed)")
    parser.add_argument("-v", "--verbose", action="store_true", help="show debug logs")
    parser.set_defaults(handler=_handler)
