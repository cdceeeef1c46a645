"""``libra health`` (the container healthcheck) reads the heartbeat of a running Libra.

The heartbeat plugin runs for real in this process with a real health registry; the
verdict comes from a separate ``libra health`` process, as Docker's probe would run it.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from libra.app import Mode, build_graph
from libra.bus import EventBus
from libra.config import Settings
from libra.health import ComponentHealth, HealthRegistry, Status
from libra.heartbeat import Beat, HeartbeatPlugin, heartbeat_path, write_beat
from libra.plugin import PluginManager

REPO = Path(__file__).resolve().parents[3]


def libra_health(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH", str(REPO)),
           "LIBRA_DATA_DIR": str(data_dir)}
    env.pop("LIBRA_CONFIG", None)
    # cwd: a folder without config/libra.toml, so only the environment configures it.
    return subprocess.run([sys.executable, "-m", "libra", "health", *args], env=env,
                          cwd=data_dir, capture_output=True, text=True, timeout=30,
                          check=False)


def registry(database: Status) -> HealthRegistry:
    health = HealthRegistry()

    async def db() -> ComponentHealth:
        return ComponentHealth(name="database", status=database, detail="as the test says")

    async def ok(name: str) -> ComponentHealth:
        return ComponentHealth(name=name, status=Status.OK)

    health.register("database", db)
    health.register("migrations", lambda: ok("migrations"))
    health.register("llm", lambda: ok("llm"))
    return health


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[tuple[Path, PluginManager]]:
    settings = Settings.model_validate({"app": {"data_dir": tmp_path, "heartbeat_seconds": 1}})
    manager = PluginManager([HeartbeatPlugin(registry(Status.OK))], settings, EventBus())
    await manager.start_all()
    try:
        yield tmp_path, manager
    finally:
        await manager.stop_all()


async def test_running_libra_is_healthy_and_a_stopped_one_is_not(
        running: tuple[Path, PluginManager]) -> None:
    data_dir, manager = running
    alive = await asyncio.to_thread(libra_health, data_dir, "--ready")
    assert alive.returncode == 0, alive.stderr
    assert "database ok" in alive.stdout

    await manager.stop_all()
    assert not heartbeat_path(data_dir).exists()
    gone = await asyncio.to_thread(libra_health, data_dir)
    assert gone.returncode == 1
    assert "not running" in gone.stderr


async def test_a_blocked_event_loop_is_reported_stuck(
        running: tuple[Path, PluginManager]) -> None:
    data_dir, _ = running
    # The loop does not turn (1 s interval, 3 allowed), and stays blocked while the
    # probe runs: no beat can be written in between.
    time.sleep(3.5)  # noqa: ASYNC251 (blocking the loop is the point)
    stuck = libra_health(data_dir)
    assert stuck.returncode == 1
    assert "stuck or gone" in stuck.stderr
    await asyncio.sleep(1.5)  # the loop turns again: so does the heartbeat
    again = await asyncio.to_thread(libra_health, data_dir)
    assert again.returncode == 0, again.stderr


async def test_ready_needs_the_required_components(tmp_path: Path) -> None:
    settings = Settings.model_validate({"app": {"data_dir": tmp_path}})
    manager = PluginManager([HeartbeatPlugin(registry(Status.DOWN))], settings, EventBus())
    await manager.start_all()
    try:
        live = await asyncio.to_thread(libra_health, tmp_path)
        ready = await asyncio.to_thread(libra_health, tmp_path, "--ready")
    finally:
        await manager.stop_all()
    assert live.returncode == 0, live.stderr  # alive: the loop turns
    assert ready.returncode == 1
    assert "not ready: database: down as the test says" in ready.stderr


def test_garbage_heartbeat_is_unhealthy_with_a_reason(tmp_path: Path) -> None:
    heartbeat_path(tmp_path).write_text(json.dumps({"pid": 1}))
    result = libra_health(tmp_path)
    assert result.returncode == 1
    assert "unreadable heartbeat" in result.stderr
    assert "Traceback" not in result.stderr


def a_gone_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def beat(path: Path, *, pid: int, written_at: float, host: str | None) -> None:
    components = (ComponentHealth(name="database", status=Status.OK),)
    write_beat(heartbeat_path(path), Beat(pid=pid, written_at=written_at, interval=15.0,
                                          components=components, host=host))


def test_a_heartbeat_from_the_future_is_unhealthy(tmp_path: Path) -> None:
    # A clock set back (or a file copied from elsewhere): its age says nothing, and a
    # stuck process would look alive until the clock caught up, possibly hours later.
    beat(tmp_path, pid=os.getpid(), written_at=time.time() + 3600, host=socket.gethostname())
    result = libra_health(tmp_path)
    assert result.returncode == 1
    assert "clock" in result.stderr and "in the future" in result.stderr
    # Within one interval is ordinary clock jitter between writer and reader.
    beat(tmp_path, pid=os.getpid(), written_at=time.time() + 5, host=socket.gethostname())
    assert libra_health(tmp_path).returncode == 0


def test_a_fresh_heartbeat_of_a_dead_process_is_unhealthy(tmp_path: Path) -> None:
    # Killed with SIGKILL, Libra cannot delete its file: it stays fresh for 45 s.
    gone = a_gone_pid()
    beat(tmp_path, pid=gone, written_at=time.time(), host=socket.gethostname())
    result = libra_health(tmp_path)
    assert result.returncode == 1
    assert f"pid {gone}" in result.stderr and "not running" in result.stderr


def test_the_pid_is_only_checked_on_the_host_that_wrote_it(tmp_path: Path) -> None:
    # Another container (another pid namespace, another hostname), or a file written
    # before beats named their host: its pid means nothing here.
    gone = a_gone_pid()
    for host in ("another-container", None):
        beat(tmp_path, pid=gone, written_at=time.time(), host=host)
        result = libra_health(tmp_path)
        assert result.returncode == 0, (host, result.stderr)


def test_libra_run_beats_after_every_other_plugin() -> None:
    graph = build_graph(Settings(), Mode.RUN)
    assert isinstance(graph.plugins[-1], HeartbeatPlugin)
    assert graph.heartbeat is not None
    assert build_graph(Settings(), Mode.CHAT).heartbeat is None
