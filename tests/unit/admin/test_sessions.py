"""Operator session cookies and CSRF tokens."""

from __future__ import annotations

import asyncio

import bcrypt
import pytest

from libra.admin.passwords import PasswordChecker
from libra.admin.sessions import OperatorSessions, hash_password

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
    passwords = PasswordChecker({"ops": hashed, "broken": "not a hash"})
    try:
        assert await passwords.check("ops", "hunter2hunter2")
        assert not await passwords.check("ops", "hunter2")
        assert not await passwords.check("nobody", "hunter2hunter2")
        assert not await passwords.check("broken", "anything")
        assert not await passwords.check("ops", "x" * 100)
    finally:
        passwords.close()


@pytest.mark.parametrize("password", ["", "é" * 37])
def test_hash_password_refuses_what_bcrypt_cannot_hash(password: str) -> None:
    with pytest.raises(ValueError):
        hash_password(password, rounds=4)


async def test_password_checks_wait_in_a_short_line_trusted_browsers_first() -> None:
    hashed = hash_password("hunter2hunter2", rounds=8)
    passwords = PasswordChecker({"ops": hashed}, max_waiting=1)
    finished: list[str] = []

    async def check(name: str, *, trusted: bool = False) -> bool | None:
        result = await passwords.check("ops", "hunter2hunter2", trusted=trusted)
        finished.append(name)
        return result

    try:
        running = asyncio.create_task(check("first"))
        await asyncio.sleep(0)
        waiting = asyncio.create_task(check("second"))
        await asyncio.sleep(0)
        assert await check("refused") is None  # the line is full: no bcrypt work queued
        trusted = asyncio.create_task(check("trusted", trusted=True))
        assert await asyncio.gather(running, waiting, trusted) == [True, True, True]
    finally:
        passwords.close()
    assert finished == ["refused", "first", "trusted", "second"]


def test_a_device_cookie_names_its_operator_until_it_expires() -> None:
    now = [1000.0]
    sessions = OperatorSessions(SECRET, ttl=60, clock=lambda: now[0])
    cookie = sessions.device_cookie("ops.name~é")
    assert sessions.device_operator(cookie) == "ops.name~é"
    assert sessions.device_operator(cookie[:-1] + ("0" if cookie[-1] != "0" else "1")) is None
    assert sessions.device_operator(sessions.login_cookie()) is None
    now[0] += 31 * 86400
    assert sessions.device_operator(cookie) is None
