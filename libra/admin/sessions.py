"""Operator sessions: signed cookies, CSRF tokens and bcrypt password checks.

Keys are derived from the admin secret with distinct labels (one for cookies, one for
CSRF tokens), so the secret itself never signs anything a browser sees and changing
it invalidates every cookie and token. Sessions are also held in memory, which makes
logout real and a restart a global logout.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

import bcrypt

from .auth import Clock

SESSION_COOKIE = "libra_admin_session"
LOGIN_COOKIE = "libra_admin_login"
BCRYPT_MAX_BYTES = 72
"""bcrypt reads at most 72 bytes; bcrypt 5 refuses longer passwords outright."""

# A cost-12 hash of a random string nobody knows: unknown operator names are checked
# against it so that a wrong name costs as much time as a wrong password.
_DUMMY_HASH = b"$2b$12$pgzOzC1EGdQE3Ddwz.hry.og00GNQljrFayCCIDcLbW/0quU1MUP2"


def derive_key(secret: bytes, label: str) -> bytes:
    """A purpose-bound key: HMAC-SHA256(secret, label)."""
    return hmac.new(secret, f"libra-admin/{label}/v1".encode(), hashlib.sha256).digest()


@dataclass(frozen=True, slots=True)
class OperatorSession:
    """A logged-in operator."""

    sid: str
    operator: str
    expires: float


class OperatorSessions:
    """Issues, resolves and revokes session cookies; makes and checks CSRF tokens."""

    def __init__(self, secret: bytes, *, ttl: float, clock: Clock = time.time) -> None:
        self._cookie_key = derive_key(secret, "session-cookie")
        self._csrf_key = derive_key(secret, "csrf")
        self._ttl = ttl
        self._clock = clock
        self._sessions: dict[str, OperatorSession] = {}

    @property
    def ttl(self) -> float:
        """Seconds a session lasts."""
        return self._ttl

    def _sign(self, payload: str) -> str:
        return hmac.new(self._cookie_key, payload.encode(), hashlib.sha256).hexdigest()

    def _unsign(self, value: str | None, prefix: str) -> str | None:
        if not value or value.count(".") != 2:
            return None
        kind, token, signature = value.split(".")
        if kind != prefix or not hmac.compare_digest(self._sign(f"{kind}.{token}"), signature):
            return None
        return token

    # -- sessions ------------------------------------------------------------------

    def issue(self, operator: str) -> str:
        """Start a session for ``operator``; return the cookie value."""
        now = self._clock()
        for sid in [s for s, v in self._sessions.items() if v.expires <= now]:
            del self._sessions[sid]
        sid = secrets.token_urlsafe(24)
        self._sessions[sid] = OperatorSession(sid, operator, now + self._ttl)
        return f"s.{sid}.{self._sign(f's.{sid}')}"

    def resolve(self, cookie: str | None) -> OperatorSession | None:
        """The live session a cookie names, or ``None`` (bad signature, expired, revoked)."""
        sid = self._unsign(cookie, "s")
        session = self._sessions.get(sid) if sid else None
        if session is None or session.expires <= self._clock():
            return None
        return session

    def revoke(self, session: OperatorSession) -> None:
        """End a session (logout)."""
        self._sessions.pop(session.sid, None)

    # -- login form ------------------------------------------------------------------

    def login_cookie(self) -> str:
        """A signed random value that binds the login form's CSRF token to this browser."""
        token = secrets.token_urlsafe(24)
        return f"l.{token}.{self._sign(f'l.{token}')}"

    def login_binding(self, cookie: str | None) -> str | None:
        """The random part of a valid login cookie."""
        return self._unsign(cookie, "l")

    # -- CSRF ------------------------------------------------------------------------

    def csrf_token(self, binding: str) -> str:
        """The token a form bound to ``binding`` (a login cookie or a session) must carry."""
        return hmac.new(self._csrf_key, binding.encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, binding: str | None, token: object) -> bool:
        """Constant-time check of a submitted CSRF token."""
        if binding is None or not isinstance(token, str):
            return False
        return hmac.compare_digest(self.csrf_token(binding), token)


async def check_password(hashes: dict[str, str], operator: str, password: str) -> bool:
    """Whether ``password`` matches ``operator``'s bcrypt hash (in a worker thread)."""
    raw = password.encode("utf-8", "surrogatepass")
    stored = hashes.get(operator)
    if len(raw) > BCRYPT_MAX_BYTES:
        raw = raw[:0]  # still spend the time, never match
        stored = None
    hashed = stored.encode() if stored else _DUMMY_HASH

    def check() -> bool:
        try:
            return bcrypt.checkpw(raw, hashed)
        except ValueError:  # a malformed hash in the config never logs anyone in
            return False

    matched = await asyncio.to_thread(check)
    return matched and stored is not None


def hash_password(password: str, *, rounds: int = 12) -> str:
    """The bcrypt hash to put in ``admin.operator_password_hashes``.

    Raises:
        ValueError: the password is empty or longer than 72 bytes.
    """
    raw = password.encode("utf-8")
    if not raw:
        raise ValueError("the password is empty")
    if len(raw) > BCRYPT_MAX_BYTES:
        raise ValueError(f"bcrypt uses at most {BCRYPT_MAX_BYTES} bytes; use a shorter password")
    return bcrypt.hashpw(raw, bcrypt.gensalt(rounds)).decode()
