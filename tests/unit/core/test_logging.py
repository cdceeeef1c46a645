from __future__ import annotations

import base64
import io
import json
import logging
import subprocess
import sys
import time

import pytest
from loguru import logger

from libra.logging import Redactor, setup_logging

TOKEN = "MTA5ODc2NTQzMjEwOTg3NjU0.GhIjKl.abcdefghijklmnopqrstuvwxyz0123456789"


@pytest.fixture
def json_log() -> io.StringIO:
    stream = io.StringIO()
    setup_logging(fmt="json", secrets=["configured-secret-value", "s3cr3t-api-key"],
                  stream=stream)
    yield stream
    logger.remove()


def lines(stream: io.StringIO) -> list[dict[str, str]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (f"logging in with {TOKEN}", TOKEN),
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload", "eyJhbGciOiJIUzI1NiJ9"),
        ("Authorization: Bot abcdefghijklmnop", "abcdefghijklmnop"),
        ("dsn postgresql://libra:hunter2@db:5432/libra", "hunter2"),
        ("redis://:redispass@cache:6379/0", "redispass"),
        ("password=letmein123 next", "letmein123"),
        ('{"secret": "opensesame"}', "opensesame"),
        ("token=tok_12345&x=1", "tok_12345"),
        ("api_key: sk-live-0000", "sk-live-0000"),
        ("key=abcdef0123", "abcdef0123"),
        ("the configured-secret-value leaked", "configured-secret-value"),
        ("s3cr3t-api-key in a sentence", "s3cr3t-api-key"),
    ],
)
def test_every_secret_kind_is_redacted(json_log: io.StringIO, text: str, secret: str) -> None:
    logger.info(text)
    logger.bind(detail=text).warning("with extra")
    output = json_log.getvalue()
    assert secret not in output
    assert "***" in output


def test_exceptions_and_tracebacks_are_redacted(json_log: io.StringIO) -> None:
    try:
        raise ConnectionError("cannot reach postgresql://u:topsecretpw@db/x")
    except ConnectionError:
        logger.exception("database down")
    record = lines(json_log)[-1]
    assert "topsecretpw" not in json_log.getvalue()
    assert "ConnectionError" in record["exception"]


def test_stdlib_logging_goes_through_redaction(json_log: io.StringIO) -> None:
    logging.getLogger("hikari.rest").warning("sending Authorization: Bot %s", TOKEN)
    record = lines(json_log)[-1]
    assert TOKEN not in json_log.getvalue()
    assert record["logger"] == "hikari.rest"
    assert record["level"] == "WARNING"


def test_human_format_is_redacted_too() -> None:
    stream = io.StringIO()
    setup_logging(fmt="human", secrets=["configured-secret-value"], stream=stream)
    logger.info("value configured-secret-value and password=abc12345")
    logger.remove()
    text = stream.getvalue()
    assert "configured-secret-value" not in text and "abc12345" not in text
    assert "INFO" in text and not text.startswith("{")


def test_human_format_writes_each_line_and_traceback_once() -> None:
    # "\n{exception}" was added to a format loguru already ends with it: every line was
    # followed by a blank one, and every traceback printed twice.
    stream = io.StringIO()
    setup_logging(fmt="human", stream=stream)
    logger.info("first")
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("failed")
    logger.info("last")
    logger.remove()
    text = stream.getvalue()
    assert text.count("Traceback (most recent call last)") == 1
    assert text.count("ValueError: boom") == 1
    assert "\n\n" not in text
    assert [line.split()[-1] for line in text.splitlines() if "INFO" in line] == [
        "first", "last"]


def test_auto_format_is_json_when_not_a_terminal() -> None:
    stream = io.StringIO()
    setup_logging(fmt="auto", stream=stream)
    logger.info("hello")
    logger.remove()
    assert json.loads(stream.getvalue())["message"] == "hello"


def test_redactor_keeps_ordinary_text() -> None:
    redact = Redactor(["abc"])  # too short to be a secret worth masking everywhere
    text = "The keyboard has keys; tokens of appreciation; https://example.com/a/b"
    assert redact(text) == text


def test_redaction_of_a_long_base64_line_is_fast() -> None:
    # An error body or payload carrying an image or audio clip as base64 must not
    # stall the event loop (and with it the Discord heartbeat) for seconds.

    blob = base64.urlsafe_b64encode(bytes(range(256)) * 200).decode()  # ~68 kB
    redact = Redactor(["configured-secret-value"])
    t0 = time.perf_counter()
    out = redact(f"upload failed: {blob} password=letmein123")
    assert time.perf_counter() - t0 < 1.0
    assert "letmein123" not in out and blob in out


def test_secret_needing_json_escapes_is_redacted_in_exceptions() -> None:
    secret = 'pa"ss\\word-42'
    stream = io.StringIO()
    setup_logging(fmt="json", secrets=[secret], stream=stream)
    try:
        try:
            raise OSError(f"login refused for {secret}")
        except OSError as inner:
            raise RuntimeError("could not connect") from inner
    except RuntimeError:
        logger.exception("startup failed")
    logger.bind(detail=ValueError(secret)).info("with an object extra")
    logger.remove()
    assert "word-42" not in stream.getvalue()


_CHILD = """
import logging, sys, warnings
from libra.logging import setup_logging
setup_logging(fmt="json", stream=sys.stdout)
warnings.warn("connecting to postgresql://u:warnpass99@db/x", UserWarning, stacklevel=1)
logging.getLogger("hikari.gateway").warning("shard %s lost %s", 1)
logging.getLogger("hikari.gateway").warning("still logging")
"""


def test_stdlib_errors_and_python_warnings_go_through_the_sinks() -> None:
    # A separate interpreter: pytest turns warnings into errors and fails on bad log
    # records by design, which is what this checks Libra does not do in production.

    done = subprocess.run([sys.executable, "-W", "default", "-c", _CHILD],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr  # a library's bad log call never raises
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert records[-1]["message"] == "still logging"
    assert any("UserWarning" in r["message"] for r in records)  # JSON like the rest
    assert "warnpass99" not in done.stdout + done.stderr


def test_basic_auth_is_redacted_but_prose_about_the_bot_is_kept() -> None:
    redact = Redactor()
    assert "dXNlcjpwYXNzd29yZA" not in redact("Authorization: Basic dXNlcjpwYXNzd29yZA==")
    assert "dXNlcjpwYXNzd29yZA" not in redact("{'authorization': 'basic dXNlcjpwYXNzd29yZA=='}")
    prose = "the bot responded quickly; Bot permissions missing; a basic question"
    assert redact(prose) == prose
    assert "MTA5ODc2NTQz" not in redact("retrying with Bot MTA5ODc2NTQzMjEwOTg3NjU0")


@pytest.mark.parametrize("text", [
    "cannot hash the password: the password is empty",
    '{"metrics_token": null, "api_key": false}',
    "secret: None",
])
def test_prose_and_json_literals_after_a_key_word_are_not_secrets(text: str) -> None:
    # Command output passes through the redactor too: it must stay readable and valid.
    assert Redactor()(text) == text
    assert Redactor()("password=hunter2 token: none2") == "password=*** token: ***"
