"""Loading :class:`~libra.config.Settings` from its sources, and explaining bad values.

Sources, later wins: built-in defaults → ``config/libra.toml`` (or ``--config PATH``
or ``LIBRA_CONFIG``) → environment (``LIBRA_<SECTION>__<KEY>``, the conventional
names in :data:`ALIASES`, and ``<NAME>_FILE`` for secrets). This is the only module
that reads the environment.

A conventional name set to an empty string counts as unset (Compose writes "" for
``${DATABASE_URL}`` when nothing is set). A ``LIBRA_`` name is set on purpose: empty
clears the setting (``None`` or an empty list) where the setting allows that. Two
variables for one setting of the same kind (``DISCORD_TOKEN`` and
``DISCORD_TOKEN_FILE``) are a configuration error; a ``LIBRA_`` name beats a
conventional one.
"""

from __future__ import annotations

import json
import os
import tomllib
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from pydantic import BaseModel, ValidationError

from libra.config import DEFAULT_CONFIG_PATH, Settings
from libra.errors import ConfigError

ALIASES: dict[str, tuple[str, str]] = {
    "DATABASE_URL": ("database", "url"),
    "REDIS_URL": ("redis", "url"),
    "DISCORD_TOKEN": ("discord", "token"),
    "LIBRA_DATA_DIR": ("app", "data_dir"),
    "LANGFUSE_PUBLIC_KEY": ("langfuse", "public_key"),
    "LANGFUSE_SECRET_KEY": ("langfuse", "secret_key"),
    "LANGFUSE_HOST": ("langfuse", "host"),
}
"""Conventional environment names and the setting each one sets."""


def _field_type(section: str, key: str) -> Any:
    section_model = Settings.model_fields[section].annotation
    assert isinstance(section_model, type) and issubclass(section_model, BaseModel)
    return section_model.model_fields[key].annotation


def _is_secret(section: str, key: str) -> bool:
    return "SecretStr" in repr(_field_type(section, key))


def _container_kind(tp: Any) -> str | None:
    origins = {typing.get_origin(tp), *(typing.get_origin(a) for a in typing.get_args(tp))}
    if dict in origins:
        return "dict"
    if tuple in origins or list in origins:
        return "list"
    return None


def _parse_env_value(section: str, key: str, raw: str, source: str) -> Any:
    kind = _container_kind(_field_type(section, key))
    stripped = raw.strip()
    if kind == "dict":
        try:
            value = json.loads(stripped)
        except json.JSONDecodeError:
            raise ConfigError(
                f"invalid setting {section}.{key} from {source}: expected a JSON object "
                f'such as {{"ko": "qwen2.5:7b-instruct"}}'
            ) from None
        return value
    if kind == "list":
        if stripped.startswith("["):
            try:
                return json.loads(stripped)
            except json.JSONDecodeError:
                raise ConfigError(
                    f"invalid setting {section}.{key} from {source}: expected a JSON list "
                    "or comma-separated values"
                ) from None
        return [part.strip() for part in stripped.split(",") if part.strip()]
    if stripped == "" and type(None) in typing.get_args(_field_type(section, key)):
        return None
    return raw


def _known(section: str, key: str) -> bool:
    if section not in Settings.model_fields:
        return False
    model = Settings.model_fields[section].annotation
    return isinstance(model, type) and issubclass(model, BaseModel) and key in model.model_fields


def _env_layer(env: Mapping[str, str]) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    layer: dict[str, dict[str, Any]] = {}
    sources: dict[str, str] = {}

    def put(section: str, key: str, raw: str, source: str) -> None:
        layer.setdefault(section, {})[key] = _parse_env_value(section, key, raw, source)
        sources[f"{section}.{key}"] = source

    names: list[tuple[str, str, str]] = []
    for name in env:
        upper = name.upper()
        base = upper.removesuffix("_FILE")
        if base in ALIASES:
            if not env[name].strip():
                # Compose passes `DATABASE_URL: ${DATABASE_URL}` as "" when nothing is
                # set: a conventional name left empty is unset, not "no database URL".
                continue
            names.append((name, *ALIASES[base]))
        elif base.startswith("LIBRA_") and "__" in base:
            section, _, key = base[len("LIBRA_"):].lower().partition("__")
            if not _known(section, key):
                raise ConfigError(
                    f"unknown setting {section}.{key} from environment variable {name}",
                    hint="see config/libra.example.toml for every setting",
                )
            names.append((name, section, key))
    _refuse_rivals(names)
    # Conventional names first, so LIBRA_<SECTION>__<KEY> wins when both are set.
    names.sort(key=lambda n: _is_libra_name(n[0]))
    for name, section, key in names:
        if name.upper().endswith("_FILE") and name.upper().removesuffix("_FILE") not in (
            "LIBRA_DATA_DIR",
        ):
            if not _is_secret(section, key):
                raise ConfigError(
                    f"{name}: only secrets can be read from files; set "
                    f"{name[:-5]} directly"
                )
            path = Path(env[name])
            try:
                raw = path.read_text(encoding="utf-8").strip()
            except OSError as err:
                raise ConfigError(
                    f"cannot read secret {section}.{key} from {name}={path}: {err.strerror}"
                ) from err
            put(section, key, raw, f"file {path} (environment variable {name})")
        else:
            put(section, key, env[name], f"environment variable {name}")
    return layer, sources


def _is_libra_name(name: str) -> bool:
    return name.upper().startswith("LIBRA_") and "__" in name


def _refuse_rivals(names: list[tuple[str, str, str]]) -> None:
    """Refuse two variables of the same kind for one setting (``X`` and ``X_FILE``).

    Which one would win depended on the order of the environment. A ``LIBRA_`` name
    and a conventional one may both be set: the ``LIBRA_`` name wins, as documented.

    Raises:
        ConfigError: naming both variables.
    """
    seen: dict[tuple[bool, str, str], str] = {}
    for name, section, key in names:
        rival = seen.setdefault((_is_libra_name(name), section, key), name)
        if rival != name:
            first, second = sorted((rival, name))
            raise ConfigError(
                f"both {first} and {second} set {section}.{key}",
                hint="set only one of them")


def _file_layer(path: Path) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ConfigError(f"cannot read config file {path}: {err.strerror}") from err
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"config file {path} is not valid TOML: {err}") from err
    sources: dict[str, str] = {}
    for section, values in data.items():
        if not isinstance(values, dict):
            raise ConfigError(f"config file {path}: [{section}] must be a table")
        sources[section] = f"config file {path}"  # blamed for an unknown section
        for key, value in values.items():
            sources[f"{section}.{key}"] = f"config file {path}"
            if _known(section, key) and _is_secret(section, key) and _carries_secret(value):
                raise ConfigError(
                    f"config file {path} sets the secret {section}.{key}: secrets come only "
                    "from the environment or a file named by *_FILE (Docker secrets)",
                    hint=f"remove it and set {_env_name(section, key)} or "
                    f"{_env_name(section, key)}_FILE",
                )
    return data, sources


def _env_name(section: str, key: str) -> str:
    for name, target in ALIASES.items():
        if target == (section, key):
            return name
    return f"LIBRA_{section.upper()}__{key.upper()}"


def _carries_secret(value: object) -> bool:
    """URLs without a password (``postgresql://libra@db/libra``) are not secrets."""
    if not isinstance(value, str) or not value:
        return bool(value)
    if "://" in value:
        try:
            parts = urlsplit(value)
        except ValueError:
            return True
        # libpq also takes the password as ``?password=``.
        return parts.password is not None or any(
            key == "password" for key, _ in parse_qsl(parts.query))
    return True


def load_settings(
    config_path: Path | None = None, env: Mapping[str, str] | None = None
) -> Settings:
    """Build settings from defaults, the config file and the environment.

    Raises:
        ConfigError: naming the key, where its value came from and what is allowed.
    """
    environ = dict(os.environ if env is None else env)
    if config_path is None and environ.get("LIBRA_CONFIG"):
        config_path = Path(environ.pop("LIBRA_CONFIG"))
    elif config_path is None and DEFAULT_CONFIG_PATH.is_file():
        config_path = DEFAULT_CONFIG_PATH
    else:
        environ.pop("LIBRA_CONFIG", None)
    merged: dict[str, dict[str, Any]] = {}
    sources: dict[str, str] = {}
    if config_path is not None:
        file_data, file_sources = _file_layer(config_path)
        for section, values in file_data.items():
            merged.setdefault(section, {}).update(values)
        sources.update(file_sources)
    env_data, env_sources = _env_layer(environ)
    for section, values in env_data.items():
        merged.setdefault(section, {}).update(values)
    sources.update(env_sources)
    try:
        return Settings.model_validate(merged)
    except ValidationError as err:
        raise ConfigError(_explain(err, sources)) from None


def _explain(err: ValidationError, sources: Mapping[str, str]) -> str:
    lines = []
    for issue in err.errors():
        loc = [str(p) for p in issue["loc"]]
        key = ".".join(loc[:2])
        source = sources.get(key, "built-in defaults")
        if issue["type"] == "extra_forbidden":
            lines.append(f"unknown setting {'.'.join(loc)} in {source}")
            continue
        shown = issue.get("input")
        if len(loc) >= 2 and _known(loc[0], loc[1]) and _is_secret(loc[0], loc[1]):
            shown = "<secret>"
        lines.append(
            f"invalid setting {'.'.join(loc)} = {shown!r} from {source}: {issue['msg']}"
        )
    return "; ".join(lines)


