"""``pull`` against a local mirror: progress, resume, refusal, parallel pulls, cancel."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import aiohttp
import pytest

from libra.errors import (
    ModelChecksumMismatch,
    ModelDiskFull,
    ModelDownloadFailed,
    ModelTooLarge,
    ModelUnverified,
)
from libra.voice.models.download import DownloadPolicy, Fetcher
from libra.voice.models.install import ModelInstaller, PullOutcome
from libra.voice.models.progress import PlainProgress
from libra.voice.models.state import MANIFEST
from libra.voice.models.store import ModelStore
from tests.fakes.fake_model_mirror import FakeModelMirror
from tests.integration.models.conftest import (
    FAST,
    files_spec,
    mirror_path,
    noise,
    vosk_zip,
    zip_spec,
)


def installer(root: Path, mirror: FakeModelMirror, log: io.StringIO | None = None,
              policy: DownloadPolicy = FAST) -> ModelInstaller:
    return ModelInstaller(ModelStore(root), progress=PlainProgress(log or io.StringIO()),
                          mirror=mirror.url, policy=policy)


def leftovers(root: Path) -> list[str]:
    """Everything under the models folder except locks and partial downloads."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                  if not p.relative_to(root).parts[0].startswith((".locks", ".partial")))


async def test_pull_unpacks_the_model_and_shows_progress(tmp_path: Path,
                                                         mirror: FakeModelMirror) -> None:
    data = vosk_zip(size=3_000_000)
    spec = zip_spec("tiny-vosk-0.1", data)
    mirror.add(mirror_path(spec), data, chunk=16 * 1024)
    log = io.StringIO()

    result = await installer(tmp_path, mirror, log).pull(spec)

    assert result.outcome is PullOutcome.INSTALLED
    folder = tmp_path / "vosk" / "tiny-vosk-0.1"
    assert result.installation.path == folder
    # The zip's single top folder is dropped: the engine loads the folder itself.
    assert (folder / "am" / "final.mdl").stat().st_size == 3_000_000
    assert (folder / "conf" / "model.conf").read_text() == "--sample-frequency=16000\n"
    manifest = json.loads((folder / MANIFEST).read_text())
    assert manifest["name"] == "tiny-vosk-0.1" and manifest["verified"] is True
    lines = log.getvalue().splitlines()
    assert lines[0].startswith("tiny-vosk-0.1: downloading ")
    percents = [line.split(": ")[1].split("%")[0] for line in lines[1:]]
    assert percents == [str(p) for p in range(10, 101, 10)]
    assert mirror.requests[0].user_agent is not None
    assert mirror.requests[0].user_agent.startswith("libra/")
    # Nothing left over: the partial download is gone once the model is in place.
    assert not (tmp_path / ".partial" / "vosk" / "tiny-vosk-0.1").exists()
    assert leftovers(tmp_path) == sorted(["vosk", "vosk/tiny-vosk-0.1", *[
        f"vosk/tiny-vosk-0.1/{p}" for p in
        ("am", "am/final.mdl", "conf", "conf/model.conf", "graph", "graph/phones.txt",
         MANIFEST)]])


async def test_pull_resumes_after_a_cut_connection(tmp_path: Path,
                                                   mirror: FakeModelMirror) -> None:
    data = vosk_zip(size=400_000)
    spec = zip_spec("tiny-vosk-0.1", data)
    path = mirror_path(spec)
    mirror.add(path, data, chunk=10_000, cut_after=150_000, cuts=2)
    log = io.StringIO()

    result = await installer(tmp_path, mirror, log).pull(spec)

    assert result.outcome is PullOutcome.INSTALLED
    assert [r.range for r in mirror.requests] == [None, "bytes=150000-", "bytes=300000-"]
    assert mirror.sent[path] == len(data)  # no byte fetched twice
    assert "the connection was cut mid-file; retrying" in log.getvalue()
    assert (tmp_path / "vosk" / "tiny-vosk-0.1" / "am" / "final.mdl").is_file()


async def test_a_server_that_ignores_range_starts_the_file_over(
        tmp_path: Path, mirror: FakeModelMirror) -> None:
    data = noise(200_000)
    spec = files_spec("tiny-voice", {"tiny-voice.onnx": data})
    mirror.add(mirror_path(spec), data, chunk=10_000, cut_after=50_000, cuts=1,
               ignore_range=True)

    await installer(tmp_path, mirror).pull(spec)

    assert [r.range for r in mirror.requests] == [None, "bytes=50000-"]
    assert (tmp_path / "piper" / "tiny-voice" / "tiny-voice.onnx").read_bytes() == data


async def test_a_bad_checksum_is_refused_and_nothing_is_installed(
        tmp_path: Path, mirror: FakeModelMirror) -> None:
    data = vosk_zip()
    spec = zip_spec("tiny-vosk-0.1", data)
    wrong = bytearray(data)
    wrong[1000] ^= 0xFF  # same size, one bit flipped in transit or on the server
    mirror.add(mirror_path(spec), bytes(wrong))

    with pytest.raises(ModelChecksumMismatch) as caught:
        await installer(tmp_path, mirror).pull(spec)

    assert "tiny-vosk-0.1/tiny-vosk-0.1.zip does not match its SHA-256" in str(caught.value)
    assert ModelStore(tmp_path).installed(spec) is None
    assert leftovers(tmp_path) == []
    assert list((tmp_path / ".partial").rglob("*.part")) == []  # deleted, not resumed next time


async def test_a_server_sending_more_than_the_catalogue_says_is_cut_off(
        tmp_path: Path, mirror: FakeModelMirror) -> None:
    data = noise(100_000)
    spec = files_spec("tiny-voice", {"tiny-voice.onnx": data})
    mirror.add(mirror_path(spec), data + noise(50_000, seed=2))

    with pytest.raises(ModelTooLarge):
        await installer(tmp_path, mirror).pull(spec)

    assert list((tmp_path / ".partial").rglob("*.part")) == []
    assert leftovers(tmp_path) == []


async def test_a_missing_file_is_a_clear_error_without_retries(
        tmp_path: Path, mirror: FakeModelMirror) -> None:
    spec = files_spec("tiny-voice", {"tiny-voice.onnx": noise(1000)})
    # Nothing added: the mirror answers 404, as a half-filled mirror would.

    behind_proxy = mirror.url.replace("http://", "http://libra:pr0xy-pass@")
    pulls = ModelInstaller(ModelStore(tmp_path), progress=PlainProgress(io.StringIO()),
                           mirror=behind_proxy, policy=FAST)

    with pytest.raises(ModelDownloadFailed) as caught:
        await pulls.pull(spec)

    assert str(caught.value) == (
        f"{mirror.url}/models.example/piper/tiny-voice/tiny-voice.onnx answered 404 Not Found "
        "(check voice.models_mirror, or whether the file moved upstream)")
    assert len(mirror.requests) == 1


async def test_a_silent_server_times_out_with_a_clear_error(
        tmp_path: Path, mirror: FakeModelMirror) -> None:
    data = noise(100_000)
    spec = files_spec("tiny-voice", {"tiny-voice.onnx": data})
    mirror.add(mirror_path(spec), data, chunk=1000, delay=1.0)
    policy = DownloadPolicy(attempts=2, backoff=0.01, read_timeout=0.3)

    with pytest.raises(ModelDownloadFailed) as caught:
        await installer(tmp_path, mirror, policy=policy).pull(spec)

    assert "no data for 0.3 s; gave up after 2 attempts" in str(caught.value)
    assert "continues where it stopped" in str(caught.value)
    # What arrived is kept for the next try.
    assert sum(p.stat().st_size for p in (tmp_path / ".partial").rglob("*.part")) == 2000


async def test_server_errors_are_retried(tmp_path: Path, mirror: FakeModelMirror) -> None:
    data = noise(10_000)
    spec = files_spec("tiny-voice", {"tiny-voice.onnx": data})
    served = mirror.add(mirror_path(spec), data, status=503)
    log = io.StringIO()
    pull = asyncio.create_task(installer(tmp_path, mirror, log).pull(spec))
    await mirror.wait_for_requests(2)
    served.status = 200  # the mirror recovers

    result = await pull

    assert result.outcome is PullOutcome.INSTALLED
    assert "the server answered 503" in log.getvalue()


async def test_parallel_pulls_download_once(tmp_path: Path, mirror: FakeModelMirror) -> None:
    data = vosk_zip(size=300_000)
    spec = zip_spec("tiny-vosk-0.1", data)
    path = mirror_path(spec)
    mirror.add(path, data, chunk=20_000, delay=0.01)
    first_log, second_log = io.StringIO(), io.StringIO()

    # Two installers, two lock file descriptors: the same as two processes.
    first = asyncio.create_task(installer(tmp_path, mirror, first_log).pull(spec))
    await mirror.wait_for_bytes(path, 20_000)
    second = await installer(tmp_path, mirror, second_log).pull(spec)
    done = await first

    assert done.outcome is PullOutcome.INSTALLED
    assert second.outcome is PullOutcome.ALREADY_INSTALLED
    assert "waiting for another pull of it to finish" in second_log.getvalue()
    assert len(mirror.requests) == 1 and mirror.sent[path] == len(data)
    assert ModelStore(tmp_path).installed(spec) is not None


async def test_a_cancelled_pull_installs_nothing_and_the_next_one_resumes(
        tmp_path: Path, mirror: FakeModelMirror) -> None:
    onnx, config = noise(400_000), b'{"audio": {"sample_rate": 22050}}'
    spec = files_spec("tiny-voice", {"tiny-voice.onnx": onnx, "tiny-voice.onnx.json": config})
    path = mirror_path(spec)
    served = mirror.add(path, onnx, chunk=10_000, delay=0.01)
    mirror.add(mirror_path(spec, 1), config)

    pull = asyncio.create_task(installer(tmp_path, mirror).pull(spec))
    await mirror.wait_for_bytes(path, 100_000)
    pull.cancel()
    with pytest.raises(asyncio.CancelledError):
        await pull

    store = ModelStore(tmp_path)
    assert store.installed(spec) is None
    assert leftovers(tmp_path) == []
    held = store.partial_bytes(spec)
    assert held > 0  # what had arrived is kept

    served.delay = 0.0
    result = await installer(tmp_path, mirror).pull(spec)

    assert result.outcome is PullOutcome.INSTALLED
    assert mirror.requests[-2].range == f"bytes={held}-"
    assert (tmp_path / "piper" / "tiny-voice" / "tiny-voice.onnx").read_bytes() == onnx


async def test_a_model_without_a_checksum_needs_consent(tmp_path: Path,
                                                        mirror: FakeModelMirror) -> None:
    data = vosk_zip()
    spec = zip_spec("tiny-vosk-0.1", data, digest=None)
    mirror.add(mirror_path(spec), data)

    with pytest.raises(ModelUnverified):
        await installer(tmp_path, mirror).pull(spec)
    assert mirror.requests == []

    log = io.StringIO()
    result = await installer(tmp_path, mirror, log).pull(spec, allow_unverified=True)

    assert result.installation.verified is False
    assert "recorded" in log.getvalue() and "trust on first use" in log.getvalue()
    manifest = json.loads((result.installation.path / MANIFEST).read_text())
    assert manifest["verified"] is False


async def test_force_replaces_an_installed_model(tmp_path: Path,
                                                 mirror: FakeModelMirror) -> None:
    data = noise(50_000)
    spec = files_spec("tiny-voice", {"tiny-voice.onnx": data})
    mirror.add(mirror_path(spec), data)
    await installer(tmp_path, mirror).pull(spec)
    target = tmp_path / "piper" / "tiny-voice" / "tiny-voice.onnx"
    target.write_bytes(b"damaged")

    again = await installer(tmp_path, mirror).pull(spec)
    assert again.outcome is PullOutcome.ALREADY_INSTALLED
    forced = await installer(tmp_path, mirror).pull(spec, force=True)

    assert forced.outcome is PullOutcome.INSTALLED
    assert target.read_bytes() == data
    assert leftovers(tmp_path) == ["piper", "piper/tiny-voice", f"piper/tiny-voice/{MANIFEST}",
                                   "piper/tiny-voice/tiny-voice.onnx"]


async def test_a_full_disk_is_reported_with_what_to_do(mirror: FakeModelMirror) -> None:
    mirror.add("/models.example/big.bin", noise(100_000))
    notes: list[str] = []
    # /dev/full answers every write with ENOSPC, as a full disk does.
    async with aiohttp.ClientSession() as session:
        fetcher = Fetcher(session, FAST, notes.append)
        with pytest.raises(ModelDiskFull) as caught:
            await fetcher.fetch(f"{mirror.url}/models.example/big.bin", Path("/dev/full"),
                                size=100_000, label="big.bin", on_bytes=lambda _n: None)

    assert str(caught.value) == ("no space left on the disk of /dev (free some space and run "
                                 "the same command again: it continues where it stopped)")
    assert notes == []  # not retried: retrying cannot free space
