"""Language detection accuracy and speed on short chat messages, as JSON.

Runs Libra's detector (configured languages from the default settings) and plain
langdetect (seeded; with all 55 profiles, and with only the configured languages')
over ``bench/data/language.tsv`` and prints accuracy overall and per language, the
most frequent confusions, the share of messages under 25 characters and per-message
time percentiles.

    .venv/bin/python bench/language.py [--data PATH] [--errors]
"""

from __future__ import annotations

import argparse
import importlib
import json
import statistics
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory
from langdetect.lang_detect_exception import LangDetectException

from libra.config import Settings
from libra.language.detect import LanguageDetector

DATA = Path(__file__).parent / "data" / "language.tsv"


def load(path: Path) -> list[tuple[str, str]]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        label, text = line.split("\t", 1)
        rows.append((label, text))
    return rows


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def evaluate(rows: list[tuple[str, str]], predict: Callable[[str], str]) -> dict[str, object]:
    for _, text in rows[:20]:  # warm caches so the first call does not skew p99
        predict(text)
    times_ms: list[float] = []
    correct = Counter[str]()
    total = Counter[str]()
    confusions = Counter[str]()
    errors = []
    for label, text in rows:
        t0 = time.perf_counter()
        got = predict(text)
        times_ms.append((time.perf_counter() - t0) * 1000)
        total[label] += 1
        if got == label:
            correct[label] += 1
        else:
            confusions[f"{label}->{got}"] += 1
            errors.append({"label": label, "got": got, "text": text})
    return {
        "accuracy": round(sum(correct.values()) / len(rows), 4),
        "per_language": {lang: round(correct[lang] / n, 4) for lang, n in sorted(total.items())},
        "confusions": dict(confusions.most_common(10)),
        "ms_p50": round(statistics.median(times_ms), 4),
        "ms_p99": round(percentile(times_ms, 0.99), 4),
        "ms_mean": round(statistics.fmean(times_ms), 4),
        "errors": errors,
    }


def lingua_predictor(languages: tuple[str, ...]) -> Callable[[str], str] | None:
    """lingua restricted to the configured languages, when it is installed.

    Not a dependency: ``pip install lingua-language-detector`` to compare. lingua has
    one Chinese; it is scored as zh-cn, and the report adds a lenient figure that
    counts either Chinese label as right.
    """
    try:
        lingua = importlib.import_module("lingua")
    except ImportError:
        return None
    names = {"en": "ENGLISH", "ko": "KOREAN", "ja": "JAPANESE", "zh-cn": "CHINESE",
             "zh-tw": "CHINESE", "es": "SPANISH", "fr": "FRENCH", "de": "GERMAN",
             "ru": "RUSSIAN", "pt": "PORTUGUESE", "it": "ITALIAN", "vi": "VIETNAMESE"}
    wanted = {getattr(lingua.Language, names[c]) for c in languages if c in names}
    back = {getattr(lingua.Language, n): c for c, n in names.items() if c != "zh-tw"}
    detector = lingua.LanguageDetectorBuilder.from_languages(*wanted).build()
    return lambda text: back.get(detector.detect_language_of(text), "unknown")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--errors", action="store_true", help="list every miss")
    args = parser.parse_args()
    rows = load(args.data)
    settings = Settings().language
    detector = LanguageDetector(settings.languages, default=settings.default,
                                zh_default=settings.zh_default)

    factory = DetectorFactory()
    factory.load_profile(PROFILES_DIRECTORY)
    factory.set_seed(0)

    restricted = DetectorFactory()
    restricted.load_json_profile(
        [(Path(PROFILES_DIRECTORY) / code).read_text(encoding="utf-8")
         for code in settings.languages]
    )
    restricted.set_seed(0)

    def langdetect_with(factory_: DetectorFactory) -> Callable[[str], str]:
        def predict(text: str) -> str:
            detector_ = factory_.create()
            detector_.append(text)
            try:
                return str(detector_.detect())
            except LangDetectException:
                return "unknown"
        return predict

    ours = evaluate(rows, lambda text: detector.detect(text).language)
    baseline = evaluate(rows, langdetect_with(factory))
    baseline_restricted = evaluate(rows, langdetect_with(restricted))
    others: dict[str, dict[str, object]] = {}
    if (lingua := lingua_predictor(settings.languages)) is not None:
        others["lingua_configured_languages"] = evaluate(rows, lingua)
        misses = others["lingua_configured_languages"]["errors"]
        assert isinstance(misses, list)
        lenient = sum(m["label"] == "zh-tw" and m["got"] == "zh-cn" for m in misses)
        accuracy = others["lingua_configured_languages"]["accuracy"]
        assert isinstance(accuracy, float)
        others["lingua_configured_languages"]["accuracy_either_chinese"] = round(
            accuracy + lenient / len(rows), 4)
    if not args.errors:
        for result in (ours, baseline, baseline_restricted, *others.values()):
            result.pop("errors")
    report = {
        "messages": len(rows),
        "languages": len({label for label, _ in rows}),
        "share_under_25_chars": round(sum(len(t) < 25 for _, t in rows) / len(rows), 4),
        "libra": ours,
        "langdetect_plain": baseline,
        "langdetect_configured_languages": baseline_restricted,
        **others,
    }
    print(json.dumps(report, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
