"""``compose.yaml``: what it sets is what Libra reads, and the hardening is all there.

The file is read as Compose reads it (``${VAR:-default}``/``${VAR:?}`` filled from
``.env.example`` in each parsed value, ``$$`` unescaped); Libra's own loader then has to accept the
``libra`` service's environment, secret files included.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from libra.config import Settings
from libra.config_sources import ALIASES, load_settings
from libra.llm.readiness import routed_models

REPO = Path(__file__).resolve().parents[3]
_VARIABLE = re.compile(r"\$\{(\w+)(?:(:?[-?])([^}]*))?\}")


def env_example() -> dict[str, str]:
    values = {}
    for line in (REPO / ".env.example").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def interpolate(text: str, env: dict[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        name, kind, rest = match.group(1), match.group(2), match.group(3)
        is_set = name in env and (env[name] != "" or not (kind or "").startswith(":"))
        if is_set or kind is None:
            return env.get(name, "")
        if kind.endswith("?"):
            raise AssertionError(f"{name} is required by compose.yaml ({rest}) but "
                                 ".env.example does not set it")
        return rest

    return _VARIABLE.sub(one, text.replace("$$", "\0")).replace("\0", "$")


def interpolated(value: Any, env: dict[str, str]) -> Any:
    """Compose fills in variables after parsing, value by value (so "" stays a string)."""
    if isinstance(value, dict):
        return {k: interpolated(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolated(v, env) for v in value]
    return interpolate(value, env) if isinstance(value, str) else value


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load((REPO / "compose.yaml").read_text(encoding="utf-8"))
    result: dict[str, Any] = interpolated(data, env_example())
    return result


def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose["services"]
    return found


def is_libra_name(name: str) -> bool:
    base = name.removesuffix("_FILE")
    # LIBRA_CONFIG names the settings file itself (config_sources reads it).
    return base in ALIASES or (base.startswith("LIBRA_") and "__" in base) or (
        name == "LIBRA_CONFIG")


def secret_stand_ins(tmp_path: Path, compose: dict[str, Any]) -> dict[str, str]:
    """``/run/secrets/<name>`` -> a file holding a plausible value for it."""
    plausible = {"discord_token": "MTIzNDU2Nzg5MDEyMzQ1Njc4.GaBcDe.abcdefghijklmnopqrstuvwxyz0123",
                 "admin_secret": "s" * 48, "db_password": "p@ss:w/rd", "metrics_token": "m" * 32}
    paths = {}
    for name in compose["secrets"]:
        path = tmp_path / name
        path.write_text(plausible.get(name, "x") + "\n")
        paths[f"/run/secrets/{name}"] = str(path)
    return paths


def libra_environment(compose: dict[str, Any], tmp_path: Path) -> dict[str, str]:
    stand_ins = secret_stand_ins(tmp_path, compose)
    env = {k: str(v) for k, v in services(compose)["libra"]["environment"].items()}
    return {k: stand_ins.get(v, v) for k, v in env.items()}


def test_every_variable_the_libra_service_sets_is_a_libra_setting(
    compose: dict[str, Any], tmp_path: Path
) -> None:
    env = libra_environment(compose, tmp_path)
    assert [name for name in env if not is_libra_name(name)] == []
    # Libra's own loader: unknown LIBRA_ names, bad values and unreadable files fail.
    settings = load_settings(env=env)
    assert isinstance(settings, Settings)


def test_every_setting_libra_needs_in_the_container_is_provided(
    compose: dict[str, Any], tmp_path: Path
) -> None:
    settings = load_settings(env=libra_environment(compose, tmp_path))
    assert settings.discord.token is not None  # `libra run` exits without it
    assert settings.database.url is not None   # the postgres service, not the embedded one
    url = settings.database.url.get_secret_value()
    assert "@postgres:5432/" in url and "p%40ss%3Aw%2Frd" in url  # the shared password file
    # The admin port is on: it refuses to start without a strong secret.
    assert settings.admin.port is not None and settings.admin.secret is not None
    assert settings.admin.metrics_token is not None  # Prometheus scrapes with it
    assert settings.app.log_format == "json"         # Promtail parses JSON lines


def test_the_secret_files_each_service_reads_are_mounted_into_it(
    compose: dict[str, Any]
) -> None:
    for name, service in services(compose).items():
        mounted = set(service.get("secrets", []))
        for value in (service.get("environment") or {}).values():
            if str(value).startswith("/run/secrets/"):
                assert str(value).removeprefix("/run/secrets/") in mounted, (name, value)
    readme = (REPO / "secrets" / "README.md").read_text(encoding="utf-8")
    for secret in compose["secrets"]:
        assert f"`{secret}`" in readme, f"secrets/README.md does not describe {secret}"
    # PostgreSQL and Libra read the same password file.
    postgres_env = services(compose)["postgres"]["environment"]
    assert postgres_env["POSTGRES_PASSWORD_FILE"] == "/run/secrets/db_password"
    assert postgres_env["POSTGRES_USER"] in services(compose)["libra"]["environment"][
        "DATABASE_URL"]


def test_nothing_is_published_but_loopback_ports_and_never_postgres(
    compose: dict[str, Any]
) -> None:
    for name, service in services(compose).items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), (name, port)
            assert not str(port).endswith(":5432"), name
    assert "ports" not in services(compose)["postgres"]
    assert "backend" in services(compose)["postgres"]["networks"]
    assert compose["networks"]["backend"]["internal"] is True
    assert services(compose)["postgres"]["networks"] == ["backend"]


def test_every_service_is_hardened_limited_and_restarted(compose: dict[str, Any]) -> None:
    for name, service in services(compose).items():
        assert service.get("cap_drop") == ["ALL"], name
        assert "no-new-privileges:true" in service.get("security_opt", []), name
        assert service.get("read_only") is True, name
        assert service.get("restart") in ("unless-stopped", "no"), name
        assert service["deploy"]["resources"]["limits"]["memory"], name
        for needed, how in (service.get("depends_on") or {}).items():
            if how["condition"] == "service_healthy":
                assert "healthcheck" in services(compose)[needed], (name, needed)
    assert services(compose)["postgres"]["image"].startswith("postgres:18.")
    assert {"redis"} == set(services(compose)["redis"]["profiles"])
    assert all(services(compose)[s]["profiles"] == ["logs"]
               for s in ("loki", "promtail", "prometheus", "grafana"))


def test_postgres_is_healthy_only_once_it_listens_on_tcp(compose: dict[str, Any]) -> None:
    # The image's entrypoint first runs a socket-only server to initialise the data; a
    # pg_isready over the socket passes against it, and libra would start just before
    # that server stops (docker-library/postgres#880). Libra connects over TCP.
    postgres = services(compose)["postgres"]
    test = postgres["healthcheck"]["test"]
    assert test[:2] == ["CMD", "pg_isready"], test
    env = postgres["environment"]
    assert "--host=127.0.0.1" in test
    assert f"--username={env['POSTGRES_USER']}" in test
    assert f"--dbname={env['POSTGRES_DB']}" in test


def test_the_pull_service_pulls_exactly_the_routed_models(
    compose: dict[str, Any], tmp_path: Path
) -> None:
    pull = services(compose)["ollama-pull"]
    script = pull["command"][0]
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "pulled"
    fake = bin_dir / "ollama"
    fake.write_text(f'#!/bin/sh\necho "$2" >> {log}\n')
    fake.chmod(0o755)
    routes = '{"ko": "qwen2.5:7b-instruct", "ja": "qwen2.5:7b-instruct", "zh-cn": "glm4:9b"}'
    for default, route_json in (("qwen2.5:3b-instruct", "{}"),
                                ("llama3:8b-instruct-q4_K_M", routes)):
        log.unlink(missing_ok=True)
        env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "LIBRA_LLM__DEFAULT_MODEL": default,
               "LIBRA_LLM__ROUTES": route_json}
        subprocess.run(["/bin/sh", "-c", script], env=env, check=True, capture_output=True,
                       timeout=30)
        settings = load_settings(env=env | {"LIBRA_LLM__ROUTES": route_json})
        expected = routed_models(settings.llm.default_model, settings.llm.routes)
        assert sorted(log.read_text().split()) == sorted(expected)
    # It reads the same variables the libra service is configured with.
    libra_env = services(compose)["libra"]["environment"]
    for name in ("LIBRA_LLM__DEFAULT_MODEL", "LIBRA_LLM__ROUTES"):
        assert pull["environment"][name] == libra_env[name]


def test_the_dashboard_queries_only_metrics_libra_exports() -> None:
    exported = set(re.findall(r'"(libra_[a-z_]+)"',
                              (REPO / "libra" / "admin" / "collector.py").read_text()))
    dashboard = (REPO / "deploy" / "grafana" / "dashboards" / "libra.json").read_text()
    queried = {re.sub(r"_(bucket|sum|count)$", "", name)
               for name in re.findall(r"\b(libra_[a-z_]+)", dashboard)}
    assert queried and queried <= exported, queried - exported
