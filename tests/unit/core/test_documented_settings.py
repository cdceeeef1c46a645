"""Every ``LIBRA_<SECTION>__<KEY>`` name the docs and docstrings mention is a real setting."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel

from libra.config import Settings

REPO = Path(__file__).resolve().parents[3]
ENV_NAME = re.compile(r"\bLIBRA_([A-Z0-9]+)__([A-Z0-9_]+)")


def _is_setting(section: str, key: str) -> bool:
    field = Settings.model_fields.get(section)
    model = field.annotation if field is not None else None
    return isinstance(model, type) and issubclass(model, BaseModel) and (
        key in model.model_fields or key.removesuffix("_file") in model.model_fields)


def test_every_documented_environment_name_is_a_setting() -> None:
    documents = [REPO / "README.md", REPO / "compose.yaml", REPO / "Dockerfile",
                 REPO / "config" / "libra.example.toml", *sorted(REPO.glob("docs/*.md")),
                 *sorted(REPO.glob("libra/**/*.py"))]
    unknown = [f"{doc.relative_to(REPO)}: {match.group(0)}"
               for doc in documents if doc.is_file()
               for match in ENV_NAME.finditer(doc.read_text(encoding="utf-8"))
               if not _is_setting(match.group(1).lower(), match.group(2).lower())]
    assert unknown == []
