"""Models baked into a container image sit in a read-only folder: use yes, change no.

The folder is made truly read-only (a read-only bind mount in a private mount
namespace when running as root, where file modes do not stop writes; ``chmod`` for
anyone else), and ``libra models`` runs against it in a child process.
"""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import stat
import sys
import zipfile
from io import StringIO
from pathlib import Path

import pytest

from libra.voice.models.commands import ModelsCommands
from libra.voice.models.store import ModelStore
from tests.fakes.fake_model_mirror import FakeModelMirror
from tests.integration.models.conftest import FAST, catalogue, mirror_path, noise, zip_spec

REPO = Path(__file__).resolve().parents[3]


def fixed_zip(top: str, size: int) -> bytes:
    """A Vosk-like zip that is the same bytes in every process (fixed time stamps), so
    the child checking the folder agrees with the parent that built it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in ((f"{top}/am/final.mdl", noise(size)),
                           (f"{top}/conf/model.conf", b"--sample-frequency=16000\n")):
            zf.writestr(zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0)), data)
    return buffer.getvalue()


ZIPS = {"baked-0.1": fixed_zip("baked-0.1", 300_000), "later-0.1": fixed_zip("later-0.1", 2000)}
BAKED = zip_spec("baked-0.1", ZIPS["baked-0.1"])
LATER = zip_spec("later-0.1", ZIPS["later-0.1"])

CHILD = """
import asyncio, sys
from pathlib import Path
from libra.voice.models.commands import ModelsCommands
from libra.voice.models.store import ModelStore
from tests.integration.models.conftest import FAST, catalogue
from tests.integration.models.test_read_only_folder import BAKED, LATER

commands = ModelsCommands(catalogue(BAKED, LATER), ModelStore(Path(sys.argv[1])),
                          mirror=sys.argv[2], out=sys.stdout, err=sys.stdout, policy=FAST)
step = sys.argv[3]
if step == "list":
    code = commands.show()
elif step == "verify":
    code = asyncio.run(commands.verify([BAKED.name]))
elif step == "pull-baked":
    code = asyncio.run(commands.pull([BAKED.name]))
elif step == "pull-new":
    code = asyncio.run(commands.pull([LATER.name]))
else:
    code = asyncio.run(commands.remove([BAKED.name]))
print(f"exit={code}")
"""


def read_only_runner(folder: Path) -> list[str]:
    """The command prefix that runs a program with ``folder`` read-only."""
    if os.geteuid() != 0:
        for path in [folder, *folder.rglob("*")]:
            mode = path.stat().st_mode
            path.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
        return []
    if shutil.which("unshare") is None:
        pytest.skip("running as root, where file modes do not stop writes, and without "
                    "unshare(1) to mount the folder read-only")
    script = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"'
    return ["unshare", "-m", "sh", "-c", script, "sh", str(folder)]


async def run_child(prefix: list[str], folder: Path, mirror: str, step: str) -> str:
    env = {**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH", str(REPO))}
    process = await asyncio.create_subprocess_exec(
        *prefix, sys.executable, "-c", CHILD, str(folder), mirror, step, env=env, cwd=REPO,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    return out.decode()


async def test_a_read_only_models_folder_serves_its_models_and_refuses_changes(
        tmp_path: Path, mirror: FakeModelMirror) -> None:
    folder = tmp_path / "models"
    for spec in (BAKED, LATER):
        mirror.add(mirror_path(spec), ZIPS[spec.name])
    # "docker build": the model is pulled while the folder is still writable.
    build = ModelsCommands(catalogue(BAKED, LATER), ModelStore(folder), mirror=mirror.url,
                           out=StringIO(), err=(build_err := StringIO()), policy=FAST)
    assert await build.pull([BAKED.name]) == 0, build_err.getvalue()
    prefix = read_only_runner(folder)
    probe = await asyncio.create_subprocess_exec(
        *prefix, "touch", str(folder / "probe"), stderr=asyncio.subprocess.PIPE)
    await probe.communicate()
    assert probe.returncode != 0, "the folder is not read-only"

    listing = await run_child(prefix, folder, mirror.url, "list")
    assert "exit=0" in listing
    baked_row = next(line for line in listing.splitlines() if line.startswith(BAKED.name))
    assert baked_row.endswith("installed"), listing
    verify = await run_child(prefix, folder, mirror.url, "verify")
    assert "OK      baked-0.1" in verify and "exit=0" in verify
    again = await run_child(prefix, folder, mirror.url, "pull-baked")
    assert "already installed" in again and "exit=0" in again

    new = await run_child(prefix, folder, mirror.url, "pull-new")
    assert "exit=1" in new
    assert f"the models folder {folder} cannot be written" in new
    assert "LIBRA_VOICE__MODELS_DIR=/data/models" in new
    assert "Traceback" not in new
    assert not any(r.path.endswith("later-0.1.zip") for r in mirror.requests), \
        "nothing may be downloaded into a folder that cannot keep it"

    removed = await run_child(prefix, folder, mirror.url, "remove")
    assert "cannot be written" in removed and "exit=1" in removed
    assert (folder / "vosk" / BAKED.name).is_dir()
