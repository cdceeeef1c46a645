"""What commands print passes through the same redaction as the logs."""

from __future__ import annotations

import io
import sys
from pathlib import Path

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


def test_run_without_token_prints_its_instructions_unmasked(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    # The instructions go through the redacting stderr: the placeholder token and the
    # invite scopes ("bot applications.commands") are shapes a secret could have, but
    # they are the words the operator must copy, and no configured secret is in them.
    from libra.cli import main
    from libra.discord.onboarding import INVITE_SCOPES

    for name in ("DISCORD_TOKEN", "DISCORD_TOKEN_FILE", "LIBRA_DISCORD__TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    config = tmp_path / "libra.toml"
    config.write_text("")
    try:
        assert main(["run", "--config", str(config)]) == 2
        err = sys.stderr.inner.getvalue()  # type: ignore[attr-defined]
    finally:
        logger.remove()
    assert "export DISCORD_TOKEN='paste-the-token-here'" in err
    assert f"Scopes: {' '.join(INVITE_SCOPES)};" in err
    assert "***" not in err
