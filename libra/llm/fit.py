"""Whether the routed Ollama models fit in the memory Libra can see (``libra doctor``).

Libra warms every routed model at start and keeps it loaded (``llm.keep_alive``), so
on one machine all of them should fit in memory together; when they do not, Ollama
unloads one to load another and a reply waits seconds for the switch, and a model
larger than the memory cannot load at all. Sizes come, best first, from Ollama's
``/api/ps`` (a loaded model's real footprint), its ``/api/tags`` (the download size,
plus an estimate of the runtime's own needs) or :data:`KNOWN_SIZES`.

The memory is the smaller of this machine's (when Ollama runs on it) and
``llm.memory_limit``, the budget the operator gives Ollama: in compose.yaml the ollama
container's own limit (``OLLAMA_MEMORY``), which the machine's memory says nothing
about. Libra's own cgroup limit is not used: it is Libra's, not Ollama's, even when
Ollama listens on loopback (a host Ollama beside a Libra in a systemd slice).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import psutil  # type: ignore[import-untyped]

from libra.config import Settings
from libra.health import ComponentHealth, Status
from libra.llm.readiness import routed_models

NAME = "llm memory"
GB = 1_000_000_000
KNOWN_SIZES: dict[str, int] = {
    "qwen2.5:0.5b-instruct": 398_000_000,
    "qwen2.5:1.5b-instruct": 986_000_000,
    "qwen2.5:3b-instruct": 1_900_000_000,
    "qwen2.5:7b-instruct": 4_700_000_000,
    "qwen2.5:14b-instruct": 9_000_000_000,
    "llama3:8b-instruct-q4_K_M": 4_900_000_000,
    "llama3.1:8b": 4_900_000_000,
    "llama3.2:1b": 1_300_000_000,
    "llama3.2:3b": 2_000_000_000,
    "gemma2:2b": 1_600_000_000,
    "gemma3:4b": 3_300_000_000,
    "phi3:mini": 2_200_000_000,
    "mistral:7b": 4_100_000_000,
}
"""Download sizes of common tags (Ollama's library pages), for when no server answers."""
RUNTIME_FACTOR = 1.15
RUNTIME_EXTRA = 256 * 1024 * 1024
"""A model not loaded yet needs its file plus the runtime's buffers and a 4k-token
context cache: about 15 % and 256 MiB more (qwen2.5:3b: 1.9 GB file, about 2.4 GB
loaded)."""
RESERVED = 512 * 1024 * 1024
"""Left for the system, Libra itself and PostgreSQL on a machine Ollama shares."""


@dataclass(frozen=True, slots=True)
class Memory:
    """How much memory Ollama can use, and what that figure is."""

    total: int
    what: str
    reserved: int = RESERVED
    """Left for others: :data:`RESERVED` on a machine Ollama shares with Libra and
    PostgreSQL; nothing within Ollama's own limit (they have limits of their own)."""


@dataclass(frozen=True, slots=True)
class ModelNeed:
    """One model's expected footprint once loaded."""

    model: str
    size: int
    source: str


def memory_for(server: str, *, budget: int | None = None) -> Memory | None:
    """The memory Ollama at ``server`` can use, as seen from here (``None``: not known).

    ``budget`` (``llm.memory_limit``) caps it. Without it: this machine's memory for a
    loopback URL or a one-label host name (a Compose service such as ``ollama``, on
    this machine); nothing for another machine.
    """
    host = urlsplit(server).hostname or ""
    total = int(psutil.virtual_memory().total)
    local = host in ("localhost", "") or _is_loopback(host) or (
        "." not in host and ":" not in host)
    if budget is not None and (not local or budget < total):
        return Memory(budget, f"Ollama's llm.memory_limit ({_gb(budget)})", reserved=0)
    if not local:
        return None
    shared = "" if host in ("localhost", "") or _is_loopback(host) else f", shared with {host}"
    return Memory(total, f"this machine's memory ({_gb(total)}){shared}")


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _gb(size: int) -> str:
    return f"{size / GB:.1f} GB"


def _name(model: str) -> str:
    return model.removesuffix(":latest")


async def _listing(session: aiohttp.ClientSession, server: str, path: str) -> dict[str, int]:
    """Model name -> ``size`` from ``/api/tags`` or ``/api/ps`` (empty when unreachable)."""
    try:
        async with session.get(server.rstrip("/") + path) as resp:
            resp.raise_for_status()
            body: Any = await resp.json()
    except (aiohttp.ClientError, TimeoutError, ValueError):
        return {}
    sizes = {}
    for entry in body.get("models", []) if isinstance(body, dict) else []:
        name = entry.get("name") or entry.get("model")
        if isinstance(name, str) and isinstance(entry.get("size"), int):
            sizes[_name(name)] = int(entry["size"])
    return sizes


async def model_needs(server: str, models: list[str]) -> tuple[list[ModelNeed], list[str]]:
    """Each model's expected footprint; the models whose size nobody knows."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        loaded = await _listing(session, server, "/api/ps")
        pulled = await _listing(session, server, "/api/tags")
    needs, unknown = [], []
    for model in models:
        name = _name(model)
        if name in loaded:
            needs.append(ModelNeed(model, loaded[name], "loaded, from Ollama"))
        elif name in pulled:
            needs.append(ModelNeed(model, _loaded_size(pulled[name]), "download size + runtime"))
        elif name in KNOWN_SIZES:
            needs.append(ModelNeed(model, _loaded_size(KNOWN_SIZES[name]),
                                   "typical size + runtime"))
        else:
            unknown.append(model)
    return needs, unknown


def _loaded_size(file_size: int) -> int:
    return int(file_size * RUNTIME_FACTOR) + RUNTIME_EXTRA


def assess(needs: list[ModelNeed], unknown: list[str], memory: Memory) -> ComponentHealth:
    """Compare the models' footprint with ``memory`` (less :data:`RESERVED`)."""
    usable = memory.total - memory.reserved
    together = sum(n.size for n in needs)
    listing = ", ".join(f"{n.model} {_gb(n.size)}" for n in needs)
    unknown_note = f"; size unknown: {', '.join(unknown)}" if unknown else ""
    smaller = "route languages to smaller models (e.g. qwen2.5:3b-instruct, about 2.4 GB " \
        "loaded; qwen2.5:1.5b-instruct, about 1.4 GB), or run Ollama on a bigger machine " \
        "(LIBRA_LLM__SERVERS)"
    largest = max(needs, key=lambda n: n.size, default=None)
    if largest is not None and largest.size > usable:
        return ComponentHealth(
            name=NAME, status=Status.DOWN,
            detail=f"{largest.model} needs about {_gb(largest.size)} ({largest.source}), more "
            f"than the {_gb(usable)} left of {memory.what}: it cannot load{unknown_note}",
            fix=smaller)
    if together > usable:
        return ComponentHealth(
            name=NAME, status=Status.DEGRADED,
            detail=f"the routed models need about {_gb(together)} together ({listing}), more "
            f"than the {_gb(usable)} left of {memory.what}: Ollama will unload one to load "
            f"another, and replies wait for it{unknown_note}",
            fix=f"route fewer distinct models (one model can serve several languages), or "
            f"{smaller}")
    if not needs:
        return ComponentHealth(name=NAME, status=Status.OFF,
                               detail=f"model sizes unknown{unknown_note}")
    return ComponentHealth(
        name=NAME, status=Status.OK,
        detail=f"routed models about {_gb(together)} of {_gb(usable)} usable "
        f"({memory.what}): {listing}{unknown_note}")


async def check_model_fit(settings: Settings) -> list[ComponentHealth]:
    """The ``libra doctor`` row on whether the routed models fit (none for other backends)."""
    llm = settings.llm
    if llm.backend != "ollama" or not llm.servers:
        return []
    server = llm.servers[0]
    memory = memory_for(server, budget=llm.memory_limit)
    if memory is None:
        host = urlsplit(server).hostname
        return [ComponentHealth(name=NAME, status=Status.OFF,
                                detail=f"Ollama runs on another machine ({host}): its memory "
                                "is not visible from here (set llm.memory_limit to judge "
                                "the models by it)")]
    needs, unknown = await model_needs(server, routed_models(llm.default_model, llm.routes))
    return [assess(needs, unknown, memory)]
