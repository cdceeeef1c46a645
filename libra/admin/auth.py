"""Request authentication: a shared secret, or replay-proof HMAC signatures.

HMAC mode: the client sends ``X-Ts`` (Unix seconds), ``X-Nonce`` (16-128 URL-safe
characters, fresh per request) and ``X-Signature``, the hex HMAC-SHA256 with the
shared secret of ``METHOD|PATH|TS|NONCE|sha256hex(body)``. ``PATH`` is the request
target exactly as sent (path and query string, no normalisation), so a proxy that
rewrites the path invalidates the signature instead of changing its meaning. The
timestamp must be within the window of the server clock and not before the server
started, and each nonce is accepted once while it could still verify (kept where every
instance and the next run see it: ``nonces.py``); nonces are remembered only after the
signature matched, so forged requests cannot fill the store or burn a client's nonces.

Every check compares with :func:`hmac.compare_digest`, and every rejection carries a
stable code (:class:`AuthFailure`) that the server returns as JSON.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from libra.errors import AdminError

from .nonces import LocalNonces, NonceStore

SECRET_HEADER = "X-Shared-Secret"
TS_HEADER = "X-Ts"
NONCE_HEADER = "X-Nonce"
SIGNATURE_HEADER = "X-Signature"
MIN_SECRET_BYTES = 32
"""Shorter secrets are refused at start: a 32-byte key matches SHA-256's strength."""

_TS = re.compile(r"[0-9]{1,12}")
_NONCE = re.compile(r"[A-Za-z0-9_-]{16,128}")
_SIGNATURE = re.compile(r"[0-9a-fA-F]{64}")

Clock = Callable[[], float]


class AuthFailure(AdminError):
    """A request failed authentication; ``code`` is returned to the client."""

    code = "auth_failed"

    def __init__(self, code: str, message: str, status: int = 401) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


@dataclass(frozen=True, slots=True)
class SignedHeaders:
    """The three HMAC headers, parsed and syntactically valid."""

    ts: int
    nonce: str
    signature: str


def body_digest(body: bytes) -> str:
    """Hex SHA-256 of the request body (empty body included)."""
    return hashlib.sha256(body).hexdigest()


def canonical_request(method: str, path: str, *, ts: int, nonce: str, body: bytes) -> bytes:
    """The exact bytes that are signed."""
    return f"{method.upper()}|{path}|{ts}|{nonce}|{body_digest(body)}".encode()


def sign(secret: bytes, method: str, path: str, *, ts: int, nonce: str, body: bytes) -> str:
    """Hex HMAC-SHA256 of the canonical request."""
    message = canonical_request(method, path, ts=ts, nonce=nonce, body=body)
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def signed_headers(
    secret: bytes, method: str, path: str, body: bytes = b"", *,
    ts: int | None = None, nonce: str | None = None,
) -> dict[str, str]:
    """Headers that authenticate one request in HMAC mode (for clients and tests)."""
    ts = int(time.time()) if ts is None else ts
    nonce = secrets.token_urlsafe(18) if nonce is None else nonce
    return {
        TS_HEADER: str(ts),
        NONCE_HEADER: nonce,
        SIGNATURE_HEADER: sign(secret, method, path, ts=ts, nonce=nonce, body=body),
    }


def parse_signed_headers(headers: Mapping[str, str]) -> SignedHeaders:
    """Check the HMAC headers' presence and syntax (not the signature).

    Raises:
        AuthFailure: ``auth_missing``, ``timestamp_invalid``, ``nonce_invalid`` or
            ``signature_invalid``; nothing else, whatever the input.
    """
    raw_ts = headers.get(TS_HEADER)
    raw_nonce = headers.get(NONCE_HEADER)
    raw_sig = headers.get(SIGNATURE_HEADER)
    if raw_ts is None or raw_nonce is None or raw_sig is None:
        missing = [n for n, v in ((TS_HEADER, raw_ts), (NONCE_HEADER, raw_nonce),
                                  (SIGNATURE_HEADER, raw_sig)) if v is None]
        raise AuthFailure("auth_missing", f"missing header(s): {', '.join(missing)}")
    ts_text = raw_ts.strip()
    if not _TS.fullmatch(ts_text):
        raise AuthFailure("timestamp_invalid", f"{TS_HEADER} must be Unix seconds (digits)")
    if not _NONCE.fullmatch(raw_nonce):
        raise AuthFailure("nonce_invalid",
                          f"{NONCE_HEADER} must be 16-128 characters of A-Z a-z 0-9 _ -")
    if not _SIGNATURE.fullmatch(raw_sig.strip()):
        raise AuthFailure("signature_invalid",
                          f"{SIGNATURE_HEADER} must be 64 hex digits (HMAC-SHA256)")
    return SignedHeaders(int(ts_text), raw_nonce, raw_sig.strip().lower())


class HmacVerifier:
    """Verifies signed requests against one secret, a clock window and a nonce store.

    The checks that need only the headers (:meth:`check_headers`) run before the body is
    read; the signature (:meth:`check_signature`) and the nonce (:meth:`use_nonce`) after.
    """

    def __init__(self, secret: bytes, *, window: float = 300.0, clock: Clock = time.time,
                 nonces: NonceStore | None = None, not_before: float | None = None) -> None:
        self._secret = secret
        self._window = window
        self._clock = clock
        self.nonces: NonceStore = nonces if nonces is not None else LocalNonces(window)
        self.not_before = 0.0 if not_before is None else not_before
        """Requests signed before this (the server's start) are refused: the nonces of
        an earlier run may be lost, so one of its requests could be replayed."""

    def check_headers(self, headers: Mapping[str, str]) -> SignedHeaders:
        """Parse the headers and check the timestamp.

        Raises:
            AuthFailure: with the code of the first check that failed.
        """
        parsed = parse_signed_headers(headers)
        now = self._clock()
        if parsed.ts < now - self._window:
            raise AuthFailure("timestamp_expired",
                              f"{TS_HEADER} is more than {self._window:g}s in the past")
        if parsed.ts > now + self._window:
            raise AuthFailure("timestamp_in_future",
                              f"{TS_HEADER} is more than {self._window:g}s in the future")
        # Whole seconds: a request signed in the second the server started is accepted,
        # so a client never has to wait out a restart.
        if parsed.ts < math.floor(self.not_before):
            raise AuthFailure("timestamp_expired",
                              f"{TS_HEADER} is before this server started; sign again")
        return parsed

    def check_signature(self, parsed: SignedHeaders, method: str, path: str,
                        body: bytes) -> None:
        """Raise unless the signature matches the request.

        Raises:
            AuthFailure: ``signature_invalid``.
        """
        expected = sign(self._secret, method, path, ts=parsed.ts, nonce=parsed.nonce,
                        body=body)
        if not hmac.compare_digest(expected, parsed.signature):
            raise AuthFailure("signature_invalid", "signature does not match the request")

    async def use_nonce(self, parsed: SignedHeaders) -> None:
        """Use the request's nonce (after its signature matched).

        Raises:
            AuthFailure: ``nonce_replayed``.
            NonceStoreUnavailable: the shared store cannot tell (the request is refused).
        """
        if not await self.nonces.use(parsed.nonce, self._clock()):
            raise AuthFailure("nonce_replayed", f"{NONCE_HEADER} was already used")

    async def verify(self, method: str, path: str, headers: Mapping[str, str],
                     body: bytes) -> None:
        """Accept the request or raise (every check, in order).

        Raises:
            AuthFailure: with the code of the first check that failed.
            NonceStoreUnavailable: the shared nonce store cannot tell.
        """
        parsed = self.check_headers(headers)
        self.check_signature(parsed, method, path, body)
        await self.use_nonce(parsed)


def check_shared_secret(secret: bytes, headers: Mapping[str, str]) -> None:
    """Accept the request when ``X-Shared-Secret`` equals the secret.

    Raises:
        AuthFailure: ``auth_missing`` or ``auth_invalid``.
    """
    given = headers.get(SECRET_HEADER)
    if given is None:
        raise AuthFailure("auth_missing", f"missing header: {SECRET_HEADER}")
    if not hmac.compare_digest(given.encode("utf-8", "surrogatepass"), secret):
        raise AuthFailure("auth_invalid", f"{SECRET_HEADER} is wrong")


def check_bearer(token: bytes, headers: Mapping[str, str]) -> bool:
    """``True`` when ``Authorization: Bearer <token>`` matches (for metrics scrapers)."""
    if not token:
        return False  # an empty configured token would match an empty ``Bearer``
    value = headers.get("Authorization", "")
    scheme, _, given = value.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode("utf-8", "surrogatepass"), token)
