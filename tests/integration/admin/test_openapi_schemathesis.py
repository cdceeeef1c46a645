"""Schemathesis against ``/api/openapi.json`` on the live server, every request signed."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from pydantic import SecretStr

from libra.admin.auth import signed_headers
from libra.config import DatabaseSettings
from libra.storage import migrate
from libra.storage.db import Database
from libra.storage.stats import DatabaseUsageStats
from tests.conftest import url_with_database

from .harness import AdminHarness, admin_settings, ok_check, start_harness


class HmacSigner(requests.auth.AuthBase):
    """Signs the request exactly as it goes on the wire (path, query and body)."""

    def __init__(self, secret: bytes) -> None:
        self.secret = secret

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        assert request.method is not None
        request.headers.update(signed_headers(self.secret, request.method,
                                              request.path_url, body))
        return request


class LiveAdmin:
    """The admin server on its own event loop in a thread (schemathesis calls are sync)."""

    def __init__(self, database_url: str, data_dir: Path) -> None:
        self.database_url = database_url
        self.data_dir = data_dir
        self.database: Database | None = None
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="live-admin",
                                       daemon=True)
        self.harness: AdminHarness | None = None

    def run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    def start(self) -> AdminHarness:
        self.thread.start()

        async def boot() -> AdminHarness:
            self.database = await Database.open(
                DatabaseSettings(url=SecretStr(self.database_url)), data_dir=self.data_dir)
            await migrate.apply_async(self.database.dsn_for_yoyo())
            h = await start_harness(admin_settings(auth_mode="hmac"), ("llm",),
                                  usage=DatabaseUsageStats(lambda: self.database))
            # No model server here: the llm check would make readiness 503 (a 5xx).
            for name in ("database", "migrations", "llm"):
                h.health.register(name, ok_check(name))
            return h

        self.harness = self.run(boot())
        return self.harness

    def stop(self) -> None:
        if self.harness is not None:
            self.run(self.harness.stop())
        if self.database is not None:
            self.run(self.database.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture(scope="module")
def live_admin(pg_server_url: str, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[AdminHarness]:
    name = f"libra_admin_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    live = LiveAdmin(url_with_database(pg_server_url, name), tmp_path_factory.mktemp("db"))
    try:
        yield live.start()
    finally:
        live.stop()
        with psycopg.connect(pg_server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def signing_session(live_admin: AdminHarness) -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.auth = HmacSigner(live_admin.secret)
        yield session


@pytest.fixture(scope="module")
def api_schema(live_admin: AdminHarness, signing_session: requests.Session) -> Any:
    response = signing_session.get(f"{live_admin.url}/api/openapi.json", timeout=10)
    assert response.status_code == 200
    schema = schemathesis.openapi.from_dict(response.json())
    schema.config.update(base_url=live_admin.url)
    return schema


def _operations(api_schema: Any) -> list[Any]:
    return [result.ok() for result in api_schema.get_all_operations()]


# schemathesis' own pytest plugin does not run on pytest 9, so the operations are
# driven here: every operation, positive and negative data, bounded examples.
@pytest.mark.parametrize("mode", list(schemathesis.GenerationMode), ids=str)
def test_api_conforms_to_its_openapi_document(
        api_schema: Any, signing_session: requests.Session, live_admin: AdminHarness,
        mode: schemathesis.GenerationMode) -> None:
    operations = _operations(api_schema)
    assert {op.label for op in operations} == {
        "GET /api/health", "GET /api/health/ready", "POST /api/cache/flush",
        "GET /api/stats", "GET /api/openapi.json"}
    calls: list[int] = []
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=25, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case: Any) -> None:
            response = case.call_and_validate(
                session=signing_session, base_url=live_admin.url,
                # The signing session re-signs the tampered request this check sends;
                # refusal of bad auth is covered case by case in test_bad_requests.py.
                excluded_checks=[schemathesis.checks.ignored_auth])
            calls.append(response.status_code)

        try:
            check()
        except Unsatisfiable:
            # No parameters and no body: there is no invalid input to generate.
            assert mode is schemathesis.GenerationMode.NEGATIVE
            assert operation.label not in ("POST /api/cache/flush", "GET /api/stats")
    assert calls and all(status < 500 for status in calls)


def test_unsigned_requests_are_refused_on_every_secured_operation(
        live_admin: AdminHarness, api_schema: Any) -> None:
    secured = [(method.upper(), path)
               for path, ops in api_schema.raw_schema["paths"].items()
               for method, op in ops.items() if op.get("security") != []]
    assert len(secured) == 4
    for method, path in secured:
        reply = requests.request(method, f"{live_admin.url}{path}", timeout=10)
        assert (reply.status_code, reply.json()["error"]) == (401, "auth_missing"), path
