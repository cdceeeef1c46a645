"""``libra lang detect`` and ``libra lang list`` as real subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).parents[3]


def libra(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIBRA_")}
    env["PYTHONIOENCODING"] = "utf-8"
    return subprocess.run(
        [sys.executable, "-m", "libra", *args], input=stdin, capture_output=True,
        text=True, encoding="utf-8", cwd=ROOT, env=env, timeout=60, check=False,
    )


def parse(stdout: str) -> list[tuple[str, float]]:
    rows = []
    for line in stdout.splitlines():
        code, confidence = line.split("\t")
        assert len(confidence.split(".")[1]) == 2  # two decimals
        rows.append((code, float(confidence)))
    return rows


def test_detect_reads_arguments() -> None:
    result = libra("lang", "detect", "hola, qué tal?", "merci beaucoup", "안녕하세요")
    assert result.returncode == 0, result.stderr
    rows = parse(result.stdout)
    assert [code for code, _ in rows] == ["es", "fr", "ko"]
    assert all(confidence >= 0.75 for _, confidence in rows)


def test_detect_reads_stdin_line_by_line() -> None:
    result = libra("lang", "detect", stdin="danke!\n這個怎麼用？\n\nпривет\nok thanks\n")
    assert result.returncode == 0, result.stderr
    rows = parse(result.stdout)
    assert [code for code, _ in rows] == ["de", "zh-tw", "en", "ru", "en"]
    assert rows[2] == ("en", 0.0)  # the empty line: default language, no confidence


def test_list_shows_each_language_with_its_model() -> None:
    result = libra("lang", "list")
    assert result.returncode == 0, result.stderr
    models = {line.split("\t")[0]: line.split("\t")[1] for line in result.stdout.splitlines()}
    assert models["ko"] == "qwen2.5:7b-instruct"
    assert models["en"] == "llama3:8b-instruct-q4_K_M"
    assert len(models) == 12


def test_a_bad_language_setting_is_a_configuration_error() -> None:
    env_result = subprocess.run(
        [sys.executable, "-m", "libra", "lang", "detect", "hi"], capture_output=True,
        text=True, cwd=ROOT, timeout=60, check=False,
        env={**os.environ, "LIBRA_LANGUAGE__LANGUAGES": "en,tlh"},
    )
    assert env_result.returncode == 2
    assert "tlh" in env_result.stderr
