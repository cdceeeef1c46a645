"""Valid requests in both modes, readiness, cache flush, metrics, and refusing to start."""

from __future__ import annotations

import asyncio
import re

import pytest
from pydantic import SecretStr

from libra.admin.plugin import AdminPlugin
from libra.app import LibraApp
from libra.config import AdminSettings, Settings
from libra.errors import AdminSecretInvalid, PluginError
from libra.events import (
    CacheFlushed,
    DiscordRateLimited,
    LLMCallFinished,
    ReplyFinished,
    VoiceConnected,
    VoiceDisconnected,
    VoiceFailed,
)
from libra.health import Status

from .conftest import StartAdmin
from .harness import free_port, ok_check

FLUSH = "/api/cache/flush"


@pytest.mark.parametrize("mode", ["simple", "hmac"])
async def test_valid_requests_in_each_mode(start_admin: StartAdmin, mode: str) -> None:
    h = await start_admin(auth_mode=mode)
    for name in ("database", "migrations", "llm"):
        h.health.register(name, ok_check(name))
    h.health.register("voice", ok_check("voice", Status.DOWN))

    ready = await h.request("GET", "/api/health/ready")
    assert ready.status == 200
    body = ready.json()
    assert body["ready"] is True
    assert {c["name"]: (c["status"], c["required"]) for c in body["components"]} == {
        "database": ("ok", True), "migrations": ("ok", True), "llm": ("ok", True),
        "voice": ("down", False)}
    assert ready.headers["Cache-Control"] == "no-store"

    doc = await h.request("GET", "/api/openapi.json")
    assert doc.status == 200 and doc.json()["openapi"] == "3.1.0"


@pytest.mark.parametrize("mode", ["simple", "hmac"])
async def test_auth_header_names_are_case_insensitive(start_admin: StartAdmin,
                                                      mode: str) -> None:
    # HTTP header names are case-insensitive; curl users type them in lower case and
    # proxies such as Envoy (and every HTTP/2 hop) lower-case them on the way.
    h = await start_admin(auth_mode=mode)
    path = "/api/openapi.json"
    lowered = "".join(f"{name.lower()}: {value}\r\n"
                      for name, value in h.auth_headers("GET", path).items())
    reply = await h.raw(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                        f"{lowered}\r\n")
    assert reply.status == 200, reply.body


async def test_liveness_needs_no_auth_and_says_nothing_else(start_admin: StartAdmin) -> None:
    h = await start_admin()
    reply = await h.request("GET", "/api/health", auth=False)
    assert (reply.status, reply.json()) == (200, {"status": "ok"})
    assert reply.headers["Server"] == "libra-admin"


async def test_readiness_is_503_when_a_required_component_is_down(
        start_admin: StartAdmin) -> None:
    h = await start_admin()
    h.health.register("database", ok_check("database", Status.DOWN))
    h.health.register("llm", ok_check("llm"))
    reply = await h.request("GET", "/api/health/ready")
    assert reply.status == 503
    states = {c["name"]: c["status"] for c in reply.json()["components"]}
    assert states == {"database": "down", "llm": "ok", "migrations": "down"}


@pytest.mark.parametrize("mode", ["simple", "hmac"])
async def test_flush_goes_through_the_real_llm_service(start_admin: StartAdmin,
                                                       mode: str) -> None:
    h = await start_admin(parts=("llm",), auth_mode=mode)
    flushed = asyncio.ensure_future(h.app.bus.wait_for(CacheFlushed, timeout=5))
    await asyncio.sleep(0)
    reply = await h.request("POST", FLUSH, body=b'{"namespace": "qwen2.5:7b-instruct"}')
    assert reply.status == 200, reply.body
    assert reply.json() == {"flushed": 0, "namespace": "qwen2.5:7b-instruct"}
    assert (await flushed).namespace == "qwen2.5:7b-instruct"

    everything = await h.request("POST", FLUSH)
    assert everything.status == 200 and everything.json()["namespace"] is None
    await h.app.bus.drain(5)
    metrics = (await h.request("GET", "/metrics")).body.decode()
    assert re.search(r'libra_llm_cache_flushes_total\{namespace="qwen2.5:7b-instruct"\} 1',
                     metrics)


async def test_flush_without_llm_service_is_503(start_admin: StartAdmin) -> None:
    h = await start_admin()
    reply = await h.request("POST", FLUSH)
    assert (reply.status, reply.error) == (503, "llm_unavailable")


async def test_metrics_follow_bus_events(start_admin: StartAdmin) -> None:
    h = await start_admin()
    bus = h.app.bus
    await bus.emit(LLMCallFinished(model="m1", language="en", prompt_tokens=10,
                                   completion_tokens=5, first_token_ms=120.0,
                                   latency_ms=900.0, cache_hit=False))
    await bus.emit(LLMCallFinished(model="m1", language="en", prompt_tokens=10,
                                   completion_tokens=5, first_token_ms=1.0, latency_ms=2.0,
                                   cache_hit=True))
    await bus.emit(ReplyFinished(channel_id=1, text="hi", language="en", model="m1",
                                 first_token_ms=150.0, total_ms=1200.0))
    reply = await h.request("GET", "/metrics")
    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = reply.body.decode()
    assert 'libra_llm_calls_total{model="m1",outcome="ok",cache="miss"} 1' in text
    assert 'libra_llm_cache_hits_total{model="m1"} 1' in text
    assert 'libra_llm_tokens_total{model="m1",kind="prompt"} 20' in text
    assert 'libra_llm_first_token_seconds_bucket{model="m1",le="0.25"} 2' in text
    assert 'libra_reply_stage_seconds_count{stage="total"} 1' in text
    assert 'libra_events_published_total{type="LLMCallFinished"} 2' in text
    again = (await h.request("GET", "/metrics")).body.decode()
    assert 'libra_admin_requests_total{route="/metrics",status="200"} 1' in again


async def test_metrics_count_voice_discord_and_handler_failures(start_admin: StartAdmin) -> None:
    h = await start_admin()
    bus = h.app.bus

    async def broken(event: DiscordRateLimited) -> None:
        raise RuntimeError("boom")

    bus.subscribe(DiscordRateLimited, broken, name="test:broken")
    await bus.emit(VoiceConnected(guild_id=1, channel_id=2, mode="aead_aes256_gcm_rtpsize",
                                  dave_protocol_version=1))
    await bus.emit(VoiceConnected(guild_id=3, channel_id=4, mode="aead_aes256_gcm_rtpsize",
                                  dave_protocol_version=1))
    await bus.emit(VoiceDisconnected(guild_id=1, reason="left"))
    await bus.emit(VoiceFailed(guild_id=3, code="dave_failed", message="x"))
    await bus.emit(DiscordRateLimited(route="POST /channels/1/messages", retry_after=1.5))
    await bus.drain(5)
    text = (await h.request("GET", "/metrics")).body.decode()
    assert "libra_voice_connections 1" in text
    assert 'libra_voice_errors_total{code="dave_failed"} 1' in text
    assert 'libra_discord_rate_limited_total{route="POST /channels/1/messages"} 1' in text
    assert ('libra_bus_handler_failures_total{event_type="DiscordRateLimited",'
            'handler="test:broken"} 1') in text


async def test_metrics_accept_a_scraper_bearer_token(start_admin: StartAdmin) -> None:
    token = "t" * 40
    h = await start_admin(metrics_token=SecretStr(token))
    ok = await h.request("GET", "/metrics", auth=False,
                         headers={"Authorization": f"Bearer {token}"})
    wrong = await h.request("GET", "/metrics", auth=False,
                            headers={"Authorization": "Bearer nope"})
    assert ok.status == 200
    assert (wrong.status, wrong.error) == (401, "auth_missing")


async def test_an_empty_metrics_token_lets_no_scraper_in(start_admin: StartAdmin) -> None:
    # e.g. ``LIBRA_ADMIN__METRICS_TOKEN=`` left empty in an env file.
    h = await start_admin(metrics_token=SecretStr(""))
    bare = await h.request("GET", "/metrics", auth=False, headers={"Authorization": "Bearer"})
    assert (bare.status, bare.error) == (401, "auth_missing")
    assert (await h.request("GET", "/metrics")).status == 200


async def test_metrics_can_be_public(start_admin: StartAdmin) -> None:
    h = await start_admin(metrics_auth=False)
    assert (await h.request("GET", "/metrics", auth=False)).status == 200
    assert (await h.request("GET", "/api/health/ready", auth=False)).status == 401


@pytest.mark.parametrize(("secret", "message"), [
    (None, "admin.secret is not set"),
    ("", "admin.secret is not set"),
    ("s" * 31, "admin.secret is 31 bytes; at least 32 are required"),
])
async def test_refuses_to_start_without_a_strong_secret(secret: str | None,
                                                        message: str) -> None:
    port = free_port()
    settings = Settings(admin=AdminSettings(
        port=port, secret=None if secret is None else SecretStr(secret)))
    with pytest.raises(AdminSecretInvalid, match=re.escape(message)) as info:
        await AdminPlugin().start(_context(settings))
    assert info.value.code == "admin_secret_invalid"
    assert "openssl rand" in str(info.value)

    app = LibraApp(settings, [AdminPlugin()])
    with pytest.raises(PluginError, match="cannot run without: admin"):
        await app.start()
    assert app.manager.failed == {"admin": "admin_secret_invalid"}
    import socket
    with socket.socket() as sock:  # nothing listens on the port
        assert sock.connect_ex(("127.0.0.1", port)) != 0


async def test_off_without_a_port() -> None:
    plugin = AdminPlugin()
    await plugin.start(_context(Settings()))
    assert plugin.server is None
    await plugin.stop()


def _context(settings: Settings):  # type: ignore[no-untyped-def]
    from libra.bus import EventBus
    from libra.plugin import PluginContext
    return PluginContext(settings, EventBus())
