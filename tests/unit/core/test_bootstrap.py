"""``scripts/bootstrap`` as ``scripts/run`` and ``scripts/test`` call it, one after the other."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _checkout(tmp_path: Path) -> Path:
    """A copy of what bootstrap reads, with a .venv whose python only logs its calls."""
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "bootstrap", tmp_path / "scripts" / "bootstrap")
    for name in ("pyproject.toml", "constraints.txt"):
        shutil.copy(ROOT / name, tmp_path / name)
    venv_python = tmp_path / ".venv" / "bin" / "python"
    venv_python.parent.mkdir(parents=True)
    venv_python.write_text('#!/bin/sh\necho "$*" >> "$(dirname "$0")/../calls"\n')
    venv_python.chmod(0o755)
    return tmp_path


def _bootstrap(checkout: Path, extras: str) -> list[str]:
    calls = checkout / ".venv" / "calls"
    calls.unlink(missing_ok=True)
    subprocess.run([str(checkout / "scripts" / "bootstrap"), extras], check=True,
                   capture_output=True, timeout=30)
    return calls.read_text().splitlines() if calls.exists() else []


def test_scripts_run_after_scripts_test_does_not_reinstall(tmp_path: Path) -> None:
    # scripts/test installs a superset of scripts/run's extras: running the console
    # afterwards must not reinstall (slow, and impossible offline), nor the tests after.
    checkout = _checkout(tmp_path)
    assert any("-e .[dev,voice,embedded,langfuse]" in c
               for c in _bootstrap(checkout, "dev,voice,embedded,langfuse"))
    assert _bootstrap(checkout, "voice,embedded") == []
    assert _bootstrap(checkout, "dev,voice,embedded,langfuse") == []


def test_new_extras_or_a_changed_pyproject_still_install(tmp_path: Path) -> None:
    checkout = _checkout(tmp_path)
    _bootstrap(checkout, "voice,embedded")
    assert any("-e .[dev,voice]" in c for c in _bootstrap(checkout, "dev,voice"))
    with (checkout / "pyproject.toml").open("a") as f:
        f.write("\n# changed\n")
    assert any("-e .[voice]" in c for c in _bootstrap(checkout, "voice"))
