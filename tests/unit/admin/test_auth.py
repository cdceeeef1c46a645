"""Signature and header parsing: properties over arbitrary input, and the clock window."""

from __future__ import annotations

import asyncio
import string
from collections.abc import Mapping

from hypothesis import given, settings
from hypothesis import strategies as st

from libra.admin.auth import (
    NONCE_HEADER,
    SIGNATURE_HEADER,
    TS_HEADER,
    AuthFailure,
    HmacVerifier,
    check_shared_secret,
    parse_signed_headers,
    signed_headers,
)
from libra.admin.nonces import NonceCache
from libra.admin.throttle import FailureLimiter

SECRET = b"k" * 32
NOW = 1_800_000_000
PARSER_CODES = {"auth_missing", "timestamp_invalid", "nonce_invalid", "signature_invalid"}
VERIFY_CODES = PARSER_CODES | {"timestamp_expired", "timestamp_in_future", "nonce_replayed"}

header_values = st.one_of(st.none(), st.text(max_size=80),
                          st.text(alphabet=string.hexdigits, min_size=60, max_size=68),
                          st.integers(min_value=-10**13, max_value=10**13).map(str))
methods = st.sampled_from(["GET", "POST", "PUT", "DELETE"])
paths = st.text(alphabet=string.ascii_letters + string.digits + "/?=&._-%", min_size=1,
                max_size=40).map(lambda p: "/" + p)
bodies = st.binary(max_size=256)


def _verifier(now: float = NOW) -> HmacVerifier:
    return HmacVerifier(SECRET, window=300, clock=lambda: now)


def _verify(verifier: HmacVerifier, method: str, path: str, headers: Mapping[str, str],
            body: bytes) -> None:
    asyncio.run(verifier.verify(method, path, headers, body))


@given(ts=header_values, nonce=header_values, sig=header_values)
def test_parser_accepts_or_raises_only_auth_failures(ts: str | None, nonce: str | None,
                                                     sig: str | None) -> None:
    headers = {k: v for k, v in ((TS_HEADER, ts), (NONCE_HEADER, nonce),
                                 (SIGNATURE_HEADER, sig)) if v is not None}
    try:
        parsed = parse_signed_headers(headers)
    except AuthFailure as err:
        assert err.code in PARSER_CODES and err.status == 401
        return
    assert str(parsed.ts) == ts.strip().lstrip("0") or parsed.ts == 0  # type: ignore[union-attr]
    assert len(parsed.signature) == 64 and parsed.signature == parsed.signature.lower()


@given(method=methods, path=paths, body=bodies,
       skew=st.integers(min_value=-300, max_value=300))
def test_a_signed_request_verifies_exactly_once(method: str, path: str, body: bytes,
                                               skew: int) -> None:
    verifier = _verifier()
    headers = signed_headers(SECRET, method, path, body, ts=NOW + skew)
    _verify(verifier, method, path, headers, body)
    try:
        _verify(verifier, method, path, headers, body)
    except AuthFailure as err:
        assert err.code == "nonce_replayed"
    else:
        raise AssertionError("a replay was accepted")


@settings(max_examples=200)
@given(method=methods, path=paths, body=bodies, data=st.data())
def test_any_change_to_a_signed_request_is_refused(method: str, path: str, body: bytes,
                                                    data: st.DataObject) -> None:
    headers = signed_headers(SECRET, method, path, body, ts=NOW)
    what = data.draw(st.sampled_from(["method", "path", "body", "ts", "nonce", "sig"]))
    if what == "method":
        method = data.draw(methods.filter(lambda m: m != method))
    elif what == "path":
        path = data.draw(paths.filter(lambda p: p != path))
    elif what == "body":
        body = data.draw(bodies.filter(lambda b: b != body))
    elif what == "ts":
        headers[TS_HEADER] = str(NOW + data.draw(st.integers(1, 10_000)))
    elif what == "nonce":
        headers[NONCE_HEADER] = data.draw(st.text(alphabet=string.ascii_letters, min_size=16,
                                                  max_size=30))
    else:
        sig = headers[SIGNATURE_HEADER]
        i = data.draw(st.integers(0, 63))
        headers[SIGNATURE_HEADER] = sig[:i] + ("0" if sig[i] != "0" else "1") + sig[i + 1:]
    try:
        _verify(_verifier(), method, path, headers, body)
    except AuthFailure as err:
        assert err.code in VERIFY_CODES
    else:
        raise AssertionError(f"changed {what} but the request verified")


def test_clock_window_edges() -> None:
    for skew, code in ((-301, "timestamp_expired"), (301, "timestamp_in_future")):
        headers = signed_headers(SECRET, "GET", "/x", ts=NOW + skew)
        try:
            _verify(_verifier(), "GET", "/x", headers, b"")
        except AuthFailure as err:
            assert err.code == code
        else:
            raise AssertionError(skew)
    for skew in (-300, 300):
        _verify(_verifier(), "GET", "/x", signed_headers(SECRET, "GET", "/x", ts=NOW + skew),
                b"")


def test_nonces_are_forgotten_only_after_they_can_no_longer_verify() -> None:
    cache = NonceCache(ttl=300)
    assert cache.use("n" * 16, now=0) == 600
    assert cache.use("n" * 16, now=599) is None
    assert cache.use("n" * 16, now=600) == 1200
    assert len(cache) == 1


def test_shared_secret_check() -> None:
    check_shared_secret(SECRET, {"X-Shared-Secret": SECRET.decode()})
    for headers, code in (({}, "auth_missing"), ({"X-Shared-Secret": "k" * 31}, "auth_invalid"),
                          ({"X-Shared-Secret": "\ud800"}, "auth_invalid")):
        try:
            check_shared_secret(SECRET, headers)
        except AuthFailure as err:
            assert err.code == code
        else:
            raise AssertionError(headers)


def test_failure_limiter_throttles_past_the_limit_and_forgets_after_the_window() -> None:
    now = [0.0]
    limiter = FailureLimiter(3, 60, clock=lambda: now[0], max_clients=2)
    assert [limiter.record("a") for _ in range(3)] == [0, 0, 0]
    assert limiter.record("a") == 60  # the fourth failure in the window
    now[0] = 30
    assert limiter.record("a") == 30  # ... until the oldest of the newest three expires
    assert limiter.record("b") == 0
    now[0] = 91
    assert limiter.record("a") == 0  # only the ones at 30 s remain: within the limit
    limiter.record("c")  # bounded memory: the stalest client ("b") is dropped
    now[0] = 92
    assert [limiter.record("b") for _ in range(3)] == [0, 0, 0]


def test_a_request_signed_before_the_start_is_refused_in_whole_seconds() -> None:
    verifier = HmacVerifier(SECRET, window=300, clock=lambda: NOW + 0.7, not_before=NOW + 0.5)
    _verify(verifier, "GET", "/x", signed_headers(SECRET, "GET", "/x", ts=NOW), b"")
    try:
        _verify(verifier, "GET", "/x", signed_headers(SECRET, "GET", "/x", ts=NOW - 1), b"")
    except AuthFailure as err:
        assert err.code == "timestamp_expired" and "started" in err.message
    else:
        raise AssertionError("a request signed before the start was accepted")
