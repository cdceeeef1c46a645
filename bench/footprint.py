"""Libra's own memory on a small VPS: ``libra run`` and the voice engines, measured.

1. ``libra run`` as a real child process against the fake Discord and a fake Ollama
   (the model's memory is Ollama's, not Libra's), answering ``--mentions`` mentions;
   then ``libra health`` against it. RSS of the Libra process after start and after
   the replies; with the embedded PostgreSQL (no ``TEST_DATABASE_URL``) also the sum
   of its server processes' RSS.
2. The voice engines loaded into one fresh Libra process, one after the other, each
   used once on speech Piper makes: Silero VAD, WebRTC VAD, the Piper voice, Vosk
   (the small model installed: Korean here, the only one packaged), Whisper tiny.en.
   RSS after each step.

``--image-python PY`` runs the children with another interpreter (the image's venv,
built with the Dockerfile's pip commands); ``--read-only`` (root only) runs them as
uid 10001 with the root filesystem read-only, a tmpfs /tmp and HOME read-only, as in
``compose.yaml``, so any write outside the data folder fails (docs/deployment.md).

Run: .venv/bin/python bench/footprint.py [--read-only] [--image-python PY] [--mentions 20]
Prints JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fakes.fake_discord import FakeDiscord  # noqa: E402
from tests.fakes.fake_ollama import FakeOllama  # noqa: E402

MB = 2**20
ENGINES = r"""
import asyncio, json, os, sys, time
import numpy as np

def rss():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)

steps = {}
import libra.app, libra.discord.plugin  # what `libra run` imports before any voice
steps["libra imported"] = rss()
from libra.voice.audio import resample, s16_to_float, float_to_s16
from libra.voice.models.official import OFFICIAL_CATALOGUE
from libra.voice.models.store import ModelStore
from libra.voice.vad import new_detector
from pathlib import Path
store = ModelStore(Path(os.environ["LIBRA_DATA_DIR"]) / "models")
def installed(name):
    found = store.installed(OFFICIAL_CATALOGUE.get(name))
    return None if found is None else found.path

async def main():
    from libra.voice.backends.piper import PiperSpeaker
    joe = installed("en_US-joe-medium")
    t0 = time.perf_counter()
    speaker = await PiperSpeaker.load(joe / "en_US-joe-medium.onnx",
                                      joe / "en_US-joe-medium.onnx.json",
                                      voice="en_US-joe-medium", language="en")
    pcm, rate = b"", 22050
    async for audio in speaker.synthesize("Hello, this is Libra. How can I help you today?"):
        pcm += audio.pcm
        rate = audio.sample_rate
    steps["+ piper en_US-joe-medium"] = rss()
    steps["piper load+speak s"] = round(time.perf_counter() - t0, 2)
    return float_to_s16(resample(s16_to_float(pcm), rate, 16000))

speech = asyncio.run(main())
for engine in ("silero", "webrtc"):
    detector = new_detector(engine)
    frame = 16 * detector.frame_ms * 2
    voiced = sum(detector.speech_probability(speech[i:i + frame]) > 0.5
                 for i in range(0, len(speech) - frame, frame))
    steps[f"+ {engine} vad"] = rss()
vosk_dir = installed("vosk-model-small-ko-0.22")
if vosk_dir is not None:
    import vosk
    vosk.SetLogLevel(-1)
    t0 = time.perf_counter()
    recognizer = vosk.KaldiRecognizer(vosk.Model(str(vosk_dir)), 16000)
    for i in range(0, len(speech), 3200):
        recognizer.AcceptWaveform(speech[i:i + 3200])
    recognizer.FinalResult()
    steps["+ vosk vosk-model-small-ko-0.22"] = rss()
    steps["vosk load+decode s"] = round(time.perf_counter() - t0, 2)
whisper_dir = installed("whisper-tiny.en")
if whisper_dir is not None:
    try:
        from faster_whisper import WhisperModel
    except ImportError:
        steps["whisper"] = "not installed (image without WITH_WHISPER=1)"
    else:
        t0 = time.perf_counter()
        model = WhisperModel(str(whisper_dir), device="cpu", compute_type="int8", cpu_threads=2)
        segments, _ = model.transcribe(s16_to_float(speech), language="en", beam_size=1)
        text = " ".join(s.text for s in segments).strip()
        steps["+ whisper tiny.en"] = rss()
        steps["whisper text"] = text
        steps["whisper load+decode s"] = round(time.perf_counter() - t0, 2)
print(json.dumps(steps))
"""


def read_only_prefix(data_dir: Path, home: Path) -> list[str]:
    """Run a command as uid 10001 with / read-only, ``data_dir`` writable, /tmp a tmpfs.

    The image's /etc/passwd names uid 10001 (initdb refuses a uid without a name), so
    this machine's is replaced, in the private mount namespace only, by one that does.
    """
    passwd = data_dir.parent / "passwd"
    passwd.write_text(Path("/etc/passwd").read_text()
                      + f"libra:x:10001:10001::{home}:/usr/sbin/nologin\n")
    group = data_dir.parent / "group"
    group.write_text(Path("/etc/group").read_text() + "libra:x:10001:\n")
    script = (
        f'set -e; mount --bind {passwd} /etc/passwd; mount --bind {group} /etc/group; '
        'mount -o remount,bind,ro /; '
        'mount --bind "$1" "$1"; mount -o remount,bind,rw "$1"; '
        'mount -t tmpfs -o size=64m,mode=1777 tmpfs /tmp; shift; '
        'exec setpriv --reuid=10001 --regid=10001 --clear-groups "$@"')
    return ["unshare", "-m", "sh", "-c", script, "sh", str(data_dir)]


def image_env(data_dir: Path, home: Path, extra: dict[str, str]) -> dict[str, str]:
    """The Dockerfile's ENV, with this machine's paths."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1", "HOME": str(home), "XDG_CACHE_HOME": "/tmp/cache",
        "XDG_RUNTIME_DIR": "/tmp", "HF_HUB_DISABLE_TELEMETRY": "1",
        "LIBRA_DATA_DIR": str(data_dir), **extra,
    }


def tree_rss(pid: int, name: str) -> float:
    """RSS in MB of the process in ``pid``'s tree whose command line holds ``name``."""
    try:
        root = psutil.Process(pid)
        for proc in [root, *root.children(recursive=True)]:
            if name in " ".join(proc.cmdline()):
                return round(proc.memory_info().rss / MB, 1)
    except psutil.Error:
        pass
    return float("nan")


def postgres_pss(data_dir: Path) -> float:
    """Proportional set size of the embedded server (RSS would count shared buffers
    once per process)."""
    total = 0
    for proc in psutil.process_iter(["name", "cmdline", "cwd"]):
        try:
            if proc.info["name"] == "postgres" and str(data_dir) in (
                    " ".join(proc.info["cmdline"] or []) + (proc.info["cwd"] or "")):
                total += proc.memory_full_info().pss
        except psutil.Error:
            continue
    return round(total / MB, 1)


def prepare(args: argparse.Namespace) -> tuple[Path, Path, Path, list[str]]:
    """A work folder laid out like the image: data (writable), home, app (the workdir)."""
    work = Path(tempfile.mkdtemp(prefix="libra-footprint-", dir="/var/tmp"))
    work.chmod(0o755)  # mkdtemp's 0700 would keep uid 10001 out
    data_dir, home, cwd = work / "data", work / "home", work / "app"
    for folder in (data_dir, home, cwd):
        folder.mkdir()
    for folder in ("config", "migrations"):
        shutil.copytree(ROOT / folder, cwd / folder)
    prefix: list[str] = []
    if args.read_only:
        os.chown(data_dir, 10001, 10001)
        prefix = read_only_prefix(data_dir, home)
    return data_dir, home, cwd, prefix


async def run(args: argparse.Namespace) -> dict[str, Any]:
    data_dir, home, cwd, prefix = await asyncio.to_thread(prepare, args)
    work = data_dir.parent
    python = args.image_python or sys.executable
    # The image's layout: Libra from its venv, config/ and migrations/ in the workdir.
    pythonpath = {} if args.image_python else {"PYTHONPATH": str(ROOT)}
    result: dict[str, Any] = {"python": python, "read_only": args.read_only}
    fake, ollama = FakeDiscord(), FakeOllama()
    await fake.start()
    await ollama.start()
    try:
        extra = {"DISCORD_TOKEN": fake.token, "LIBRA_DISCORD__REST_URL": fake.rest_url,
                 "LIBRA_LLM__SERVERS": ollama.url, "LIBRA_APP__LOG_FORMAT": "json",
                 "LIBRA_APP__HEARTBEAT_SECONDS": "2",
                 "LIBRA_DISCORD__USER_RATE_PER_MINUTE": "600", "LIBRA_DISCORD__USER_BURST": "100"}
        if os.environ.get("TEST_DATABASE_URL"):
            extra["DATABASE_URL"] = os.environ["TEST_DATABASE_URL"]
        env = image_env(data_dir, home, {**extra, **pythonpath})
        for i in range(args.mentions):
            ollama.answers[f"please tell me something about the number {i}"] = (
                f"answer {i} " + "word " * 40)
        t0 = time.perf_counter()
        proc = await asyncio.create_subprocess_exec(
            *prefix, python, "-m", "libra", "run", cwd=cwd, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        try:
            await fake.wait_until(lambda: any(s.identified.is_set() for s in fake.connections),
                                  timeout=60)
            await asyncio.sleep(2)
            result["libra run ready s"] = round(time.perf_counter() - t0, 1)
            result["libra run RSS MB (ready)"] = tree_rss(proc.pid, "libra run")
            for i in range(args.mentions):
                await fake.user_message(f"please tell me something about the number {i}",
                                        mention_bot=True)
                await fake.wait_for_bot_content(
                    fake.text_channel.id, lambda text, i=i: text.startswith(f"answer {i} "),
                    timeout=30)
            result["libra run RSS MB (after replies)"] = tree_rss(proc.pid, "libra run")
            if "DATABASE_URL" not in extra:
                result["embedded PostgreSQL PSS MB"] = postgres_pss(data_dir)
            health = await asyncio.create_subprocess_exec(
                *prefix, python, "-m", "libra", "health", "--ready", cwd=cwd, env=env,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
            out, _ = await health.communicate()
            result["libra health --ready"] = f"exit {health.returncode}: {out.decode().strip()}"
        finally:
            if proc.returncode is None:
                proc.terminate()
            logs, _ = await asyncio.wait_for(proc.communicate(), 60)
            if args.logs:
                await asyncio.to_thread(Path(args.logs).write_bytes, logs)
        result["libra run exit"] = proc.returncode
        problems = [line for line in logs.decode().splitlines()
                    if any(word in line for word in ("Traceback", "Read-only", "Permission "
                                                     "denied", '"level": "ERROR"'))]
        result["libra run log problems"] = problems[:10]

        engines = await asyncio.create_subprocess_exec(
            *prefix, python, "-c", ENGINES, cwd=cwd, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(engines.communicate(), 300)
        if engines.returncode != 0:
            result["voice engines error"] = err.decode()[-2000:]
        else:
            result["voice engines (RSS MB after each step)"] = json.loads(out)
            noise = [line for line in err.decode().splitlines() if line.strip()]
            result["voice engines stderr"] = noise[:10]
        written = sorted(str(p.relative_to(data_dir)) for p in data_dir.rglob("*")
                         if p.is_file() and "postgres/" not in str(p.relative_to(data_dir)))
        result["files written in the data folder (outside postgres/)"] = written[:20]
    finally:
        await fake.stop()
        await ollama.stop()
        shutil.rmtree(work, ignore_errors=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mentions", type=int, default=20)
    parser.add_argument("--read-only", action="store_true")
    parser.add_argument("--image-python", help="interpreter of the image's venv")
    parser.add_argument("--logs", help="write the `libra run` logs to this file")
    args = parser.parse_args()
    if args.read_only and os.geteuid() != 0:
        parser.error("--read-only needs root (it mounts the root filesystem read-only)")
    print(json.dumps(asyncio.run(run(args)), indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
