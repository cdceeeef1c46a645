"""The Dockerfile, checked where no Docker engine is needed.

Non-root user, a healthcheck that needs no admin port, no secrets, dependencies from
the hashed locks (whose versions are constraints.txt's), the extras the docs promise,
and a build context that only holds what the image needs.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from libra.config_sources import ALIASES, load_settings
from tests.unit.core.test_compose import env_example, interpolated

REPO = Path(__file__).resolve().parents[3]
SECRET_WORDS = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|API_KEY|PRIVATE", re.IGNORECASE)
LOCKS = {"image.txt": ("voice",), "image-whisper.txt": ("voice", "whisper")}


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    result: list[tuple[str, str]] = []
    pending = ""
    for raw in (REPO / "Dockerfile").read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        pending += line.removesuffix("\\").rstrip() + " "
        if not line.endswith("\\"):
            keyword, _, args = pending.strip().partition(" ")
            result.append((keyword.upper(), args.strip()))
            pending = ""
    return result


def final_stage() -> list[tuple[str, str]]:
    steps = instructions()
    last_from = max(i for i, (keyword, _) in enumerate(steps) if keyword == "FROM")
    return steps[last_from:]


def env_of(stage: list[tuple[str, str]]) -> dict[str, str]:
    env = {}
    for keyword, args in stage:
        if keyword == "ENV":
            for item in shlex.split(args):
                name, _, value = item.partition("=")
                env[name] = value
    return env


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(text: str) -> dict[str, str]:
    found = {}
    for line in text.splitlines():
        if match := re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", line):
            found[normalise(match.group(1))] = match.group(2)
    return found


def test_the_image_runs_as_uid_10001_after_every_root_step() -> None:
    stage = final_stage()
    users = [i for i, (keyword, _) in enumerate(stage) if keyword == "USER"]
    assert users, "the final stage never leaves root"
    assert stage[users[-1]][1] == "10001:10001"
    assert not [args for keyword, args in stage[users[-1]:] if keyword == "RUN"]
    setup = " ".join(args for keyword, args in stage if keyword == "RUN")
    assert "--uid 10001" in setup and "--gid 10001" in setup


def test_the_healthcheck_needs_no_admin_port() -> None:
    checks = [args for keyword, args in final_stage() if keyword == "HEALTHCHECK"]
    assert len(checks) == 1
    assert checks[0].endswith('CMD ["libra", "health"]')
    assert "8080" not in checks[0] and "http" not in checks[0]


def test_no_secret_is_set_or_copied_into_the_image() -> None:
    for keyword, args in instructions():
        if keyword in ("ENV", "ARG", "LABEL"):
            names = [item.partition("=")[0] for item in shlex.split(args)]
            assert not [n for n in names if SECRET_WORDS.search(n)], (keyword, args)
        if keyword == "COPY":
            assert not re.search(r"secrets|\.env\b", args), args


def test_dependencies_are_installed_from_the_hashed_locks_only() -> None:
    runs = " ".join(args for keyword, args in instructions() if keyword == "RUN")
    installs = re.findall(r"pip (?:wheel|install)[^&]*?-r \S+", runs)
    assert installs, "no pip install from a lock file"
    for command in installs:
        assert "--require-hashes" in command, command
    assert "requirements/image.txt" in runs and "requirements/image-whisper.txt" in runs
    # The runtime venv only ever gets the wheels built from those locks (and Libra's).
    assert "--no-index --no-deps" in runs


@pytest.mark.parametrize("lock", [*LOCKS, "build.txt"])
def test_every_locked_package_has_hashes(lock: str) -> None:
    text = (REPO / "requirements" / lock).read_text(encoding="utf-8")
    blocks = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 6)[-1])
    entries = [b for b in blocks if re.match(r"^[A-Za-z0-9].*==", b)]
    assert entries
    for entry in entries:
        assert "--hash=sha256:" in entry, entry.splitlines()[0]


@pytest.mark.parametrize("lock", LOCKS)
def test_the_locks_hold_the_versions_of_constraints(lock: str) -> None:
    constraints = pins((REPO / "constraints.txt").read_text(encoding="utf-8"))
    locked = pins((REPO / "requirements" / lock).read_text(encoding="utf-8"))
    differ = {n: (v, constraints.get(n)) for n, v in locked.items() if constraints.get(n) != v}
    assert differ == {}, "regenerate with scripts/lock-image (locked, constraints)"


@pytest.mark.parametrize(("lock", "extras"), LOCKS.items())
def test_the_locks_install_the_extras_the_docs_promise(lock: str,
                                                      extras: tuple[str, ...]) -> None:
    project: dict[str, Any] = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))
    optional = project["project"]["optional-dependencies"]
    locked = pins((REPO / "requirements" / lock).read_text(encoding="utf-8"))

    def names(requirements: list[str]) -> set[str]:
        return {normalise(re.split(r"[\s\[<>=~!;]", r, maxsplit=1)[0]) for r in requirements}

    core = names(project["project"]["dependencies"])
    promised = core.union(*(names(optional[extra]) for extra in extras))
    assert promised <= set(locked), promised - set(locked)
    for extra in set(optional) - set(extras):
        assert not (names(optional[extra]) - promised) & set(locked), extra
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    docker = readme[readme.index("### Docker"):]
    assert "`voice` extra" in docker and "WITH_WHISPER=1" in docker


def test_espeak_ng_and_the_baked_models_folder() -> None:
    stage = final_stage()
    runs = " ".join(args for keyword, args in stage if keyword == "RUN")
    assert "espeak-ng" in runs
    env = env_of(stage)
    assert env["LIBRA_VOICE__MODELS_DIR"] == "${LIBRA_MODELS:+/opt/libra-models}"
    build = " ".join(args for keyword, args in instructions() if keyword == "RUN")
    assert "libra models pull" in build and "LIBRA_VOICE__MODELS_DIR=/opt/libra-models" in build


@pytest.mark.parametrize("baked", ["", "vosk-model-small-en-us-0.15 en_US-lessac-medium"])
def test_the_image_environment_is_valid_libra_settings(baked: str) -> None:
    env = env_of(final_stage())
    libra_env = {k: v.replace("${LIBRA_MODELS:+/opt/libra-models}",
                              "/opt/libra-models" if baked else "")
                 for k, v in env.items() if k in ALIASES or k.startswith("LIBRA_")}
    settings = load_settings(env=libra_env)
    assert settings.app.data_dir == Path("/data")
    assert settings.voice.models_dir == (Path("/opt/libra-models") if baked else None)
    # Every cache a library keeps goes to the tmpfs, HOME stays read-only.
    assert env["XDG_CACHE_HOME"].startswith("/tmp/")
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"


def test_only_the_needed_paths_are_copied() -> None:
    sources = []
    for keyword, args in instructions():
        if keyword == "COPY" and "--from=" not in args:
            sources += shlex.split(args)[:-1]
    assert set(sources) == {"requirements/", "pyproject.toml", "README.md", "LICENSE",
                            "libra/", "config/", "migrations/"}


def test_copied_config_and_migrations_are_readable_by_the_runtime_user() -> None:
    # COPY keeps the checkout's modes, and a clone made under umask 077 has 0600 files
    # in 0700 folders: uid 10001 could then read no migration and no prompt.
    stage = final_stage()
    user = max(i for i, (keyword, _) in enumerate(stage) if keyword == "USER")
    for folder in ("config", "migrations"):
        copied = [i for i, (keyword, args) in enumerate(stage)
                  if keyword == "COPY" and shlex.split(args)[-2:-1] == [f"{folder}/"]]
        assert copied, f"{folder}/ is not copied into the final stage"
        opened = [args for keyword, args in stage[copied[0] + 1:user] if keyword == "RUN"
                  and re.search(rf"chmod -R a\+rX\S*( \S+)* /app/{folder}\b", args)]
        assert opened, f"nothing makes /app/{folder} readable by all after copying it"


def glob_regex(glob: str) -> re.Pattern[str]:
    """Docker's .dockerignore glob: ``**`` any folders, ``*`` and ``?`` within one name."""
    parts = re.split(r"(\*\*/?|\*|\?)", glob.strip("/"))
    table = {"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}
    return re.compile("".join(table.get(part, re.escape(part)) for part in parts))


def dockerignored(path: str, patterns: list[str]) -> bool:
    """The last pattern matching the path or one of its folders decides, as in Docker."""
    parts = path.split("/")
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    excluded = False
    for pattern in patterns:
        regex = glob_regex(pattern.removeprefix("!"))
        if any(regex.fullmatch(prefix) for prefix in prefixes):
            excluded = not pattern.startswith("!")
    return excluded


def test_the_build_context_leaves_state_and_secrets_out() -> None:
    patterns = [line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    for path in (".venv/bin/python", "data/postgres/PG_VERSION", "data/models/x.onnx",
                 "secrets/db_password", ".git/HEAD", ".env", "config/libra.toml",
                 "tests/unit/core/test_dockerfile.py", "libra/__pycache__/cli.cpython-311.pyc"):
        assert dockerignored(path, patterns), path
    for path in ("libra/cli.py", "config/prompts/en.md", "migrations/0001_schema.sql",
                 "requirements/image.txt", "pyproject.toml", "LICENSE"):
        assert not dockerignored(path, patterns), path


def test_compose_runs_the_image_as_it_was_built() -> None:
    data = yaml.safe_load((REPO / "compose.yaml").read_text(encoding="utf-8"))
    libra = interpolated(data, env_example())["services"]["libra"]
    check = next(args for keyword, args in final_stage() if keyword == "HEALTHCHECK")
    assert libra["healthcheck"]["test"] == ["CMD", *json.loads(check.split("CMD", 1)[1])]
    assert libra["user"] == "10001:10001"
    assert libra["read_only"] is True
    assert any(t.startswith("/tmp:") for t in libra["tmpfs"])
    assert any(v.endswith(":/data") for v in libra["volumes"])
    # HOME and the caches come from the image; compose must not point them elsewhere.
    assert not {"HOME", "XDG_CACHE_HOME", "LIBRA_DATA_DIR"} & set(libra["environment"])


@pytest.mark.parametrize(("tool", "target"), [("hadolint", "Dockerfile"),
                                              ("dclint", "compose.yaml")])
def test_linters_are_clean(tool: str, target: str) -> None:
    binary = REPO / ".venv" / "bin" / tool
    found = str(binary) if binary.exists() else shutil.which(tool)
    if found is None:
        pytest.skip(f"{tool} is not installed (the dev extra installs hadolint; dclint is npm's)")
    result = subprocess.run([found, target], cwd=REPO, capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
