"""What commands print passes through the same redaction as the logs."""

from __future__ import annotations

import io
import sys

import pytest
from loguru import logger

from libra.logging import Redactor, setup_logging
from libra.output import RedactingWriter, redact_standard_streams, write_data


def test_printed_text_is_redacted() -> None:
    inner = io.StringIO()
    out = RedactingWriter(inner, Redactor(["configured-secret-value"]))
    print("failed: configured-secret-value rejected", file=out)
    print("dsn postgresql://libra:hunter2hunter2@db/libra", file=out)
    assert inner.getvalue() == ("failed: *** rejected\n"
                                "dsn postgresql://libra:***@db/libra\n")


def test_data_masks_configured_secrets_but_keeps_its_shape() -> None:
    # A model's reply: "the key: practise" is prose, not a credential to mask.
    inner = io.StringIO()
    out = RedactingWriter(inner, Redactor(["configured-secret-value"]))
    write_data(out, "The key: practise daily. configured-secret-value\n")
    # JSON settings and a bcrypt hash that happens to look like a Discord token.
    write_data(out, '{"metrics_token": null}\n')
    bcrypt_hash = "$2b$04$rFNdv7vcLD3n2zwQVVZSc.dA3v0eXVoa.VTTvwy3SlbFjx29x3E2K"
    write_data(out, bcrypt_hash)
    assert inner.getvalue() == ("The key: practise daily. ***\n"
                                '{"metrics_token": null}\n' + bcrypt_hash)
    plain = io.StringIO()
    write_data(plain, "no wrapper")
    assert plain.getvalue() == "no wrapper"


def test_logs_and_standard_streams_share_one_redactor(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    redact_standard_streams()
    redact_standard_streams()  # idempotent: never a wrapper around a wrapper
    assert isinstance(sys.stdout, RedactingWriter) and sys.stdout.inner is out
    # Settings are loaded after the streams are wrapped; their secrets reach both.
    setup_logging(fmt="human", secrets=["late-configured-secret"])
    try:
        print("printed late-configured-secret")
        print("to stderr late-configured-secret", file=sys.stderr)
        logger.error("logged late-configured-secret")
    finally:
        logger.remove()
    assert out.getvalue() == "printed ***\n"
    assert "to stderr ***" in err.getvalue() and "logged ***" in err.getvalue()
    assert "late-configured-secret" not in err.getvalue()
    # The log sink writes to the real stream, not through the wrapper a second time.
    assert err.getvalue().count("logged") == 1
    assert sys.stdout.isatty() is False and sys.stdout.encoding == out.encoding
