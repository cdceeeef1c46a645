"""The latency board from real ``VoiceTurnLatency`` events published on a real bus."""

from __future__ import annotations

import json

import pytest

from libra.bus import EventBus
from libra.events import VoiceTurnLatency
from libra.metrics import MetricsRegistry
from libra.voice.latency_board import LatencyBoard
from libra.voice.latency_figures import TurnStage, percentile
from libra.voice.latency_labels import LANGUAGES, labels

GUILD, OTHER = 111, 222
STT, TTS = "whisper:tiny.en", "piper:en_US-joe-medium"


def turn(guild: int | None = GUILD, *, total: float | None = 900.0, libra: float | None = 200.0,
         error: str | None = None, stt: str = STT, tts: str | None = TTS,
         first_packet: float | None = 20.0) -> VoiceTurnLatency:
    """A turn whose stages add up like the pipeline's (endpoint 500, LLM to 1st sentence
    200, the rest Libra's); a failed turn stops after the transcript."""
    reached = error is None
    return VoiceTurnLatency(
        user_id=42, channel_id=7, guild_id=guild, stt=stt, tts=tts if reached else None,
        endpoint_ms=500.0, stt_final_ms=120.0, chat_ms=8.0 if reached else None,
        llm_first_token_ms=150.0 if reached else None,
        first_sentence_ms=50.0 if reached else None,
        tts_first_audio_ms=72.0 if reached else None,
        first_packet_ms=first_packet if reached else None,
        total_ms=total if reached else None, libra_ms=libra if reached else None,
        error_code=error)


async def publish(bus: EventBus, *events: VoiceTurnLatency) -> None:
    for event in events:
        await bus.emit(event)


async def test_the_board_keeps_the_last_turn_and_percentiles_per_guild() -> None:
    bus = EventBus()
    board = LatencyBoard(bus)
    await publish(bus, *(turn(total=float(t), libra=float(t) / 4) for t in range(100, 1100, 100)))
    await publish(bus, turn(OTHER, total=5000.0, libra=4000.0))

    stats = board.in_guild(GUILD)
    assert stats.turns == 10 and stats.window == 10
    total = stats.stage(TurnStage.TOTAL)
    assert total is not None and total.samples == 10
    assert total.p50_ms == 550.0  # the median of 100..1000
    assert total.p95_ms == 955.0  # interpolated between 900 and 1000
    libra = stats.stage(TurnStage.LIBRA)
    assert libra is not None and libra.p50_ms == pytest.approx(137.5)
    last = board.last(GUILD)
    assert last is not None and last.total_ms == 1000.0
    # The other guild's slow turn is its own; the overall window sees both.
    assert board.in_guild(OTHER).stage(TurnStage.TOTAL).p50_ms == 5000.0  # type: ignore[union-attr]
    assert board.overall().turns == 11
    assert board.last(999) is None and board.in_guild(999).turns == 0


async def test_the_window_is_bounded_and_counts_are_not() -> None:
    bus = EventBus()
    board = LatencyBoard(bus, window=5, guilds=2)
    await publish(bus, *(turn(total=10_000.0) for _ in range(5)))
    await publish(bus, *(turn(total=100.0) for _ in range(5)))
    stats = board.in_guild(GUILD)
    assert (stats.turns, stats.window) == (10, 5)
    # The five slow turns have left the window: the figures are about now.
    assert stats.stage(TurnStage.TOTAL).p95_ms == 100.0  # type: ignore[union-attr]
    # Only the two most recently heard guilds are kept.
    await publish(bus, turn(OTHER), turn(333))
    assert board.in_guild(GUILD).turns == 0
    assert board.overall().turns == 12


async def test_failed_turns_are_counted_by_code_and_their_stages_left_out() -> None:
    bus = EventBus()
    board = LatencyBoard(bus)
    await publish(bus, turn(), turn(error="llm_unreachable"), turn(error="llm_unreachable"),
                  turn(error="tts_failed"))
    stats = board.in_guild(GUILD)
    assert stats.errors == {"llm_unreachable": 2, "tts_failed": 1}
    assert stats.window_errors == stats.errors
    assert stats.stage(TurnStage.STT_FINAL).samples == 4  # type: ignore[union-attr]
    assert stats.stage(TurnStage.TOTAL).samples == 1  # type: ignore[union-attr]
    summary = board.summary()
    assert summary["errors"] == {"llm_unreachable": 2, "tts_failed": 1}
    assert summary["recent"][0]["error_code"] == "tts_failed"  # newest first


async def test_the_summary_is_json_ready_without_user_ids() -> None:
    bus = EventBus()
    board = LatencyBoard(bus)
    await publish(bus, turn(), turn(stt="vosk:vosk-model-small-ko-0.22", tts="espeak:ko"),
                  turn(None, first_packet=None))
    summary = json.loads(json.dumps(board.summary()))
    assert summary["turns"] == 3 and summary["window"] == 3
    assert summary["engines"] == {
        "stt": {STT: 2, "vosk:vosk-model-small-ko-0.22": 1},
        "tts": {TTS: 2, "espeak:ko": 1}}
    stages = {s["stage"]: s for s in summary["stages"]}
    assert list(stages) == [s.value for s in TurnStage]
    assert stages["first_packet"]["samples"] == 2  # files mode measures no packet
    assert stages["endpoint"]["p50_ms"] == 500.0
    recent = summary["recent"]
    assert [r["guild_id"] for r in recent] == [None, GUILD, GUILD]
    assert recent[1]["stages"]["tts_first_audio"] == 72.0 and recent[0]["age_s"] >= 0
    assert "42" not in json.dumps(summary)  # the user id is nowhere


async def test_metrics_get_the_turns_when_a_registry_is_given() -> None:
    bus = EventBus()
    registry = MetricsRegistry()
    LatencyBoard(bus, metrics=registry)
    await publish(bus, turn(), turn(error="stt_failed"))
    text = registry.render()
    assert 'libra_voice_turn_stage_seconds_count{stage="endpoint"} 2' in text
    assert 'libra_voice_turn_stage_seconds_count{stage="tts_first_audio"} 1' in text
    assert "libra_voice_turn_seconds_count 1" in text
    assert "libra_voice_turn_libra_seconds_sum 0.2" in text
    assert f'libra_voice_turns_total{{stt="{STT}",tts="{TTS}"}} 1' in text
    assert f'libra_voice_turns_total{{stt="{STT}",tts="none"}} 1' in text
    assert 'libra_voice_turn_errors_total{code="stt_failed"} 1' in text
    samples = [line for line in text.splitlines() if not line.startswith("#")]
    assert not [line for line in samples if "user" in line or "guild" in line or "42" in line]


async def test_a_closed_board_stops_counting() -> None:
    bus = EventBus()
    board = LatencyBoard(bus)
    await publish(bus, turn())
    board.close()
    board.close()
    await publish(bus, turn())
    assert board.overall().turns == 1


async def test_status_lines_break_the_last_turn_down() -> None:
    bus = EventBus()
    board = LatencyBoard(bus)
    assert board.status_lines(GUILD, "en") == ["Voice turns: none yet"]
    await publish(bus, turn(total=800.0), turn(total=1000.0, libra=250.0))
    lines = board.status_lines(GUILD, "en")
    assert lines == [
        f"Engines: STT `{STT}` · TTS `{TTS}`",
        "Last turn: endpoint 500 · STT 120 · chat 8 · LLM 1st token 150 · 1st sentence 50 · "
        "TTS 1st audio 72 · 1st packet 20 ms → total 1000 ms (Libra 250 ms)",
        "Last 2 turns (p50/p95): total 900/990 ms · Libra 225/248 ms",
    ]
    await publish(bus, turn(error="llm_unreachable"))
    lines = board.status_lines(GUILD, "en")
    assert lines[0] == f"Engines: STT `{STT}` · TTS none"
    assert lines[1] == "Last turn: endpoint 500 · STT 120 ms · failed: `llm_unreachable`"
    assert lines[2].endswith("· errors: `llm_unreachable` 1")
    assert all(len(line) < 200 for line in lines)  # they sit under /voice status


@pytest.mark.parametrize("language", ["en", "ko", "ja", "zh-cn", "zh-tw", "es", "fr", "de",
                                      "ru", "pt", "it", "vi"])
async def test_status_lines_speak_each_language(language: str) -> None:
    bus = EventBus()
    board = LatencyBoard(bus)
    none_yet = board.status_lines(GUILD, language)
    await publish(bus, turn())
    lines = board.status_lines(GUILD, language)
    words = labels(language)
    assert none_yet == [words["none"]]
    assert lines[0].startswith(words["engines"] + ":")
    assert lines[1].startswith(words["last"] + ":") and words["first_sentence"] in lines[1]
    assert lines[2].startswith(words["recent"].format(n=1))
    if language != "en":
        assert set(words.values()) != set(labels("en").values())
        assert words["none"] != labels("en")["none"]


def test_language_codes_fall_back_sensibly() -> None:
    assert labels("pt-BR") == labels("pt")
    assert labels("zh") == labels("zh-cn") != labels("zh-tw")
    assert labels("xx") == labels("en")
    assert {"en", "ko", "ja", "zh-cn", "zh-tw", "es", "fr", "de", "ru", "pt", "it",
            "vi"} <= LANGUAGES


def test_percentile_interpolates_and_refuses_nothing() -> None:
    assert percentile([3.0], 0.95) == 3.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    with pytest.raises(ValueError, match="no values"):
        percentile([], 0.5)
    with pytest.raises(ValueError, match="at least one turn"):
        LatencyBoard(EventBus(), window=0)
