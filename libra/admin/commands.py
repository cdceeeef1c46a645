"""``libra admin hash-password | flush-cache | status``: a client of the admin port.

The client signs every request the way the server is configured (``admin.auth_mode``)
with ``admin.secret``, so operators never handle the secret on the command line.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from dataclasses import dataclass
from typing import Any

import aiohttp
from yarl import URL

from libra.config import AdminSettings
from libra.config_sources import load_settings
from libra.errors import AdminRequestError, ConfigError
from libra.output import write_data

from .auth import SECRET_HEADER, signed_headers
from .server import admin_secret
from .sessions import hash_password

CLIENT_TIMEOUT = 15.0


@dataclass(frozen=True, slots=True)
class AdminReply:
    """A parsed answer of the admin server."""

    status: int
    data: Any


class AdminClient:
    """Signs and sends admin API requests."""

    def __init__(self, base_url: str, secret: bytes, auth_mode: str) -> None:
        self.base_url = base_url.rstrip("/")
        self._secret = secret
        self._auth_mode = auth_mode

    @classmethod
    def from_settings(cls, settings: AdminSettings, base_url: str | None = None
                      ) -> AdminClient:
        """A client for the configured port (``base_url`` overrides host and port).

        Raises:
            ConfigError: no port or URL, or no usable secret.
        """
        if base_url is None:
            if settings.port is None:
                # Checked before the secret: with the port off (the default) there is
                # no server to talk to, whatever the secret.
                raise ConfigError(
                    "admin.port is not set, so the admin port is off",
                    hint="set LIBRA_ADMIN__PORT and LIBRA_ADMIN__SECRET for `libra run` "
                         "(see docs/admin.md), or pass --url")
            host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
            host = f"[{host}]" if ":" in host else host
            base_url = f"http://{host}:{settings.port}"
        return cls(base_url, admin_secret(settings), settings.auth_mode)

    def headers(self, method: str, path: str, body: bytes) -> dict[str, str]:
        """Authentication headers for one request."""
        if self._auth_mode == "simple":
            return {SECRET_HEADER: self._secret.decode()}
        return signed_headers(self._secret, method, path, body)

    async def call(self, method: str, path: str, payload: dict[str, Any] | None = None
                   ) -> AdminReply:
        """Send one request and parse its JSON answer.

        Raises:
            AdminRequestError: the server is unreachable or answered with an error.
        """
        body = b"" if payload is None else json.dumps(payload).encode()
        headers = self.headers(method, path, body)
        if body:
            headers["Content-Type"] = "application/json"
        timeout = aiohttp.ClientTimeout(total=CLIENT_TIMEOUT)
        try:
            async with (aiohttp.ClientSession(timeout=timeout) as http,
                        http.request(method, URL(self.base_url + path, encoded=True),
                                     data=body, headers=headers) as resp):
                raw = await resp.read()
                status = resp.status
        except (aiohttp.ClientError, TimeoutError) as err:
            raise AdminRequestError(f"cannot reach the admin server at {self.base_url}: "
                                    f"{err or type(err).__name__}", error="unreachable",
                                    hint="is Libra running with admin.port set?") from err
        try:
            data = json.loads(raw)
        except ValueError:
            data = raw.decode("utf-8", "replace")
        if status >= 400 and not (status == 503 and isinstance(data, dict)
                                  and "ready" in data):
            code = data.get("error", "http_error") if isinstance(data, dict) else "http_error"
            message = data.get("message", "") if isinstance(data, dict) else str(data)[:200]
            raise AdminRequestError(f"admin server answered {status} {code}: {message}",
                                    error=code, status=status)
        return AdminReply(status, data)


def _read_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("Operator password: ")
        if getpass.getpass("Again: ") != first:
            raise ConfigError("the passwords differ")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def cmd_hash_password(args: argparse.Namespace) -> int:
    """Print the bcrypt hash of a password read from the prompt or stdin."""
    try:
        # Data, not a message: about 1 bcrypt hash in 130 looks like a Discord token.
        write_data(sys.stdout, hash_password(_read_password(), rounds=args.rounds) + "\n")
    except ValueError as err:
        raise ConfigError(f"cannot hash the password: {err}") from err
    return 0


def _client(args: argparse.Namespace) -> AdminClient:
    return AdminClient.from_settings(load_settings(args.config).admin, args.url)


def cmd_flush_cache(args: argparse.Namespace) -> int:
    """Flush the LLM cache (all, or ``--namespace``)."""
    payload = {"namespace": args.namespace} if args.namespace else None
    reply = asyncio.run(_client(args).call("POST", "/api/cache/flush", payload))
    what = f"namespace {args.namespace!r}" if args.namespace else "every namespace"
    print(f"flushed {reply.data['flushed']} entries from {what}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """Print per-component readiness; exit 1 when not ready."""
    reply = asyncio.run(_client(args).call("GET", "/api/health/ready"))
    if args.json:
        print(json.dumps(reply.data, indent=2))
    else:
        print("ready" if reply.data["ready"] else "NOT READY")
        for c in reply.data["components"]:
            mark = "*" if c["required"] else " "
            line = f"  {mark} {c['name']:<12} {c['status']:<9} {c['detail']}"
            print(line + (f"  (fix: {c['fix']})" if c.get("fix") and c["status"] != "ok"
                          else ""))
    return 0 if reply.data["ready"] else 1


def register(subparsers: Any) -> None:
    """Add ``libra admin ...``."""
    admin = subparsers.add_parser("admin", help="talk to the admin port; hash passwords")
    sub = admin.add_subparsers(dest="admin_command", metavar="ACTION", required=True)
    hashing = sub.add_parser("hash-password",
                             help="read a password (prompt or stdin) and print its bcrypt hash")
    hashing.add_argument("--rounds", type=int, default=12, choices=range(10, 16),
                         metavar="10-15", help="bcrypt cost (default 12)")
    hashing.set_defaults(handler=cmd_hash_password)
    for name, helptext, handler in (
        ("flush-cache", "flush the LLM response cache", cmd_flush_cache),
        ("status", "show readiness per component (exit 1 when not ready)", cmd_status),
    ):
        parser = sub.add_parser(name, help=helptext)
        parser.add_argument("--url", help="admin base URL (default: from admin.host/port)")
        if name == "flush-cache":
            parser.add_argument("--namespace", help="flush only this namespace")
        else:
            parser.add_argument("--json", action="store_true", help="print the raw JSON")
        parser.set_defaults(handler=handler)
