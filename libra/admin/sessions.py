"""Operator sessions: signed cookies, CSRF tokens and bcrypt password hashes.

Keys are derived from the admin secret with distinct labels (one for cookies, one for
CSRF tokens), so the secret itself never signs anything a browser sees and changing
it invalidates every cookie and token. Sessions are also held in memory, which makes
logout real and a restart a global logout.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

import bcrypt

from .auth import Clock
from .passwords import BCRYPT_MAX_BYTES

SESSION_COOKIE = "libra_admin_session"
LOGIN_COOKIE = "libra_admin_login"
DEVICE_COOKIE = "libra_admin_device"
DEVICE_TTL = 30 * 86400
"""Seconds a browser is remembered as one where an operator signed in (``passwords.py``)."""


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

    # -- device ------------------------------------------------------------------------

    def device_cookie(self, operator: str) -> str:
        """A signed cookie saying ``operator`` signed in from this browser (until it expires).

        It lets nobody in: it only puts that operator's sign-ins ahead of other waiting
        password checks.
        """
        name = base64.urlsafe_b64encode(operator.encode("utf-8", "surrogatepass")).decode()
        token = f"{name}~{int(self._clock() + DEVICE_TTL)}"
        return f"d.{token}.{self._sign(f'd.{token}')}"

    def device_operator(self, cookie: str | None) -> str | None:
        """The operator a valid, unexpired device cookie names."""
        token = self._unsign(cookie, "d")
        name, _, expires = (token or "").partition("~")
        if not expires.isdigit() or int(expires) <= self._clock():
            return None
        try:
            return base64.urlsafe_b64decode(name).decode("utf-8", "surrogatepass")
        except (binascii.Error, ValueError):
            return None

    # -- CSRF ------------------------------------------------------------------------

    def csrf_token(self, binding: str) -> str:
        """The token a form bound to ``binding`` (a login cookie or a session) must carry."""
        return hmac.new(self._csrf_key, binding.encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, binding: str | None, token: object) -> bool:
        """Constant-time check of a submitted CSRF token."""
        if binding is None or not isinstance(token, str):
            return False
        return hmac.compare_digest(self.csrf_token(binding), token)


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
