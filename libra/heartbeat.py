"""A heartbeat file the running process rewrites, so a healthcheck needs no admin port.

A container healthcheck runs a *new* process beside Libra (``docker exec``-style),
which cannot look inside the running one. With the admin port on it could ask
``/api/health``; with it off (the default) it has nothing to ask. So the running
process, once every plugin has started, rewrites ``<data_dir>/heartbeat.json``
every ``app.heartbeat_seconds`` from its event loop with the health of every
component, and ``libra health`` reads that file:

* the file's age shows that the event loop still turns (a loop blocked by CPU work
  or a deadlock stops rewriting it, so the file goes stale);
* its components show whether Libra is ready (``--ready``: every component in
  ``admin.ready_required`` ok or degraded, as ``/api/health/ready`` says);
* a beat from more than one interval in the future means the clock moved (set back,
  or the file came from elsewhere): its age proves nothing, so it is not trusted;
* its pid, checked on the host (container) that wrote it, catches a process killed
  outright (``SIGKILL``, the OOM killer), which leaves a fresh file behind.

A clean stop deletes the file, so a stopped Libra is never reported alive. The file
is written beside, then renamed over the old one, so a reader never sees half of it.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loguru import logger

from libra.health import ComponentHealth, HealthRegistry, Status
from libra.plugin import Plugin, PluginContext

FILE_NAME = "heartbeat.json"
STALE_AFTER_BEATS = 3
"""A heartbeat older than this many intervals means the loop has stopped turning."""
READY_OK = (Status.OK, Status.DEGRADED)


def heartbeat_path(data_dir: Path) -> Path:
    """Where the process keeps its heartbeat file."""
    return data_dir.expanduser() / FILE_NAME


@dataclass(frozen=True, slots=True, kw_only=True)
class Beat:
    """One heartbeat, as written and read."""

    pid: int
    written_at: float
    """Unix time of the write."""
    interval: float
    """Seconds until the next write."""
    components: tuple[ComponentHealth, ...]
    host: str | None = None
    """The writer's host name: its pid means something only there (a container's
    hostname is its own, as is its pid namespace). ``None`` in files written before."""

    def to_json(self) -> str:
        """The file's content."""
        return json.dumps({
            "pid": self.pid, "host": self.host, "written_at": self.written_at,
            "interval": self.interval,
            "components": [{"name": c.name, "status": str(c.status), "detail": c.detail,
                            "fix": c.fix} for c in self.components],
        })

    @classmethod
    def from_json(cls, text: str) -> Beat:
        """Parse a heartbeat file.

        Raises:
            ValueError: not a heartbeat written by Libra.
        """
        data: Any = json.loads(text)
        try:
            components = tuple(
                ComponentHealth(name=str(c["name"]), status=Status(c["status"]),
                                detail=str(c.get("detail") or ""), fix=c.get("fix"))
                for c in data["components"])
            host = data.get("host")
            return cls(pid=int(data["pid"]), written_at=float(data["written_at"]),
                       interval=float(data["interval"]), components=components,
                       host=str(host) if host is not None else None)
        except (KeyError, TypeError) as err:
            raise ValueError(f"missing or malformed field: {err}") from err


def write_beat(path: Path, beat: Beat) -> None:
    """Replace ``path`` with ``beat`` in one step (blocking; small)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(beat.to_json(), encoding="utf-8")
    os.replace(temporary, path)


class HeartbeatPlugin(Plugin):
    """Rewrites the heartbeat file while Libra runs; listed after every other plugin."""

    name = "heartbeat"

    def __init__(self, health: HealthRegistry, *, check_timeout: float = 3.0) -> None:
        self._health = health
        self._check_timeout = check_timeout
        self._path: Path | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self, ctx: PluginContext) -> None:
        """Write the first beat now (so a healthcheck passes as soon as Libra is up)."""
        self._path = heartbeat_path(ctx.settings.app.data_dir)
        interval = ctx.settings.app.heartbeat_seconds
        await self._beat(interval)
        self._task = ctx.tasks.spawn(self._loop(interval), name="heartbeat")

    async def stop(self) -> None:
        """Stop beating and delete the file: a stopped Libra is not alive."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._path is not None:
            try:
                self._path.unlink(missing_ok=True)
            except OSError as err:  # the data folder went away or read-only: stale anyway
                logger.warning("cannot remove the heartbeat file {}: {}", self._path, err)

    async def _loop(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self._beat(interval)
            except OSError as err:  # a full or read-only disk: say so, keep trying
                logger.warning("cannot write the heartbeat file {}: {}", self._path, err)

    async def _beat(self, interval: float) -> None:
        assert self._path is not None
        components = await self._health.run(timeout=self._check_timeout)
        beat = Beat(pid=os.getpid(), written_at=time.time(), interval=interval,
                    components=tuple(sorted(components, key=lambda c: c.name)),
                    host=socket.gethostname())
        write_beat(self._path, beat)


def _running(pid: int) -> bool:
    """Whether a process ``pid`` exists here (another user's counts)."""
    if pid <= 0:  # 0 and negatives name process groups, never the writer
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    """What ``libra health`` concludes from the heartbeat file."""

    healthy: bool
    reason: str


def judge(path: Path, *, ready: bool, required: tuple[str, ...],
          now: float | None = None) -> Verdict:
    """Whether the process behind ``path`` is alive (and, with ``ready``, ready)."""
    try:
        beat = Beat.from_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Verdict(healthy=False, reason=f"no heartbeat at {path}: Libra is not running "
                       "(or still starting), or its data_dir differs from this command's")
    except (OSError, ValueError) as err:
        return Verdict(healthy=False, reason=f"unreadable heartbeat {path}: {err}")
    age = (time.time() if now is None else now) - beat.written_at
    limit = STALE_AFTER_BEATS * beat.interval
    if age > limit:
        return Verdict(healthy=False, reason=f"heartbeat is {age:.0f}s old (more than "
                       f"{limit:.0f}s): the process (pid {beat.pid}) is stuck or gone")
    if age < -beat.interval:
        return Verdict(healthy=False, reason=f"heartbeat is {-age:.0f}s in the future: the "
                       "clock moved (set back?), so its age proves nothing")
    if beat.host is not None and beat.host == socket.gethostname() \
            and not _running(beat.pid):
        return Verdict(healthy=False, reason=f"the process that wrote the heartbeat (pid "
                       f"{beat.pid}) is not running: killed without a clean stop")
    states = {c.name: c for c in beat.components}
    summary = ", ".join(f"{c.name} {c.status}" for c in beat.components) or "no components"
    if ready:
        not_ready = [name for name in required
                     if name not in states or states[name].status not in READY_OK]
        if not_ready:
            details = "; ".join(
                f"{name}: {states[name].status} {states[name].detail}".rstrip()
                if name in states else f"{name}: not running" for name in not_ready)
            return Verdict(healthy=False, reason=f"not ready: {details}")
    return Verdict(healthy=True, reason=f"alive (beat {age:.0f}s ago): {summary}")
