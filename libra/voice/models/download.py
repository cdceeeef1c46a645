"""Fetching one file over HTTP into a ``.part`` file that survives interruptions.

A cut connection, a timeout or a 5xx answer is retried with exponential backoff,
continuing where the ``.part`` file ends (an HTTP ``Range`` request); a server that
ignores the range starts the file over. A 4xx answer is final. The catalogue's
exact size bounds what is accepted, so a wrong or hostile server cannot fill the disk.
"""

from __future__ import annotations

import asyncio
import errno
import re
from collections.abc import Callable
from dataclasses import dataclass
from io import FileIO
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from libra.errors import ModelDiskFull, ModelDownloadFailed, ModelTooLarge

_CHUNK = 256 * 1024
_CONTENT_RANGE = re.compile(r"^bytes (\d+)-\d+/(?:\d+|\*)$")


@dataclass(frozen=True, slots=True, kw_only=True)
class DownloadPolicy:
    """How patient a download is."""

    attempts: int = 6
    """Tries per file before giving up (each resumes the previous one)."""
    backoff: float = 1.0
    """Seconds before the first retry; doubled each time, at most :attr:`max_backoff`."""
    max_backoff: float = 30.0
    """Longest pause between tries."""
    connect_timeout: float = 20.0
    """Seconds to open a connection."""
    read_timeout: float = 60.0
    """Seconds without a byte before the connection counts as dead."""


class _Retry(Exception):
    """A failure worth another try."""


class Fetcher:
    """Downloads files with resume and retries over one aiohttp session."""

    def __init__(self, session: aiohttp.ClientSession, policy: DownloadPolicy,
                 note: Callable[[str], None]) -> None:
        self._session = session
        self._policy = policy
        self._note = note

    async def fetch(self, url: str, part: Path, *, size: int, label: str,
                    on_bytes: Callable[[int], None]) -> None:
        """Make ``part`` hold the ``size`` bytes served at ``url``.

        Args:
            url: where to download from.
            part: the partial file; what it already holds is kept and continued.
            size: the file's exact size.
            label: names the file in messages.
            on_bytes: called with the number of bytes ``part`` holds as it grows.

        Raises:
            ModelDownloadFailed: a 4xx answer, or every attempt failed.
            ModelTooLarge: the server sent more than ``size`` bytes (``part`` deleted).
            ModelDiskFull: the disk filled up (``part`` kept, to resume later).
        """
        delay = self._policy.backoff
        for attempt in range(1, self._policy.attempts + 1):
            try:
                await self._attempt(url, part, size, on_bytes)
                return
            except (_Retry, aiohttp.ClientConnectionError, aiohttp.ClientPayloadError,
                    TimeoutError) as err:
                reason = _describe(err, self._policy.read_timeout)
                if attempt == self._policy.attempts:
                    raise ModelDownloadFailed(
                        f"{label}: {reason}; gave up after {attempt} attempts",
                        hint="run the same command again: it continues where it stopped",
                    ) from err
                held = part_size(part)
                self._note(f"{label}: {reason}; retrying in {delay:g} s "
                           f"(attempt {attempt + 1} of {self._policy.attempts}, "
                           f"{held} bytes kept)")
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._policy.max_backoff)

    async def _attempt(self, url: str, part: Path, size: int,
                       on_bytes: Callable[[int], None]) -> None:
        have = part_size(part)
        if have > size:
            _discard(part)
            have = 0
        if have == size:
            on_bytes(have)
            return
        headers = {"Range": f"bytes={have}-"} if have else {}
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self._policy.connect_timeout,
                                        sock_read=self._policy.read_timeout)
        shown = _without_credentials(url)
        async with self._session.get(url, headers=headers, timeout=timeout) as resp:
            if resp.status == 416 and have:
                _discard(part)  # what we hold is not a prefix the server knows: start over
                raise _Retry("the server refused to continue the partial file")
            if resp.status >= 500 or resp.status in (408, 429):
                raise _Retry(f"the server answered {resp.status} {resp.reason or ''}".rstrip())
            if resp.status not in (200, 206):
                raise ModelDownloadFailed(
                    f"{shown} answered {resp.status} {resp.reason or ''}".rstrip(),
                    hint="check voice.models_mirror, or whether the file moved upstream")
            if resp.status == 206 and _range_start(resp) != have:
                _discard(part)  # start over rather than splice mismatched pieces
                raise _Retry("the server answered a different range than asked for")
            if resp.status == 200:
                have = 0  # the whole file again: no range support, or we asked for none
            length = resp.content_length
            if length is not None and have + length > size:
                _discard(part)
                raise ModelTooLarge(f"{shown} offers {have + length} bytes, expected {size}")
            with _open_part(part, append=have > 0) as out:
                on_bytes(have)
                async for chunk in resp.content.iter_chunked(_CHUNK):
                    if have + len(chunk) > size:
                        out.close()
                        _discard(part)
                        raise ModelTooLarge(f"{shown} sent more than the expected {size} bytes")
                    _write(out, chunk, part)
                    have += len(chunk)
                    on_bytes(have)
        if have < size:
            raise _Retry(f"the connection closed after {have} of {size} bytes")


def part_size(part: Path) -> int:
    """Bytes ``part`` holds (0 when it does not exist yet)."""
    try:
        return part.stat().st_size
    except FileNotFoundError:
        return 0


def _discard(part: Path) -> None:
    part.unlink(missing_ok=True)


def _open_part(part: Path, *, append: bool) -> FileIO:
    part.parent.mkdir(parents=True, exist_ok=True)
    # Unbuffered: a full disk must show up at the write that hit it, not at close.
    return FileIO(part, "ab" if append else "wb")


def _write(out: FileIO, chunk: bytes, part: Path) -> None:
    try:
        view = memoryview(chunk)
        while view:
            view = view[out.write(view) or 0:]
    except OSError as err:
        if err.errno == errno.ENOSPC:
            raise ModelDiskFull(
                f"no space left on the disk of {part.parent}",
                hint="free some space and run the same command again: it continues "
                     "where it stopped") from err
        raise


def _without_credentials(url: str) -> str:
    # A mirror behind a proxy may carry user:password; messages never need it.
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def _range_start(resp: aiohttp.ClientResponse) -> int | None:
    match = _CONTENT_RANGE.match(resp.headers.get("Content-Range", ""))
    return int(match.group(1)) if match else None


def _describe(err: BaseException, read_timeout: float) -> str:
    if isinstance(err, _Retry):
        return str(err)
    if isinstance(err, aiohttp.ConnectionTimeoutError):
        return "the server did not accept the connection in time"
    if isinstance(err, TimeoutError):
        return f"no data for {read_timeout:g} s"
    if isinstance(err, aiohttp.ClientPayloadError):
        return "the connection was cut mid-file"
    return f"connection failed ({err.__class__.__name__}: {err})"
