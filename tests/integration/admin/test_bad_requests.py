"""Every bad request gets its exact status and stable error code, in both auth modes."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from libra.admin.auth import NONCE_HEADER, SIGNATURE_HEADER, TS_HEADER, signed_headers

from .conftest import StartAdmin
from .harness import AdminHarness, Reply

READY = "/api/health/ready"
FLUSH = "/api/cache/flush"
OTHER_SECRET = b"o" * 40
LONG_DAYS = "/api/stats?days=" + "7" * 5000
DEEP_JSON = b"[" * 30_000 + b"]" * 30_000
DEEP_NAMESPACE = b'{"namespace": ' + b"[" * 20_000 + b"]" * 20_000 + b"}"
HUGE_NUMBER = b'{"namespace": ' + b"9" * 5000 + b"}"


def _signed(method: str, path: str, body: bytes = b"", **kw: object) -> Callable[
        [AdminHarness], dict[str, str]]:
    def build(h: AdminHarness) -> dict[str, str]:
        return signed_headers(h.secret, method, path, body, **kw)  # type: ignore[arg-type]
    return build


def _replace(base: Callable[[AdminHarness], dict[str, str]], **changes: str | None
             ) -> Callable[[AdminHarness], dict[str, str]]:
    def build(h: AdminHarness) -> dict[str, str]:
        headers = base(h)
        for key, value in changes.items():
            name = {"ts": TS_HEADER, "nonce": NONCE_HEADER, "sig": SIGNATURE_HEADER}[key]
            if value is None:
                headers.pop(name)
            else:
                headers[name] = value
        return headers
    return build


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    path: str
    status: int
    error: str
    headers: Callable[[AdminHarness], dict[str, str]] = field(default=lambda h: {})
    body: bytes = b""
    raw: bool = False
    """Send the request line byte for byte (no client normalisation)."""


def _now() -> int:
    return int(time.time())


HMAC_CASES = [
    Case("no auth headers", "GET", READY, 401, "auth_missing"),
    Case("missing nonce", "GET", READY, 401, "auth_missing",
         _replace(_signed("GET", READY), nonce=None)),
    Case("missing signature", "GET", READY, 401, "auth_missing",
         _replace(_signed("GET", READY), sig=None)),
    Case("wrong secret", "GET", READY, 401, "signature_invalid",
         lambda h: signed_headers(OTHER_SECRET, "GET", READY)),
    Case("wrong body hash", "POST", FLUSH, 401, "signature_invalid",
         _signed("POST", FLUSH, b'{"namespace": "a"}'), body=b'{"namespace": "b"}'),
    Case("signed for another path", "GET", READY, 401, "signature_invalid",
         _signed("GET", "/api/stats")),
    Case("signed for another method", "POST", FLUSH, 401, "signature_invalid",
         _signed("GET", FLUSH)),
    Case("expired timestamp", "GET", READY, 401, "timestamp_expired",
         lambda h: signed_headers(h.secret, "GET", READY, ts=_now() - 301)),
    Case("future timestamp", "GET", READY, 401, "timestamp_in_future",
         lambda h: signed_headers(h.secret, "GET", READY, ts=_now() + 301)),
    Case("non-numeric timestamp", "GET", READY, 401, "timestamp_invalid",
         _replace(_signed("GET", READY), ts="1700000000.5")),
    Case("timestamp with letters", "GET", READY, 401, "timestamp_invalid",
         _replace(_signed("GET", READY), ts="17e8")),
    Case("short nonce", "GET", READY, 401, "nonce_invalid",
         _replace(_signed("GET", READY), nonce="abc")),
    Case("signature not hex", "GET", READY, 401, "signature_invalid",
         _replace(_signed("GET", READY), sig="z" * 64)),
    Case("truncated signature", "GET", READY, 401, "signature_invalid",
         lambda h: {**signed_headers(h.secret, "GET", READY),
                    SIGNATURE_HEADER: signed_headers(h.secret, "GET", READY)[
                        SIGNATURE_HEADER][:63]}),
    Case("metrics without auth", "GET", "/metrics", 401, "auth_missing"),
    Case("stats without auth", "GET", "/api/stats", 401, "auth_missing"),
]

SIMPLE_CASES = [
    Case("no secret header", "GET", READY, 401, "auth_missing"),
    Case("wrong secret", "GET", READY, 401, "auth_invalid",
         lambda h: {"X-Shared-Secret": "x" * 64}),
    Case("secret with a trailing space", "GET", READY, 401, "auth_invalid",
         lambda h: {"X-Shared-Secret": h.secret.decode() + " x"}),
    Case("hmac headers in simple mode", "GET", READY, 401, "auth_missing", _signed("GET", READY)),
    Case("flush without auth", "POST", FLUSH, 401, "auth_missing", body=b"{}"),
    Case("metrics without auth", "GET", "/metrics", 401, "auth_missing"),
]

BOTH_MODES = [
    Case("oversized body", "POST", FLUSH, 413, "body_too_large",
         lambda h: h.auth_headers("POST", FLUSH, b"x" * 70_000), body=b"x" * 70_000),
    Case("oversized body without auth", "POST", FLUSH, 413, "body_too_large",
         body=b"{" + b" " * 66_000 + b"}"),
    Case("wrong method on flush", "GET", FLUSH, 405, "method_not_allowed",
         lambda h: h.auth_headers("GET", FLUSH)),
    Case("DELETE on health", "DELETE", "/api/health", 405, "method_not_allowed"),
    Case("unknown path", "GET", "/api/nope", 404, "not_found"),
    Case("trailing slash", "GET", READY + "/", 404, "not_found"),
    Case("trailing junk segment", "GET", READY + "/junk", 404, "not_found"),
    Case("junk suffix", "GET", "/metricsx", 404, "not_found"),
    Case("dot-dot segment", "GET", "/api/../metrics", 400, "path_invalid", raw=True),
    Case("dot segment", "GET", "/api/./health", 400, "path_invalid", raw=True),
    Case("encoded slash", "GET", "/api%2Fhealth", 400, "path_invalid", raw=True),
    Case("encoded dot-dot", "GET", "/api/%2e%2e/metrics", 400, "path_invalid", raw=True),
    Case("double slash", "GET", "//api/health", 400, "path_invalid", raw=True),
    Case("backslash", "GET", "/api\\health", 400, "path_invalid", raw=True),
    Case("semicolon parameter", "GET", "/metrics;x=1", 400, "path_invalid", raw=True),
    Case("malformed JSON body", "POST", FLUSH, 400, "body_invalid",
         lambda h: h.auth_headers("POST", FLUSH, b"{nope"), body=b"{nope"),
    Case("unknown JSON field", "POST", FLUSH, 400, "body_invalid",
         lambda h: h.auth_headers("POST", FLUSH, b'{"all": true}'), body=b'{"all": true}'),
    Case("bad namespace", "POST", FLUSH, 400, "body_invalid",
         lambda h: h.auth_headers("POST", FLUSH, b'{"namespace": "../x"}'),
         body=b'{"namespace": "../x"}'),
    Case("stats days out of range", "GET", "/api/stats?days=0", 400, "query_invalid",
         lambda h: h.auth_headers("GET", "/api/stats?days=0")),
    Case("stats days with 5000 digits", "GET", LONG_DAYS, 400, "query_invalid",
         lambda h: h.auth_headers("GET", LONG_DAYS)),
    Case("deeply nested JSON body", "POST", FLUSH, 400, "body_invalid",
         lambda h: h.auth_headers("POST", FLUSH, DEEP_JSON), body=DEEP_JSON),
    Case("deeply nested namespace", "POST", FLUSH, 400, "body_invalid",
         lambda h: h.auth_headers("POST", FLUSH, DEEP_NAMESPACE), body=DEEP_NAMESPACE),
    Case("body that is not the gzip it claims", "POST", FLUSH, 400, "body_invalid",
         lambda h: {**h.auth_headers("POST", FLUSH, b"hello"), "Content-Encoding": "gzip"},
         body=b"hello"),
    Case("namespace with 5000 digits", "POST", FLUSH, 400, "body_invalid",
         lambda h: h.auth_headers("POST", FLUSH, HUGE_NUMBER), body=HUGE_NUMBER),
]


async def _send(h: AdminHarness, case: Case) -> Reply:
    headers = case.headers(h)
    if case.raw:
        lines = [f"{case.method} {case.path} HTTP/1.1", f"Host: 127.0.0.1:{h.port}",
                 "Connection: close", *(f"{k}: {v}" for k, v in headers.items())]
        return await h.raw("\r\n".join(lines) + "\r\n\r\n")
    return await h.request(case.method, case.path, body=case.body, headers=headers, auth=False)


def _assert_refused(reply: Reply, case: Case) -> None:
    assert (reply.status, reply.error) == (case.status, case.error), reply.body
    data = reply.json()
    assert set(data) == {"error", "message"}
    assert "Traceback" not in data["message"]
    assert reply.headers["X-Content-Type-Options"] == "nosniff"
    assert reply.headers["X-Frame-Options"] == "DENY"
    assert reply.headers["Cache-Control"] == "no-store"
    assert "default-src 'none'" in reply.headers["Content-Security-Policy"]


@pytest.mark.parametrize("case", HMAC_CASES + BOTH_MODES, ids=lambda c: c.name)
async def test_hmac_mode_refuses(start_admin: StartAdmin, case: Case) -> None:
    h = await start_admin(auth_mode="hmac")
    _assert_refused(await _send(h, case), case)


@pytest.mark.parametrize("case", SIMPLE_CASES + BOTH_MODES, ids=lambda c: c.name)
async def test_simple_mode_refuses(start_admin: StartAdmin, case: Case) -> None:
    h = await start_admin(auth_mode="simple")
    _assert_refused(await _send(h, case), case)


async def test_replayed_nonce_is_refused(start_admin: StartAdmin) -> None:
    h = await start_admin(auth_mode="hmac")
    headers = signed_headers(h.secret, "POST", FLUSH, b"")
    first = await h.request("POST", FLUSH, headers=headers, auth=False)
    again = await h.request("POST", FLUSH, headers=headers, auth=False)
    assert first.status == 503 and first.error == "llm_unavailable"
    assert (again.status, again.error) == (401, "nonce_replayed")


async def test_duplicated_signature_header_is_refused(start_admin: StartAdmin) -> None:
    h = await start_admin(auth_mode="hmac")
    good = signed_headers(h.secret, "GET", READY)
    head = (f"GET {READY} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            + "".join(f"{k}: {v}\r\n" for k, v in good.items())
            + f"{SIGNATURE_HEADER}: {'0' * 64}\r\n\r\n")
    reply = await h.raw(head)
    assert (reply.status, reply.error) == (401, "header_duplicated")


async def test_failed_auth_is_throttled_per_address(start_admin: StartAdmin) -> None:
    h = await start_admin(auth_mode="simple", failed_auth_limit=3)
    for _ in range(3):
        assert (await h.request("GET", READY, auth=False)).status == 401
    blocked = await h.request("GET", READY, auth=False)
    assert (blocked.status, blocked.error) == (429, "too_many_failures")
    assert int(blocked.headers["Retry-After"]) > 0
    # The right secret still gets in (test_auth_throttle.py covers every entrance).
    assert (await h.request("GET", "/api/openapi.json")).status == 200
    assert (await h.request("GET", "/api/health", auth=False)).status == 200


async def test_a_stalled_body_times_out(start_admin: StartAdmin) -> None:
    h = await start_admin(auth_mode="simple", request_timeout=0.5)
    head = (f"POST {FLUSH} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            f"X-Shared-Secret: {h.secret.decode()}\r\nContent-Type: application/json\r\n"
            "Content-Length: 100\r\n\r\n")
    started = time.monotonic()
    reply = await h.raw(head, b'{"namespace": ')  # and then nothing more
    assert (reply.status, reply.error) == (504, "request_timeout")
    assert time.monotonic() - started < 5
