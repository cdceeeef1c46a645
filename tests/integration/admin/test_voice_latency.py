"""Voice turns on the admin port: ``/metrics`` series, ``/api/stats`` JSON, the status page.

The turns are the pipeline's own events (``TurnClock.event``) published on the app's bus;
the board is the one the composition root built and handed to admin and the metrics.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlencode

import bcrypt

from libra.admin.openapi import openapi_document
from libra.config import VoiceSettings
from libra.events import VoiceTurnLatency
from libra.storage.db import Database
from libra.storage.stats import DatabaseUsageStats
from libra.voice.latency import TurnClock
from libra.voice.latency_figures import TurnStage

from .conftest import StartAdmin
from .harness import AdminHarness, admin_settings, start_harness

PASSWORD = "correct horse battery staple"
HASH = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()
GUILD = 1234567890


def voice_turn(total_s: float, *, error: str | None = None, guild: int = GUILD
               ) -> VoiceTurnLatency:
    """A turn as the pipeline reports it: 0.5 s of endpoint silence, then the stages."""
    clock = TurnClock(speech_end=100.0, turn_end=100.5, stt="whisper:tiny.en",
                      tts="piper:en_US-joe-medium")
    clock.stt_final = 100.62
    if error is None:
        clock.reply_started = 100.63
        clock.first_token = 100.78
        clock.first_sentence = 100.83
        clock.first_audio = 100.0 + total_s
        clock.first_packet_at = clock.first_audio + 0.02
    return clock.event(user_id=42, channel_id=7, guild_id=guild, correlation_id="t",
                       error_code=error)


async def _publish_turns(h: AdminHarness) -> None:
    for total in (0.9, 1.0, 1.1):
        await h.app.bus.emit(voice_turn(total))
    await h.app.bus.emit(voice_turn(0.0, error="llm_unreachable"))


async def test_metrics_expose_voice_turn_histograms_and_counters(start_admin: StartAdmin
                                                                 ) -> None:
    h = await start_admin()
    before = (await h.request("GET", "/metrics")).body.decode()
    assert "# TYPE libra_voice_turn_stage_seconds histogram" in before
    assert "libra_voice_turn_stage_seconds_count" not in before  # no turn yet

    await _publish_turns(h)
    text = (await h.request("GET", "/metrics")).body.decode()
    for stage, count in (("endpoint", 4), ("stt_final", 4), ("chat", 3),
                         ("llm_first_token", 3), ("first_sentence", 3),
                         ("tts_first_audio", 3), ("first_packet", 3)):
        assert f'libra_voice_turn_stage_seconds_count{{stage="{stage}"}} {count}' in text
    assert 'libra_voice_turn_stage_seconds_bucket{stage="endpoint",le="0.5"} 4' in text
    assert "libra_voice_turn_seconds_count 3" in text
    total_sum = re.search(r"^libra_voice_turn_seconds_sum (\S+)$", text, re.M)
    assert total_sum and abs(float(total_sum.group(1)) - 3.0) < 0.01
    # Libra's share: total - 0.5 s endpoint - 0.2 s LLM to first sentence.
    assert 'libra_voice_turn_libra_seconds_bucket{le="0.3"} 2' in text
    assert ('libra_voice_turns_total{stt="whisper:tiny.en",tts="piper:en_US-joe-medium"} 4'
            in text)
    assert 'libra_voice_turn_errors_total{code="llm_unreachable"} 1' in text
    # No user, channel or guild ids: only bounded labels.
    voice_lines = [line for line in text.splitlines() if line.startswith("libra_voice_turn")]
    labels = {name for line in voice_lines for name in re.findall(r'(\w+)="', line)}
    assert labels == {"stage", "le", "stt", "tts", "code"}
    assert not any(str(GUILD) in line or "42" in line for line in voice_lines)


async def test_stats_json_carries_the_voice_section(start_admin: StartAdmin,
                                                    database: Database) -> None:
    h = await start_admin(usage=DatabaseUsageStats(lambda: database))
    await _publish_turns(h)
    reply = await h.request("GET", "/api/stats")
    assert reply.status == 200, reply.body
    voice = reply.json()["voice"]
    assert (voice["turns"], voice["window"], voice["errors"]) == (4, 4, {"llm_unreachable": 1})
    stages = {s["stage"]: s for s in voice["stages"]}
    assert stages["total"]["samples"] == 3 and stages["total"]["p50_ms"] == 1000.0
    assert stages["libra"]["p50_ms"] == 300.0
    assert stages["endpoint"]["p95_ms"] == 500.0
    assert voice["engines"]["stt"] == {"whisper:tiny.en": 4}
    newest = voice["recent"][0]
    assert newest["error_code"] == "llm_unreachable" and newest["guild_id"] == GUILD
    assert newest["stages"]["llm_first_token"] is None


async def _signed_in_page(h: AdminHarness) -> str:
    login = await h.request("GET", "/admin/login", auth=False)
    cookie = f"libra_admin_login={login.cookies['libra_admin_login'].value}"
    csrf = re.search(r'name="csrf" value="([0-9a-f]{64})"', login.body.decode())
    assert csrf
    form = urlencode({"csrf": csrf.group(1), "operator": "ops", "password": PASSWORD})
    signed = await h.request("POST", "/admin/login", auth=False, body=form.encode(), headers={
        "Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})
    assert signed.status == 303, signed.body
    session = f"libra_admin_session={signed.cookies['libra_admin_session'].value}"
    page = await h.request("GET", "/admin", auth=False, headers={"Cookie": session})
    assert page.status == 200
    return page.body.decode()


async def test_status_page_shows_the_voice_latency_section(start_admin: StartAdmin) -> None:
    h = await start_admin(operator_password_hashes={"ops": HASH})
    empty = await _signed_in_page(h)
    assert '<section id="voice-latency">' in empty and "no voice turns yet" in empty

    await _publish_turns(h)
    page = await _signed_in_page(h)
    section = page[page.index('<section id="voice-latency">'):]
    section = section[:section.index("</section>")]
    assert "4 turns since start, errors: llm_unreachable 1" in section
    assert "STT: whisper:tiny.en (4); TTS: piper:en_US-joe-medium (4)" in section
    assert 'id="voice-latency-chart"' in section and 'id="latency-chart"' not in section
    # p50 and p95 bars for each of the 9 figures (7 stages, total, Libra's share).
    assert section.count("<rect") == 18
    rows = re.findall(r"<tr><td>\d+ s ago</td>.*?</tr>", section)
    assert len(rows) == 4
    assert "<td>1100</td><td>400</td>" in rows[1]  # the 1.1 s turn: total, Libra's share
    assert rows[0].endswith('<td class="down">llm_unreachable</td></tr>')
    assert "<script" not in page


async def test_voice_off_leaves_the_section_out(database: Database, tmp_path: Path) -> None:
    settings = admin_settings(data_dir=tmp_path, operator_password_hashes={"ops": HASH})
    settings = settings.model_copy(update={"voice": VoiceSettings(enabled=False)})
    h = await start_harness(settings, usage=DatabaseUsageStats(lambda: database))
    try:
        assert h.app.graph is not None and h.app.graph.voice_turns is None
        assert 'id="voice-latency"' not in await _signed_in_page(h)
        assert (await h.request("GET", "/api/stats")).json()["voice"] is None
        assert "libra_voice_turn" not in (await h.request("GET", "/metrics")).body.decode()
    finally:
        await h.stop()


def test_the_openapi_document_names_every_voice_figure() -> None:
    voice = openapi_document()["paths"]["/api/stats"]["get"]["responses"]["200"]["content"][
        "application/json"]["schema"]["properties"]["voice"]
    stage_enum = voice["properties"]["stages"]["items"]["properties"]["stage"]["enum"]
    assert stage_enum == [s.value for s in TurnStage]
