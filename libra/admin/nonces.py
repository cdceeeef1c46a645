"""Where HMAC nonces are remembered, so that a captured request is accepted only once.

- With Redis configured, every instance that shares the secret shares the nonces:
  ``SET NX`` with an expiry, under a key derived from the secret (two deployments on one
  Redis never see each other's nonces). A Redis that fails makes signed requests fail
  closed with 503 ``nonce_store_unavailable``: accepting them would let a captured
  request through once per instance.
- Otherwise nonces are kept in memory and appended to a file in the data folder, which
  the next run reads back: a restart does not reopen the window.

Either way :class:`~libra.admin.auth.HmacVerifier` refuses any request signed before the
server started, which no earlier run's memory could have seen otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import re
from collections import deque
from pathlib import Path
from typing import IO, Protocol

from loguru import logger
from redis.asyncio import Redis
from redis.exceptions import RedisError

from libra.errors import AdminError, ConfigError

NONCE_STORE_TIMEOUT = 2.0
"""Seconds a Redis nonce check may take before the request is refused with 503."""
NONCE_FILE = "admin-nonces"
"""File in ``app.data_dir`` that keeps the nonces across restarts (without Redis)."""
_COMPACT_SLACK = 1024
"""Lines of expired nonces the file may carry before it is rewritten."""
_LINE = re.compile(rb"([0-9]{1,12}) ([A-Za-z0-9_-]{16,128})")
"""One line of the file: the expiry (Unix seconds) and a nonce as ``auth.py`` accepts it."""


class NonceStoreUnavailable(AdminError):
    """The shared nonce store (Redis) did not answer, so a signature cannot be trusted."""

    code = "nonce_store_unavailable"


class NonceStore(Protocol):
    """Remembers nonces until they expire; each may be used once."""

    async def open(self, now: float) -> None:
        """Get ready (read what a previous run left); never fails on the store's state."""
        ...

    async def use(self, nonce: str, now: float) -> bool:
        """Remember ``nonce``; ``False`` when it was already used and has not expired.

        Raises:
            NonceStoreUnavailable: the store cannot answer.
        """
        ...

    async def close(self) -> None:
        """Release connections and files."""
        ...


class NonceCache:
    """Nonces seen within the signature window, in memory; each may be used once."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._expiry: dict[str, float] = {}
        self._order: deque[tuple[float, str]] = deque()

    def __len__(self) -> int:
        return len(self._expiry)

    def live(self) -> list[tuple[str, float]]:
        """Every remembered nonce with its expiry (some may have expired meanwhile)."""
        return list(self._expiry.items())

    def remember(self, nonce: str, expiry: float) -> None:
        """Hold ``nonce`` until ``expiry`` (as read back from a file)."""
        self._expiry[nonce] = expiry
        self._order.append((expiry, nonce))

    def use(self, nonce: str, now: float) -> float | None:
        """Remember ``nonce``; its expiry, or ``None`` when it is still remembered."""
        while self._order and self._order[0][0] <= now:
            expiry, old = self._order.popleft()
            if self._expiry.get(old) == expiry:
                del self._expiry[old]
        if nonce in self._expiry:
            return None
        # A nonce must outlive every timestamp it could be replayed with: ts ± window.
        expiry = now + 2 * self.ttl
        self.remember(nonce, expiry)
        return expiry


class LocalNonces:
    """This process's nonces, in memory and (when ``path`` is given) in an append-only file.

    The file is read back and compacted at :meth:`open`. It is written without fsync: it
    guards against a quick restart of the process, and a restart of the machine takes
    longer than the moment the start-time check leaves open.
    """

    def __init__(self, ttl: float, path: Path | None = None) -> None:
        self._cache = NonceCache(ttl)
        self._path = path
        self._file: IO[str] | None = None
        self._lines = 0

    async def open(self, now: float) -> None:
        """Read the nonces a previous run left and keep appending to the file.

        A file that cannot be used is reported once; nonces are then kept in memory only.
        """
        if self._path is None:
            return
        try:
            self._load(self._path, now)
            self._rewrite(self._path)
        except OSError as err:
            logger.warning("admin nonces cannot be kept in {} ({}): a restart forgets them; "
                           "requests signed before the restart are still refused",
                           self._path, err.strerror or err)
            self._file = None

    def _load(self, path: Path, now: float) -> None:
        # Each line is checked whole: a torn last line, a bad byte or a hand edit is
        # skipped, never written back. An expiry beyond what this run would give (a
        # clock that was wrong then) is cut to it: first in line, it would otherwise
        # keep every later nonce from expiring.
        latest = now + 2 * self._cache.ttl
        with contextlib.suppress(FileNotFoundError), path.open("rb") as file:
            for line in file:
                if match := _LINE.fullmatch(line.rstrip(b"\n")):
                    expiry = min(float(match[1]), latest)
                    if expiry > now:
                        self._cache.remember(match[2].decode("ascii"), expiry)

    def _rewrite(self, path: Path) -> None:
        if self._file is not None:
            self._file.close()
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(path.name + ".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as file:
            file.writelines(f"{math.ceil(expiry)} {nonce}\n"
                            for nonce, expiry in self._cache.live())
        os.replace(temporary, path)
        self._lines = len(self._cache)
        self._file = path.open("a", encoding="ascii")

    async def use(self, nonce: str, now: float) -> bool:
        """Remember ``nonce`` in memory and in the file; ``False`` when already used."""
        expiry = self._cache.use(nonce, now)
        if expiry is None:
            return False
        if self._file is not None and self._path is not None:
            try:
                self._file.write(f"{math.ceil(expiry)} {nonce}\n")
                self._file.flush()
                self._lines += 1
                if self._lines > 2 * len(self._cache) + _COMPACT_SLACK:
                    self._rewrite(self._path)
            except OSError as err:
                logger.warning("admin nonces can no longer be written to {} ({}); "
                               "keeping them in memory only", self._path, err.strerror or err)
                self._file.close()
                self._file = None
        return True

    async def close(self) -> None:
        """Close the file."""
        if self._file is not None:
            self._file.close()
            self._file = None


class RedisNonces:
    """Nonces in Redis, shared by every instance that uses the same Redis and secret."""

    def __init__(self, url: str, *, ttl: float, namespace: str,
                 timeout: float = NONCE_STORE_TIMEOUT) -> None:
        try:
            self._client: Redis = Redis.from_url(url, socket_timeout=timeout,
                                                 socket_connect_timeout=timeout)
        except ValueError:
            # Not chained and not quoted: redis-py's message quotes the part of the
            # password it mistook for the port.
            raise ConfigError("redis.url is not a valid Redis URL (for the admin nonces)",
                              hint="redis://[user:password@]host:port/db; percent-encode "
                                   "/ ? # @ : % in the password") from None
        self._ttl_ms = int(2 * ttl * 1000)
        self._prefix = f"libra:admin:nonce:{namespace}:"
        self._timeout = timeout

    async def open(self, now: float) -> None:
        """Nothing to do: Redis is reached per request (and refused then if it fails)."""

    async def use(self, nonce: str, now: float) -> bool:
        """``SET NX`` the nonce with the expiry; ``False`` when another request set it.

        Raises:
            NonceStoreUnavailable: Redis failed or did not answer in time.
        """
        try:
            async with asyncio.timeout(self._timeout):
                created = await self._client.set(self._prefix + nonce, b"1", nx=True,
                                                 px=self._ttl_ms)
        except (RedisError, OSError, TimeoutError) as err:
            raise NonceStoreUnavailable(
                f"Redis, which keeps the admin nonces, failed ({type(err).__name__}); "
                "signed requests are refused until it answers",
                hint="check that Redis runs and redis.url is right") from err
        return bool(created)

    async def close(self) -> None:
        """Close the connections."""
        try:
            await self._client.aclose()
        except (RedisError, OSError) as err:
            logger.warning("closing the admin nonce store failed: {}", err)
