"""docs/admin.md says what the server does: its example works, its port and its error
codes are the real ones."""

from __future__ import annotations

import asyncio
import json
import os
import re
from pathlib import Path
from typing import Any

from libra.admin.nonces import NonceStoreUnavailable
from libra.llm.cache import CacheUnavailable
from tests.fakes.fake_ollama import FakeOllama
from tests.fakes.llm_stack import request

from .conftest import StartAdmin

ROOT = Path(__file__).resolve().parents[3]
DOC = (ROOT / "docs" / "admin.md").read_text()
ADMIN_SOURCES = sorted((ROOT / "libra" / "admin").glob("*.py"))
PASSED_THROUGH = {CacheUnavailable.code, NonceStoreUnavailable.code}
"""Codes of Libra errors the handlers answer with as they are (``err.code``)."""


def _documented_codes() -> set[str]:
    match = re.search(r"the codes are\s+(.*?)\.\n", DOC, re.S)
    assert match, "docs/admin.md lists no error codes"
    return set(re.findall(r"[a-z_]+", match.group(1)))


def _answered_codes() -> set[str]:
    codes = set(PASSED_THROUGH)
    for path in ADMIN_SOURCES:
        text = path.read_text()
        codes |= set(re.findall(r'ApiError\(\s*\d{3},\s*"([a-z_]+)"', text))
        codes |= set(re.findall(r'AuthFailure\(\s*"([a-z_]+)"', text))
        codes |= set(re.findall(r'json_error\(\s*\w+,\s*"([a-z_]+)"', text))
    return codes


def test_every_error_code_the_server_answers_is_documented() -> None:
    answered = _answered_codes()
    assert {"cache_unavailable", "body_invalid", "nonce_replayed"} <= answered
    assert answered - _documented_codes() == set()


def test_the_documented_port_is_the_readme_s() -> None:
    readme = (ROOT / "README.md").read_text()
    readme_ports = set(re.findall(r"LIBRA_ADMIN__PORT=(\d+)", readme))
    doc_ports = set(re.findall(r"127\.0\.0\.1:(\d+)", DOC))
    assert len(readme_ports) == 1 and doc_ports == readme_ports


def _example() -> str:
    match = re.search(r"```sh\n(.*?)```", DOC, re.S)
    assert match, "docs/admin.md has no shell example"
    return match.group(1)


async def test_the_documented_flush_example_flushes_a_cached_answer(
        start_admin: StartAdmin, fake_ollama: FakeOllama) -> None:
    h = await start_admin(parts=("llm",), auth_mode="hmac",
                          llm={"servers": (fake_ollama.url,)})
    assert h.app.graph is not None
    service: Any = h.app.graph.llm.service
    assert service is not None
    # One answer of the default model, now in the cache.
    async for _ in service.stream(request("What is the capital of France?",
                                          model=h.settings.llm.default_model)):
        pass
    script = re.sub(r"127\.0\.0\.1:\d+", f"127.0.0.1:{h.port}", _example())
    proc = await asyncio.create_subprocess_exec(
        "bash", "-euo", "pipefail", "-c", script,
        env={"PATH": os.environ["PATH"], "SECRET": h.secret.decode()},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    assert json.loads(out) == {"flushed": 1, "namespace": h.settings.llm.default_model}
