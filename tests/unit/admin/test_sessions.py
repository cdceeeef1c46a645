"""Operator session cookies and CSRF tokens."""

from __future__ import annotations

import bcrypt
import pytest

from libra.admin.sessions import OperatorSessions, check_password, hash_password

SECRET = b"s" * 32


def test_cookies_resolve_until_revoked_or_expired() -> None:
    now = [1000.0]
    sessions = OperatorSessions(SECRET, ttl=60, clock=lambda: now[0])
    cookie = sessions.issue("ops")
    session = sessions.resolve(cookie)
    assert session is not None and session.operator == "ops"
    assert sessions.resolve(cookie[:-1] + ("0" if cookie[-1] != "0" else "1")) is None
    assert sessions.resolve(cookie.replace("s.", "l.", 1)) is None
    assert OperatorSessions(b"t" * 32, ttl=60).resolve(cookie) is None  # another secret
    now[0] += 61
    assert sessions.resolve(cookie) is None
    now[0] = 1000.0
    sessions.revoke(session)
    assert sessions.resolve(cookie) is None


def test_csrf_tokens_are_bound_to_their_binding() -> None:
    sessions = OperatorSessions(SECRET, ttl=60)
    login = sessions.login_cookie()
    binding = sessions.login_binding(login)
    assert binding is not None
    token = sessions.csrf_token(f"login:{binding}")
    assert sessions.csrf_ok(f"login:{binding}", token)
    assert not sessions.csrf_ok(f"session:{binding}", token)
    assert not sessions.csrf_ok(None, token)
    assert not sessions.csrf_ok(f"login:{binding}", None)
    assert sessions.login_binding(login + "x") is None


async def test_passwords_check_against_bcrypt_hashes() -> None:
    hashed = hash_password("hunter2hunter2", rounds=4)
    assert bcrypt.checkpw(b"hunter2hunter2", hashed.encode())
    hashes = {"ops": hashed, "broken": "not a hash"}
    assert await check_password(hashes, "ops", "hunter2hunter2")
    assert not await check_password(hashes, "ops", "hunter2")
    assert not await check_password(hashes, "nobody", "hunter2hunter2")
    assert not await check_password(hashes, "broken", "anything")
    assert not await check_password(hashes, "ops", "x" * 100)


@pytest.mark.parametrize("password", ["", "é" * 37])
def test_hash_password_refuses_what_bcrypt_cannot_hash(password: str) -> None:
    with pytest.raises(ValueError):
        hash_password(password, rounds=4)
