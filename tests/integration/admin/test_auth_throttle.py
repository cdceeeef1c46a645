"""Failed authentication: counted exactly under parallel load, never locking out a valid
credential, and reported to the operator once a minute per address."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import Counter
from urllib.parse import urlencode

import bcrypt
import pytest
from pydantic import SecretStr

from libra.admin.auth import SECRET_HEADER, signed_headers

from .conftest import StartAdmin
from .harness import AdminHarness, Reply, captured_logs

FLUSH = "/api/cache/flush"
DOC = "/api/openapi.json"
OTHER_SECRET = b"o" * 40
TOKEN = "scraper-token-" + "t" * 32
PASSWORD = "correct horse battery staple"
HASH = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _wrong_headers(h: AdminHarness, body: bytes, i: int) -> dict[str, str]:
    if h.settings.admin.auth_mode == "simple":
        return {SECRET_HEADER: f"guess-{i:058d}"}
    return signed_headers(OTHER_SECRET, "POST", FLUSH, body)


async def _wrong(h: AdminHarness, i: int = 0) -> Reply:
    body = b'{"namespace": "llama3:8b-instruct-q4_K_M"}'
    return await h.request("POST", FLUSH, body=body, headers=_wrong_headers(h, body, i),
                           auth=False)


async def _read_reply(reader: asyncio.StreamReader) -> tuple[int, str, dict[str, str]]:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    body = await asyncio.wait_for(reader.readexactly(int(headers["Content-Length"])), 10)
    return int(lines[0].split()[1]), json.loads(body)["error"], headers


@pytest.mark.parametrize("mode", ["simple", "hmac"])
async def test_parallel_wrong_guesses_are_all_counted(start_admin: StartAdmin,
                                                      mode: str) -> None:
    # 200 guesses at once, limit 10, each body arriving after every head has been read:
    # each guess must still see the failures before it, so exactly 10 are told "wrong"
    # and the other 190 are throttled.
    h = await start_admin(auth_mode=mode, failed_auth_limit=10)
    body = b'{"namespace": "llama3:8b-instruct-q4_K_M"}'

    async def send_head(i: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.open_connection("127.0.0.1", h.port)
        auth = "".join(f"{k}: {v}\r\n" for k, v in _wrong_headers(h, body, i).items())
        writer.write(f"POST {FLUSH} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                     f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                     f"{auth}\r\n".encode())
        await writer.drain()
        return reader, writer

    connections = await asyncio.gather(*(send_head(i) for i in range(200)))
    # A request sent after the heads is answered after the server has read them.
    assert (await h.request("GET", "/api/health", auth=False)).status == 200
    for _, writer in connections:
        writer.write(body)
    try:
        replies = await asyncio.gather(*(_read_reply(reader) for reader, _ in connections))
    finally:
        for _, writer in connections:
            writer.close()

    assert Counter((status, error) for status, error, _ in replies) == {
        (401, "signature_invalid" if mode == "hmac" else "auth_invalid"): 10,
        (429, "too_many_failures"): 190}
    assert all(int(headers["Retry-After"]) > 0
               for status, _, headers in replies if status == 429)


async def _login_form(h: AdminHarness) -> tuple[str, str]:
    page = await h.request("GET", "/admin/login", auth=False)
    assert page.status == 200
    match = re.search(r'name="csrf" value="([0-9a-f]{64})"', page.body.decode())
    assert match
    return f"libra_admin_login={page.cookies['libra_admin_login'].value}", match.group(1)


async def _login(h: AdminHarness, cookie: str, csrf: str, password: str) -> Reply:
    form = urlencode({"csrf": csrf, "operator": "ops", "password": password}).encode()
    return await h.request("POST", "/admin/login", auth=False, body=form,
                           headers={**FORM, "Cookie": cookie})


@pytest.mark.parametrize("mode", ["simple", "hmac"])
async def test_a_valid_credential_gets_in_from_a_throttled_address(start_admin: StartAdmin,
                                                                   mode: str) -> None:
    # Every local client is 127.0.0.1: another local process failing on purpose must
    # not lock out the operator's CLI, the Prometheus scraper or the login page.
    h = await start_admin(auth_mode=mode, failed_auth_limit=3,
                          metrics_token=SecretStr(TOKEN),
                          operator_password_hashes={"ops": HASH})
    cookie, csrf = await _login_form(h)
    for i in range(12):
        assert (await _wrong(h, i)).status in (401, 429)
        assert (await _login(h, cookie, csrf, f"wrong {i}")).status in (401, 429)
    assert (await _wrong(h)).status == 429
    assert (await _login(h, cookie, csrf, "wrong again")).status == 429

    doc = await h.request("GET", DOC)
    assert doc.status == 200, doc.body
    scrape = await h.request("GET", "/metrics", auth=False,
                             headers={"Authorization": f"Bearer {TOKEN}"})
    assert scrape.status == 200, scrape.body
    page = await h.request("GET", "/admin/login", auth=False)
    assert page.status == 200
    signed_in = await _login(h, cookie, csrf, PASSWORD)
    assert (signed_in.status, signed_in.headers.get("Location")) == (303, "/admin"), \
        signed_in.body
    assert "libra_admin_session" in signed_in.cookies

    # ... while failures from that address are still throttled.
    still = await _wrong(h)
    assert (still.status, still.error) == (429, "too_many_failures")


async def test_failed_api_logins_are_logged_once_a_minute_per_address(
        start_admin: StartAdmin) -> None:
    h = await start_admin(auth_mode="simple", failed_auth_limit=5)
    with captured_logs("WARNING") as lines:
        for i in range(30):
            await _wrong(h, i)
        assert (await h.request("GET", DOC)).status == 200
        first = [line for line in lines if "127.0.0.1" in line]
        # One line now (the operator learns of it at once), none per further failure.
        assert len(first) == 1, lines
        assert first[0].startswith("WARNING|")
        assert re.search(r"\b1 failed admin authentication\b", first[0]), first[0]
        await h.stop()  # what is still counted is reported, not lost
    summary = [line for line in lines if "127.0.0.1" in line][1:]
    assert len(summary) == 1, lines
    assert re.search(r"\b29 failed admin authentications\b", summary[0]), summary[0]
    assert "auth_invalid" in summary[0]
    for line in lines:
        assert "guess-" not in line and h.secret.decode() not in line


async def test_a_flood_of_wrong_sign_ins_keeps_out_neither_the_operator_nor_the_process(
        start_admin: StartAdmin) -> None:
    # Forty clients guessing sign-ins without pause, as any local process (or anyone
    # behind the TLS proxy: one address for all) can: each guess cost a bcrypt check
    # in asyncio's default executor. Its threads were all busy, so Libra's own
    # to_thread calls and name lookups waited seconds, and the operator's sign-in
    # timed out (504) behind the queue of guesses.
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(12)).decode()
    h = await start_admin(auth_mode="hmac", failed_auth_limit=10,
                          operator_password_hashes={"ops": hashed})
    cookie, csrf = await _login_form(h)
    signed_in = await _login(h, cookie, csrf, PASSWORD)  # this browser signed in before
    assert signed_in.status == 303
    device = "; ".join(f"{name}={morsel.value}" for name, morsel in signed_in.cookies.items()
                       if name != "libra_admin_session" and morsel.value)
    assert device.startswith("libra_admin_device=")

    answered: list[int] = []
    flooding = asyncio.Event()
    stop = asyncio.Event()

    async def guess() -> None:
        while not stop.is_set():
            answered.append((await _login(h, cookie, csrf, "a guess")).status)
            if len(answered) >= 20:
                flooding.set()

    guessers = [asyncio.create_task(guess()) for _ in range(40)]
    try:
        await asyncio.wait_for(flooding.wait(), 60)
        started = time.monotonic()
        await asyncio.to_thread(lambda: None)
        assert time.monotonic() - started < 2.0, "the default executor is starved"
        page_cookie, page_csrf = await _login_form(h)
        operator = await _login(h, f"{page_cookie}; {device}", page_csrf, PASSWORD)
        assert (operator.status, operator.headers.get("Location")) == (303, "/admin"), \
            operator.status
        # A browser never signed in from is told at once to retry, not kept waiting.
        stranger = await _login(h, page_cookie, page_csrf, PASSWORD)
        assert stranger.status in (303, 429)
    finally:
        stop.set()
        await asyncio.gather(*guessers)
    assert 504 not in answered
    assert set(answered) <= {401, 429}
