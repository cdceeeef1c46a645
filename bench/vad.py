"""Voice activity detection: Silero against WebRTC on speech in noise, as JSON.

The test signal is eight Piper sentences with 0.7-2 s of silence between them
(about 35 s), and that signal mixed with five kinds of noise at 20, 10, 5 and 0 dB
SNR (speech power over its active frames / noise power over its active frames):
white, pink, keyboard-like clicks, cough-like bursts and six-talker babble (see
``tests/fakes/noise.py``). Noise runs through the whole signal, gaps included.

Ground truth comes from the clean speech: a frame is speech when most of its 10 ms
blocks are within 35 dB of the speech's mean active power. Per engine (a frame is
judged speech at probability >= 0.5) and condition:

- ``accuracy``: frames judged as labelled;
- ``false_positive``: share of the noise-only frames (gaps, 200 ms clear of any
  sentence) judged speech;
- ``miss``: share of speech frames judged silence;
- ``turns`` / ``false_turns``: what :class:`TurnDetector` (default settings) makes of
  it: turns ended (8 expected) and turns that overlap no sentence at all.

``cpu_us_per_frame`` is process CPU time per ``speech_probability`` call, and
``cpu_per_speaker`` the share of one core that one speaker's detector costs. WebRTC
is measured at each aggressiveness mode (``webrtc-0`` … ``webrtc-3``); the ``webrtc``
engine uses ``libra.voice.vad.WEBRTC_MODE``. Each run draws new noise (seed = run);
figures are medians over ``--runs`` runs.

    .venv/bin/python bench/vad.py [--runs 3] [--quick]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from libra.voice.api import VoiceActivityDetector
from libra.voice.turns import TurnDetector, TurnEnded
from libra.voice.vad import WEBRTC_MODE, SileroDetector, WebrtcDetector, frame_bytes
from tests.fakes import noise as N

SENTENCES = (
    "Good morning, could you tell me what the weather will be like today?",
    "I think we should leave early, because the traffic gets bad after eight.",
    "Remind me to call my sister on Sunday.",
    "What is the capital of France?",
    "The quick brown fox jumps over the lazy dog.",
    "Please turn the music down a little, it is far too loud in here.",
    "How many kilometres is it from Seoul to Busan by train?",
    "Thanks, that is all for now.",
)
GAPS_S = (1.0, 1.4, 0.8, 2.0, 1.1, 0.7, 1.6, 0.9, 1.2)
SNRS = (20, 10, 5, 0)
THRESHOLD = 0.5
LABEL_FLOOR_DB = 35.0
CLEAR_MS = 200


@dataclass
class Signal:
    clean: np.ndarray
    sentences: list[tuple[int, int]]  # sample spans


def build_signal() -> Signal:
    parts, spans, pos = [], [], 0
    for index, text in enumerate(SENTENCES):
        gap = N.silence(GAPS_S[index])
        voice = N.speech16k(text)
        parts += [gap, voice]
        pos += gap.size
        spans.append((pos, pos + voice.size))
        pos += voice.size
    parts.append(N.silence(GAPS_S[-1]))
    return Signal(np.concatenate(parts), spans)


def labels(signal: Signal, frame_ms: int) -> tuple[np.ndarray, np.ndarray]:
    """(speech label per frame, noise-only mask per frame) for ``frame_ms`` frames."""
    block = N.RATE // 100
    clean = signal.clean
    blocks = clean[: clean.size - clean.size % block].reshape(-1, block)
    power = np.mean(blocks**2, axis=1)
    floor = N.active_power(clean) * 10 ** (-LABEL_FLOOR_DB / 10)
    speech_block = power >= floor
    frame = N.RATE * frame_ms // 1000
    count = clean.size // frame
    label = np.zeros(count, dtype=bool)
    noise_only = np.ones(count, dtype=bool)
    clear = N.RATE * CLEAR_MS // 1000
    for i in range(count):
        start, end = i * frame, (i + 1) * frame
        covered = speech_block[start // block : max(start // block + 1, end // block)]
        label[i] = covered.mean() >= 0.5
        for s, e in signal.sentences:
            if start < e + clear and end > s - clear:
                noise_only[i] = False
                break
    return label, noise_only


class Replay:
    """Probabilities already computed, played back to a TurnDetector (no CPU noise)."""

    def __init__(self, engine: str, frame_ms: int, probabilities: list[float]) -> None:
        self.engine = engine
        self.frame_ms = frame_ms
        self._probabilities = iter(probabilities)

    def speech_probability(self, frame: bytes) -> float:
        return next(self._probabilities)

    def reset(self) -> None:
        pass


def judge(detector: VoiceActivityDetector, pcm: bytes) -> tuple[list[float], float]:
    """Probability per frame, and CPU seconds spent in the detector."""
    size = frame_bytes(detector.frame_ms)
    frames = [pcm[i : i + size] for i in range(0, len(pcm) - size + 1, size)]
    started = time.process_time()
    probabilities = [detector.speech_probability(f) for f in frames]
    return probabilities, time.process_time() - started


def turn_figures(engine: str, frame_ms: int, probabilities: list[float], pcm: bytes,
                 signal: Signal) -> dict[str, int]:
    detector = TurnDetector(Replay(engine, frame_ms, probabilities))
    ended = [e for e in detector.push(pcm) if isinstance(e, TurnEnded)]
    false_turns = 0
    for turn in ended:
        start = turn.speech_start_ms * N.RATE // 1000
        end = turn.speech_end_ms * N.RATE // 1000
        if not any(start < e and end > s for s, e in signal.sentences):
            false_turns += 1
    return {"turns": len(ended), "false_turns": false_turns}


def score(probabilities: list[float], label: np.ndarray,
          noise_only: np.ndarray) -> dict[str, float]:
    judged = np.asarray(probabilities[: label.size]) >= THRESHOLD
    label = label[: judged.size]
    noise_only = noise_only[: judged.size]
    return {
        "accuracy": float(np.mean(judged == label)),
        "false_positive": float(np.mean(judged[noise_only])),
        "miss": float(np.mean(~judged[label])),
    }


ENGINES: dict[str, Callable[[], VoiceActivityDetector]] = {
    "silero": SileroDetector,
    **{f"webrtc-{mode}": (lambda mode=mode: WebrtcDetector(mode)) for mode in range(4)},
}


def conditions(signal: Signal, seed: int, quick: bool) -> list[tuple[str, str, bytes]]:
    out = [("clean", "inf", N.to_pcm(signal.clean))]
    kinds = ("white", "babble") if quick else tuple(N.NOISES)
    for kind in kinds:
        noise = N.NOISES[kind](signal.clean.size, seed)
        for snr in (10, 0) if quick else SNRS:
            out.append((kind, str(snr), N.to_pcm(N.mix(signal.clean, noise, snr))))
    return out


def run_once(signal: Signal, seed: int, quick: bool) -> dict[str, Any]:
    result: dict[str, Any] = {}
    cases = conditions(signal, seed, quick)
    for name, make in ENGINES.items():
        detector = make()
        label, noise_only = labels(signal, detector.frame_ms)
        cpu, frames = 0.0, 0
        per: dict[str, dict[str, dict[str, float]]] = {}
        for kind, snr, pcm in cases:
            detector.reset()
            probabilities, seconds = judge(detector, pcm)
            cpu += seconds
            frames += len(probabilities)
            figures = score(probabilities, label, noise_only)
            figures |= turn_figures(name, detector.frame_ms, probabilities, pcm, signal)
            per.setdefault(kind, {})[snr] = figures
        result[name] = {"frame_ms": detector.frame_ms, "cpu_us_per_frame": cpu / frames * 1e6,
                        "conditions": per}
    return result


def median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, first in runs[0].items():
        cpu = statistics.median(r[name]["cpu_us_per_frame"] for r in runs)
        conditions: dict[str, Any] = {}
        for kind, by_snr in first["conditions"].items():
            conditions[kind] = {}
            for snr, figures in by_snr.items():
                conditions[kind][snr] = {
                    key: round(statistics.median(r[name]["conditions"][kind][snr][key]
                                                 for r in runs), 3)
                    for key in figures
                }
        noisy = [f for kind, s in conditions.items() if kind != "clean" for f in s.values()]
        out[name] = {
            "frame_ms": first["frame_ms"],
            "cpu_us_per_frame": round(cpu, 1),
            "cpu_per_speaker": round(cpu / (first["frame_ms"] * 1000), 4),
            "noisy_mean": {key: round(statistics.fmean(f[key] for f in noisy), 3)
                           for key in ("accuracy", "false_positive", "miss", "false_turns")},
            "conditions": conditions,
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="two noises, two SNRs")
    args = parser.parse_args()
    signal = build_signal()
    runs = [run_once(signal, seed, args.quick) for seed in range(args.runs)]
    engines = median_of(runs)
    best = max(engines, key=lambda n: engines[n]["noisy_mean"]["accuracy"])
    print(json.dumps({
        "signal": {"seconds": round(signal.clean.size / N.RATE, 1), "sentences": len(SENTENCES),
                   "snr_db": list(SNRS), "noises": list(N.NOISES), "runs": args.runs,
                   "threshold": THRESHOLD, "webrtc_mode": WEBRTC_MODE},
        "best_noisy_accuracy": best,
        "engines": engines,
    }, indent=1))


if __name__ == "__main__":
    main()
