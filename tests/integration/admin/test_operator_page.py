"""The operator page over HTTP: login with bcrypt, CSRF on every form, throttling, logout."""

from __future__ import annotations

import asyncio
import re
from urllib.parse import urlencode

import bcrypt

from .conftest import StartAdmin
from .harness import AdminHarness, Reply

PASSWORD = "correct horse battery staple"
HASH = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _csrf(page: Reply) -> str:
    match = re.search(r'name="csrf" value="([0-9a-f]{64})"', page.body.decode())
    assert match, page.body
    return match.group(1)


async def _get(h: AdminHarness, path: str, cookie: str = "") -> Reply:
    return await h.request("GET", path, auth=False, headers={"Cookie": cookie} if cookie else {})


async def _post(h: AdminHarness, path: str, form: dict[str, str], cookie: str = "") -> Reply:
    headers = {**FORM, **({"Cookie": cookie} if cookie else {})}
    return await h.request("POST", path, auth=False, headers=headers,
                           body=urlencode(form).encode())


async def _login_page(h: AdminHarness) -> tuple[str, str]:
    page = await _get(h, "/admin/login")
    assert page.status == 200
    morsel = page.cookies["libra_admin_login"]
    return f"libra_admin_login={morsel.value}", _csrf(page)


async def _sign_in(h: AdminHarness) -> tuple[str, str]:
    login_cookie, csrf = await _login_page(h)
    reply = await _post(h, "/admin/login", {"csrf": csrf, "operator": "ops",
                                            "password": PASSWORD}, login_cookie)
    assert (reply.status, reply.headers["Location"]) == (303, "/admin")
    session = f"libra_admin_session={reply.cookies['libra_admin_session'].value}"
    page = await _get(h, "/admin", session)
    assert page.status == 200
    return session, _csrf(page)


async def test_login_flow_and_status_page(start_admin: StartAdmin) -> None:
    h = await start_admin(parts=("llm",), operator_password_hashes={"ops": HASH})
    first = await _get(h, "/admin")
    assert (first.status, first.headers["Location"]) == (303, "/admin/login")

    page = await _get(h, "/admin/login")
    cookie = page.cookies["libra_admin_login"]
    assert cookie["httponly"] and cookie["secure"] and cookie["samesite"] == "Strict"
    assert cookie["path"] == "/admin"
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp
    assert page.headers["X-Frame-Options"] == "DENY"

    session, csrf = await _sign_in(h)
    status = (await _get(h, "/admin", session)).body.decode()
    assert "Libra admin" in status and "<svg" in status and "<script" not in status
    assets = re.findall(r'(?:src|href)="([^"]*)"', status)
    assert assets == ["/admin/static/admin.css"]  # no CDN, nothing external

    flushed = await _post(h, "/admin/flush", {"csrf": csrf}, session)
    assert (flushed.status, flushed.headers["Location"]) == (303, "/admin?notice=flushed-0")
    assert "Cache flushed (0 entries)." in (await _get(h, "/admin?notice=flushed-0",
                                                       session)).body.decode()

    out = await _post(h, "/admin/logout", {"csrf": csrf}, session)
    assert (out.status, out.headers["Location"]) == (303, "/admin/login")
    assert (await _get(h, "/admin", session)).status == 303  # the session is gone


async def test_forms_without_a_valid_csrf_token_are_refused(start_admin: StartAdmin) -> None:
    h = await start_admin(operator_password_hashes={"ops": HASH})
    login_cookie, csrf = await _login_page(h)
    no_token = await _post(h, "/admin/login", {"operator": "ops", "password": PASSWORD},
                           login_cookie)
    other_browser = await _post(h, "/admin/login", {"csrf": csrf, "operator": "ops",
                                                    "password": PASSWORD})
    assert no_token.status == 403 and other_browser.status == 403
    assert "libra_admin_session" not in no_token.cookies

    session, good = await _sign_in(h)
    bad = await _post(h, "/admin/flush", {"csrf": csrf}, session)  # the login form's token
    assert (bad.status, bad.error) == (403, "csrf_invalid")
    anonymous = await _post(h, "/admin/logout", {"csrf": good})
    assert (anonymous.status, anonymous.error) == (401, "session_required")
    tampered = session[:-1] + ("0" if session[-1] != "0" else "1")
    assert (await _get(h, "/admin", tampered)).status == 303


async def test_failed_logins_are_throttled(start_admin: StartAdmin) -> None:
    h = await start_admin(operator_password_hashes={"ops": HASH}, failed_auth_limit=3)
    login_cookie, csrf = await _login_page(h)
    for operator, password in (("ops", "wrong"), ("nobody", PASSWORD), ("ops", "x" * 100)):
        reply = await _post(h, "/admin/login", {"csrf": csrf, "operator": operator,
                                                "password": password}, login_cookie)
        assert reply.status == 401
        assert "Wrong operator name or password." in reply.body.decode()
    blocked = await _post(h, "/admin/login", {"csrf": csrf, "operator": "ops",
                                              "password": "still wrong"}, login_cookie)
    assert blocked.status == 429
    assert int(blocked.headers["Retry-After"]) > 0
    assert "Too many failed sign-ins" in blocked.body.decode()
    assert "libra_admin_session" not in blocked.cookies
    # The right password still signs in (test_auth_throttle.py).
    right = await _post(h, "/admin/login", {"csrf": csrf, "operator": "ops",
                                            "password": PASSWORD}, login_cookie)
    assert right.status == 303


async def test_parallel_guesses_cannot_outrun_the_login_throttle(start_admin: StartAdmin) -> None:
    h = await start_admin(operator_password_hashes={"ops": HASH}, failed_auth_limit=3)
    login_cookie, csrf = await _login_page(h)
    form = {"csrf": csrf, "operator": "ops", "password": "wrong"}

    replies = await asyncio.gather(*(_post(h, "/admin/login", form, login_cookie)
                                     for _ in range(12)))

    statuses = sorted(r.status for r in replies)
    assert statuses == [401] * 3 + [429] * 9


async def test_a_notice_that_is_not_ours_is_ignored(start_admin: StartAdmin) -> None:
    h = await start_admin(operator_password_hashes={"ops": HASH})
    session, _ = await _sign_in(h)
    for notice in ("flushed-" + "9" * 5000, "flushed-%D9%A3", "flushed--1", "<b>hi</b>"):
        page = await _get(h, f"/admin?notice={notice}", session)
        assert page.status == 200, (notice[:20], page.body[:200])
        assert 'id="notice"' not in page.body.decode()
