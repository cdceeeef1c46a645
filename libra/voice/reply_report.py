"""What ``libra voice reply`` prints: the transcript, the answer and the latency table.

Text for people, ``--json`` for scripts; both go through :func:`~libra.output.write_data`
(the transcript and the answer are data: only configured secret values are masked).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from libra.events import VoiceTurnLatency
from libra.output import write_data
from libra.voice.audiofile import SpeechFile

STAGES = (
    ("endpoint_ms", "endpoint wait"),
    ("stt_final_ms", "STT final"),
    ("chat_ms", "chat (history, memory)"),
    ("llm_first_token_ms", "LLM first token"),
    ("first_sentence_ms", "first sentence"),
    ("tts_first_audio_ms", "TTS first audio"),
    ("total_ms", "total"),
    ("libra_ms", "Libra's own share"),
)
"""Latency fields in the order the turn goes through them, with their labels."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FileReply:
    """One answered file: what was heard, what was said, where it went and how fast."""

    audio: SpeechFile
    transcript: str
    language: str | None
    answer: str
    reply_language: str
    out: Path | None
    """The WAV written (``None`` = standard output)."""
    out_seconds: float
    out_rate: int
    latency: VoiceTurnLatency


def render_text(result: FileReply, stream: TextIO) -> None:
    """The human-readable report."""
    latency = result.latency
    heard = f"{result.language or '?'} · {latency.stt}"
    said = f"{result.reply_language} · {latency.tts or '?'}"
    where = str(result.out) if result.out is not None else "standard output"
    lines = [
        f"question  {result.audio.path} ({result.audio.source}, "
        f"{result.audio.seconds:.1f} s)",
        f"heard     [{heard}] {result.transcript}",
        f"answer    [{said}] {result.answer}",
        f"wrote     {where} ({result.out_seconds:.1f} s, {result.out_rate} Hz mono WAV)",
        "",
        "latency (ms)",
    ]
    for field, label in STAGES:
        value = getattr(latency, field)
        if value is not None:
            lines.append(f"  {label:<24}{value:>8.0f}")
    write_data(stream, "\n".join(lines) + "\n")


def render_json(result: FileReply, stream: TextIO) -> None:
    """The same report as one JSON object."""
    latency = result.latency
    data: dict[str, Any] = {
        "input": {"path": str(result.audio.path), "format": result.audio.source,
                  "seconds": round(result.audio.seconds, 3)},
        "transcript": {"text": result.transcript, "language": result.language,
                       "engine": latency.stt},
        "answer": {"text": result.answer, "language": result.reply_language,
                   "voice": latency.tts},
        "output": {"path": str(result.out) if result.out is not None else None,
                   "seconds": round(result.out_seconds, 3), "sample_rate": result.out_rate},
        "latency_ms": {field: getattr(latency, field) for field, _ in STAGES},
    }
    write_data(stream, json.dumps(data, ensure_ascii=False, indent=2) + "\n")
