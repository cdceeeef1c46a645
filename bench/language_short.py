"""Detection of hard short chat lines (issue 13), on a tuning and a held-out half, as JSON.

Reads ``bench/data/language_short.tsv`` (slang, abbreviations, toneless Vietnamese,
kanji-only Japanese, regional German, both Chinese variants) and splits it by a
fixed rule: within each language, the 1st, 3rd, 5th ... line is the *tuning* half
and the 2nd, 4th, 6th ... line the *held-out* half, which tables and weights were
never tuned on. For Libra's detector it prints accuracy overall and per language on
each half, how many detections fall below ``language.min_confidence`` (those never
move a channel's language: the caller keeps the channel's) and how accurate the
confident rest is, and per-message time percentiles; langdetect (seeded, restricted
to the configured languages, and with all its profiles) runs on the same lines.

    .venv/bin/python bench/language_short.py [--data PATH] [--errors]

``bench/data/language_short_fresh.tsv``, a second set written after the word tables
(so they could not be fitted to it), is scored as ``fresh``. ``--errors`` lists the
tuning half's misses only, so tuning never sees the held-out lines;
``--held-out-errors`` lists the held-out and fresh misses too, for the final report.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory
from langdetect.lang_detect_exception import LangDetectException

from libra.config import Settings
from libra.language.api import Detection
from libra.language.detect import LanguageDetector

DATA = Path(__file__).parent / "data" / "language_short.tsv"
FRESH = Path(__file__).parent / "data" / "language_short_fresh.tsv"
"""A second set, written after the word tables and never tuned on (reported as ``fresh``)."""
REPEATS = 5
"""Timing passes over the set: p99 of one pass of 480 lines is mostly noise."""


def load_halves(path: Path) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(tuning, held-out): alternate lines of each language, in file order."""
    seen = Counter[str]()
    tuning: list[tuple[str, str]] = []
    held_out: list[tuple[str, str]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        label, text = line.split("\t", 1)
        (tuning if seen[label] % 2 == 0 else held_out).append((label, text))
        seen[label] += 1
    return tuning, held_out


def load(path: Path) -> list[tuple[str, str]]:
    """Every labelled line of ``path``."""
    tuning, held_out = load_halves(path)
    return tuning + held_out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def score(rows: list[tuple[str, str]], predict: Callable[[str], Detection],
          min_confidence: float) -> dict[str, object]:
    """Accuracy, low-confidence share and confusions of ``predict`` on ``rows``."""
    correct = Counter[str]()
    total = Counter[str]()
    confusions = Counter[str]()
    confident = confident_right = 0
    errors = []
    for label, text in rows:
        detection = predict(text)
        total[label] += 1
        sure = detection.confidence >= min_confidence
        confident += sure
        if detection.language == label:
            correct[label] += 1
            confident_right += sure
        else:
            confusions[f"{label}->{detection.language}"] += 1
            errors.append({"label": label, "got": detection.language,
                           "confidence": detection.confidence, "text": text})
    return {
        "messages": len(rows),
        "accuracy": round(sum(correct.values()) / len(rows), 4),
        "per_language": {lang: round(correct[lang] / n, 4) for lang, n in sorted(total.items())},
        "low_confidence_share": round(1 - confident / len(rows), 4),
        "accuracy_when_confident": round(confident_right / max(1, confident), 4),
        "confusions": dict(confusions.most_common(8)),
        "errors": errors,
    }


def timing(rows: list[tuple[str, str]], predict: Callable[[str], object],
           repeats: int = REPEATS) -> dict[str, float]:
    """Per-message milliseconds over ``repeats`` passes (after a warm-up pass)."""
    for _, text in rows:
        predict(text)
    times_ms: list[float] = []
    for _ in range(repeats):
        for _, text in rows:
            t0 = time.perf_counter()
            predict(text)
            times_ms.append((time.perf_counter() - t0) * 1000)
    return {"ms_p50": round(statistics.median(times_ms), 4),
            "ms_p99": round(percentile(times_ms, 0.99), 4),
            "ms_max": round(max(times_ms), 4)}


def langdetect_predictor(languages: tuple[str, ...] | None) -> Callable[[str], Detection]:
    """Seeded langdetect, on ``languages``' profiles (all 55 when ``None``)."""
    factory = DetectorFactory()
    if languages is None:
        factory.load_profile(PROFILES_DIRECTORY)
    else:
        factory.load_json_profile([(Path(PROFILES_DIRECTORY) / code).read_text(encoding="utf-8")
                                   for code in languages])
    factory.set_seed(0)

    def predict(text: str) -> Detection:
        detector = factory.create()
        detector.append(text)
        try:
            best = detector.get_probabilities()[0]
        except (LangDetectException, IndexError):
            return Detection(language="unknown", confidence=0.0, method="none")
        return Detection(language=str(best.lang), confidence=float(best.prob))
    return predict


def run(name: str, predict: Callable[[str], Detection], halves: dict[str, list[tuple[str, str]]],
        min_confidence: float, *, errors: set[str]) -> dict[str, object]:
    result: dict[str, object] = {}
    for half, rows in halves.items():
        scored = score(rows, predict, min_confidence)
        if half not in errors:
            scored.pop("errors")
        result[half] = scored
    result.update(timing([row for rows in halves.values() for row in rows], predict,
                         repeats=REPEATS if name == "libra" else 1))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--fresh", type=Path, default=FRESH)
    parser.add_argument("--errors", action="store_true", help="list the tuning half's misses")
    parser.add_argument("--held-out-errors", action="store_true",
                        help="list the held-out half's misses too (not while tuning)")
    args = parser.parse_args()
    tuning, held_out = load_halves(args.data)
    halves = {"tuning": tuning, "held_out": held_out}
    if args.fresh.exists():
        halves["fresh"] = load(args.fresh)
    settings = Settings().language
    detector = LanguageDetector(settings.languages, default=settings.default,
                                zh_default=settings.zh_default)
    errors = ({"tuning"} if args.errors else set()) | (
        {"held_out", "fresh"} if args.held_out_errors else set())
    report: dict[str, object] = {
        "messages": {half: len(rows) for half, rows in halves.items()},
        "min_confidence": settings.min_confidence,
        "libra": run("libra", detector.detect, halves, settings.min_confidence, errors=errors),
        "langdetect_configured_languages": run(
            "langdetect", langdetect_predictor(settings.languages), halves,
            settings.min_confidence, errors=set()),
        "langdetect_plain": run("langdetect", langdetect_predictor(None), halves,
                                settings.min_confidence, errors=set()),
    }
    print(json.dumps(report, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
