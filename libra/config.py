"""Frozen, validated settings.

Sources, later wins: built-in defaults → ``config/libra.toml`` (or ``--config PATH``
or ``LIBRA_CONFIG``) → environment. Environment names are
``LIBRA_<SECTION>__<KEY>`` (``LIBRA_LLM__SERVERS``) plus the conventional
``DATABASE_URL``, ``REDIS_URL``, ``DISCORD_TOKEN``, ``LIBRA_DATA_DIR`` and
``LANGFUSE_*``. Any secret may instead be read from a file named by
``<NAME>_FILE`` (Docker secrets). Loading lives in :mod:`libra.config_sources`,
the only module that reads the environment.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
)

from libra.config_urls import database_url, redact_url, redis_url, url_passwords

_MODEL_CONFIG = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)
DEFAULT_CONFIG_PATH = Path("config/libra.toml")


class _Section(BaseModel):
    model_config = _MODEL_CONFIG


class AppSettings(_Section):
    """Process-wide settings."""

    data_dir: Path = Path("data")
    """Where Libra keeps its state (the embedded database, downloaded models)."""
    config_dir: Path = Path("config")
    """Folder of editable files such as the per-language system prompts."""
    log_level: Literal["TRACE", "DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    """Lowest level written to the log."""
    log_format: Literal["auto", "human", "json"] = "auto"
    """``auto`` = human on a terminal, JSON lines otherwise."""
    shutdown_timeout: float = Field(10.0, gt=0)
    """Seconds a plugin's tasks get to finish when it stops; its ``stop()`` may take
    twice this (draining, then releasing) before it is abandoned and reported."""
    heartbeat_seconds: float = Field(15.0, ge=1, le=3600)
    """Seconds between rewrites of ``<data_dir>/heartbeat.json`` by a running Libra, which
    ``libra health`` (the container healthcheck) reads; stale after three intervals."""
    instances: int = Field(1, ge=1, le=1024)
    """Libra processes sharing this bot (docs/scale-out.md). More than one needs
    ``redis.url`` and an external ``database.url``; ``discord.shard_ids`` naming only
    some shards means more than one as well."""
    instance_name: str | None = Field(None, min_length=1, max_length=64)
    """How this process is named on the operator page and in ``/stats``; unset =
    ``host:pid``."""


class DatabaseSettings(_Section):
    """PostgreSQL. Unset ``url`` starts the embedded server in ``app.data_dir``."""

    password: SecretStr | None = None
    """Password for a ``url`` that carries none, as written (no encoding needed); meant
    for Docker secrets: ``LIBRA_DATABASE__PASSWORD_FILE`` can name the same file the
    postgres image reads through ``POSTGRES_PASSWORD_FILE``."""
    # Validated when unset too: a password without a URL is a mistake to report.
    url: SecretStr | None = Field(None, validate_default=True)
    """``postgresql://user:pass@host:port/db``; env ``DATABASE_URL``. Unset = embedded.
    Percent-encode ``/ ? # @`` in the password (``/`` as ``%2F``)."""
    sslmode: Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] | None = (
        None
    )
    """TLS mode; overrides ``sslmode`` in the URL. Unset = the URL's, else ``prefer``."""
    pool_min: int = Field(1, ge=0)
    """Connections kept open."""
    pool_max: int = Field(10, ge=1)
    """Most connections at once."""
    connect_timeout: float = Field(10.0, gt=0)
    """Seconds to wait for the server before reporting it unreachable."""
    query_timeout: float = Field(5.0, gt=0)
    """Seconds one storage operation may take; then the feature carries on without it."""
    probe_interval: float = Field(2.0, gt=0)
    """Seconds between checks of a database that stopped answering; meanwhile turns do
    not wait for it and their writes are queued."""
    retry_max_delay: float = Field(30.0, ge=1)
    """Longest wait between attempts to reach a database that was down at start (the
    wait starts at 1 s and doubles)."""
    write_queue_max: int = Field(10_000, ge=1)
    """Writes (messages, LLM call rows) kept while the database is unavailable, in
    memory and in ``<data_dir>/pending-writes.jsonl``; when full, newer ones are refused
    (LLM call rows first, at 90 %) and counted in health."""
    migrate_on_start: bool = True
    """Apply pending migrations when Libra starts."""
    migrations_dir: Path | None = None
    """Folder of yoyo migration files; unset = ``migrations/`` next to the package."""
    synchronous_commit: Literal["on", "off", "local"] | None = "off"
    """``off``: no flush wait per commit (3x faster; an OS crash may lose the last 0.6 s)."""

    @field_validator("url")
    @classmethod
    def _one_url_for_both_drivers(
        cls, url: SecretStr | None, info: ValidationInfo
    ) -> SecretStr | None:
        # Once here, so asyncpg and psycopg (yoyo) read the same, encoded password.
        password = info.data.get("password")
        if password is not None and password.get_secret_value():
            # Errors here are reported against `url`, a secret: never shown.
            if url is None or not url.get_secret_value():
                raise ValueError("database.password is set but database.url is not: the "
                                 "embedded server needs no password; set DATABASE_URL to "
                                 "postgresql://USER@HOST:5432/DB")
            url = SecretStr(_with_password(url.get_secret_value(),
                                           password.get_secret_value()))
        if url is None or not url.get_secret_value():
            return url
        return SecretStr(database_url(url.get_secret_value()))


def _with_password(url: str, password: str) -> str:
    """``url`` with ``password`` (percent-encoded) after its user name.

    Raises:
        ValueError: the URL already has a password, or names no user.
    """
    parts = urlsplit(url.strip())
    userinfo, at, host = parts.netloc.rpartition("@")
    if ":" in userinfo or any(key == "password" for key, _ in parse_qsl(parts.query)):
        raise ValueError("both database.url and database.password hold a password: keep "
                         "it in one place (remove it from the URL)")
    if not at or not userinfo:
        raise ValueError("database.password needs a user name in database.url "
                         "(postgresql://USER@HOST:5432/DB)")
    netloc = f"{userinfo}:{quote(password, safe='')}@{host}"
    return urlunsplit(parts._replace(netloc=netloc))


class RedisSettings(_Section):
    """Optional Redis: the response cache, and what several instances share."""

    url: SecretStr | None = None
    """``redis://host:6379/0``; env ``REDIS_URL``. Unset = in-memory cache.
    Percent-encode ``/ ? # @`` in the password (``/`` as ``%2F``)."""

    @field_validator("url")
    @classmethod
    def _parses_as_written(cls, url: SecretStr | None) -> SecretStr | None:
        if url is not None and url.get_secret_value():
            redis_url(url.get_secret_value())
        return url

    heartbeat_seconds: float = Field(5.0, gt=0, le=300)
    """Seconds between the records each instance writes about itself (the operator page
    and ``/stats`` list instances whose record is younger than three of these)."""
    lease_seconds: float = Field(30.0, ge=2, le=3600)
    """An LLM slot taken by an instance that died is free again after this long (the
    living renew theirs every third of it)."""


class DiscordSettings(_Section):
    """The Discord bot."""

    token: SecretStr | None = None
    """Bot token; env ``DISCORD_TOKEN`` or ``DISCORD_TOKEN_FILE``."""
    shard_count: int | None = Field(None, ge=1, le=65_536)
    """Shards the whole bot runs, all instances together; unset = what Discord
    recommends. Guild ``g`` is on shard ``(g >> 22) % shard_count``."""
    shard_ids: tuple[int, ...] = ()
    """Shards this instance runs (empty = every shard); with several instances each
    names its own, e.g. ``[0]`` and ``[1]`` with ``shard_count = 2``."""

    @field_validator("shard_ids")
    @classmethod
    def _shards_within_count(cls, ids: tuple[int, ...], info: ValidationInfo) -> tuple[int, ...]:
        if not ids:
            return ids
        count = info.data.get("shard_count")
        if count is None:
            raise ValueError("set discord.shard_count too: shard ids mean nothing without "
                             "the total")
        if len(set(ids)) != len(ids):
            raise ValueError("a shard is listed twice")
        if outside := [i for i in ids if not 0 <= i < count]:
            raise ValueError(f"shard ids run from 0 to {count - 1} (shard_count = {count}), "
                             f"not {outside}")
        return tuple(sorted(ids))

    rest_global_limit: int = Field(45, ge=1, le=100_000)
    """REST requests per second this bot sends, all instances together (Discord allows
    50 per bot unless it granted more; the margin absorbs timing jitter). Shared
    through Redis when set."""
    rest_url: str = "https://discord.com/api/v10"
    """REST base URL (for proxies and tests); the gateway URL is asked from it."""
    guild_ids: tuple[int, ...] = ()
    """Guilds to sync slash commands to (instant, for development); empty = global."""
    message_content: bool = True
    """Request the privileged message-content intent (needed for mentions in text)."""
    chat_channel_ids: tuple[int, ...] = ()
    """Channels where every message is answered without a mention."""
    allowed_guild_ids: tuple[int, ...] = ()
    """Only these guilds may use Libra (empty = all)."""
    blocked_guild_ids: tuple[int, ...] = ()
    """Guilds Libra ignores."""
    allowed_channel_ids: tuple[int, ...] = ()
    """Only these channels (empty = all)."""
    blocked_channel_ids: tuple[int, ...] = ()
    """Channels Libra ignores."""
    allowed_role_ids: tuple[int, ...] = ()
    """Only members with one of these roles (empty = everyone)."""
    blocked_user_ids: tuple[int, ...] = ()
    """Users Libra ignores."""
    direct_messages: bool = True
    """Answer direct messages; turn off to keep Libra to servers (allow-lists only
    filter servers, channels and roles, so anyone could otherwise DM the bot)."""
    admin_role_ids: tuple[int, ...] = ()
    """Roles allowed to run admin commands (guild administrators always may)."""
    user_rate_per_minute: float = Field(6.0, gt=0)
    """Messages one user may send Libra per minute (token bucket)."""
    user_burst: int = Field(3, ge=1)
    """Messages one user may send at once before the rate applies."""
    guild_concurrency: int = Field(4, ge=1)
    """Replies generated at once per guild."""
    thread_after_turns: int = Field(0, ge=0)
    """Move a conversation into a thread after this many turns (0 = never)."""
    edit_limit: int = Field(5, ge=1)
    """Message edits Libra allows itself per channel per ``edit_window`` (Discord's budget)."""
    edit_window: float = Field(5.0, gt=0)
    """Seconds of the per-channel edit budget window."""


class LanguageSettings(_Section):
    """Language detection and reply-language hysteresis."""

    languages: tuple[str, ...] = ("en", "ko", "ja", "zh-cn", "zh-tw", "es", "fr", "de",
                                  "ru", "pt", "it", "vi")
    """Languages detection may answer (restricting candidates makes it reliable)."""
    default: str = "en"
    """Reply language before anything is detected."""
    switch_after: int = Field(2, ge=1)
    """Consecutive confident messages in a new language before the reply switches."""
    min_confidence: float = Field(0.75, ge=0, le=1)
    """Detections below this confidence never move the reply language."""
    zh_default: Literal["zh-cn", "zh-tw"] = "zh-cn"
    """Chinese variant for bare ``zh`` and for Chinese text that fits both standards."""
    user_cache_seconds: float = Field(300.0, ge=0)
    """How long a user's pinned language is cached before it is read again."""


_DOCKER_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?", re.IGNORECASE)


def docker_size(text: str) -> int:
    """Bytes in a size as Docker and Compose read ``memory`` limits: ``3g`` = 3 GiB.

    Raises:
        ValueError: not a positive size.
    """
    match = _DOCKER_SIZE.fullmatch(text.strip())
    size = 0
    if match:
        power = " kmgt".index(match.group(2).lower() or " ")
        size = int(float(match.group(1)) * 1024 ** power)
    if size <= 0:
        raise ValueError(f"{text!r} is not a size: write a size such as 3g or 1400m "
                         "(k, m, g, t: binary units, as Docker reads them)")
    return size


class LLMSettings(_Section):
    """The language model backends, routing, options and cache."""

    backend: Literal["ollama", "openai", "embedded"] = "ollama"
    """Which API the servers speak; ``embedded`` runs a local GGUF in-process."""
    servers: tuple[str, ...] = ("http://127.0.0.1:11434",)
    """Base URLs of the servers; requests go to the least busy healthy one."""

    @field_validator("servers")
    @classmethod
    def _servers_for_http_backends(
        cls, servers: tuple[str, ...], info: ValidationInfo
    ) -> tuple[str, ...]:
        # An empty list (e.g. LIBRA_LLM__SERVERS="") would only fail later, at start.
        if not servers and info.data.get("backend", "ollama") != "embedded":
            raise ValueError("list at least one server URL (or use backend = embedded)")
        return servers

    api_key: SecretStr | None = None
    """Bearer key for OpenAI-compatible servers."""
    default_model: str = "llama3:8b-instruct-q4_K_M"
    """Model for languages without a route."""
    routes: dict[str, str] = Field(
        default_factory=lambda: {"ko": "qwen2.5:7b-instruct", "ja": "qwen2.5:7b-instruct",
                                 "zh-cn": "qwen2.5:7b-instruct", "zh-tw": "qwen2.5:7b-instruct"}
    )
    """Language code -> model."""
    embedded_model_path: Path | None = None
    """GGUF file for the embedded backend; unset = the packaged SmolLM2 if installed."""
    num_ctx: int = Field(4096, ge=256)
    """Context window in tokens."""
    num_predict: int = Field(512, ge=1)
    """Most tokens per answer."""
    temperature: float = Field(0.7, ge=0, le=2)
    """Sampling temperature."""
    num_thread: int | None = Field(None, ge=1)
    """CPU threads the server uses (unset = its default)."""
    num_batch: int | None = Field(None, ge=1)
    """Prompt batch size (unset = the server's default)."""
    stop: tuple[str, ...] = ()
    """Stop sequences."""
    keep_alive: str = "30m"
    """How long the server keeps a model loaded after use."""
    warmup: bool = True
    """Load every routed model at start so the first user never waits."""
    connect_timeout: float = Field(5.0, gt=0)
    """Seconds to reach a server."""
    first_token_timeout: float = Field(120.0, gt=0)
    """Seconds to wait for the first token (covers a cold model load)."""
    idle_timeout: float = Field(30.0, gt=0)
    """Seconds between tokens before the stream counts as cut."""
    max_concurrency: int = Field(2, ge=1)
    """Requests running at once per server; the rest wait in a queue."""
    max_queue: int = Field(32, ge=0)
    """Requests waiting before new ones are refused as overloaded."""
    coalesce_chars: int = Field(24, ge=1)
    """Emit streamed text once this many characters are buffered ..."""
    coalesce_ms: float = Field(50.0, ge=0)
    """... or this many milliseconds passed since the last emit."""
    cache_ttl: float = Field(300.0, ge=0)
    """Seconds a response stays cached (0 disables the cache)."""
    failover_backoff: float = Field(15.0, ge=0)
    """Seconds a server that failed is skipped before it is tried again."""
    memory_limit: int | None = Field(None, gt=0)
    """Memory Ollama may use, as Docker writes it (``3g``, ``1400m``: binary units);
    ``libra doctor`` judges the routed models by the smaller of this and the machine's
    memory. compose.yaml sets it from ``OLLAMA_MEMORY``, the ollama container's limit.
    Unset: the machine's memory when Ollama is on it, nothing for another machine."""

    @field_validator("memory_limit", mode="before")
    @classmethod
    def _docker_size(cls, value: object) -> object:
        return docker_size(value) if isinstance(value, str) else value


class ChatSettings(_Section):
    """Conversation rules."""

    max_input_chars: int = Field(4000, ge=1)
    """Longer messages are refused with a clear message (never truncated)."""
    history_token_budget: int = Field(2048, ge=0)
    """Tokens of recent turns and memories put into the prompt."""
    max_history_turns: int = Field(20, ge=0)
    """Most recent messages considered for the prompt."""


class TranslateSettings(_Section):
    """Translation: ``/translate``, the Translate menu, personal opt-in, glossary."""

    max_chars: int = Field(2000, ge=1)
    """Longer texts are refused with a clear message (never cut)."""
    temperature: float = Field(0.1, ge=0, le=2)
    """Sampling temperature of translations (low: faithful and repeatable)."""
    context_messages: int = Field(3, ge=0, le=20)
    """Earlier messages of the channel given to the model as context (never translated)."""
    model: str | None = None
    """Model for every translation; unset = the model routed for the target language."""
    check_min_letters: int = Field(12, ge=1)
    """Translations with fewer letters than this are not language-checked (too short
    for a reliable detection)."""
    glossary_max_entries: int = Field(200, ge=1)
    """Glossary and do-not-translate entries one guild may keep."""
    history_page_size: int = Field(5, ge=1, le=10)
    """Translations per page of ``/translations history``."""


class VoiceSettings(_Section):
    """Voice channels."""

    enabled: bool = True
    """Allow joining voice channels."""
    languages: tuple[str, ...] = ("en",)
    """Languages voice conversation serves (ISO 639-1); ``libra doctor`` checks that each
    has a speech-to-text model and a voice."""
    stt_engine: Literal["auto", "vosk", "whisper"] = "auto"
    """Speech-to-text engine: ``auto`` = Vosk where a Vosk model for the language is
    installed (streaming partials, light), else Whisper; or force one."""
    whisper_model: str | None = None
    """Whisper model (catalogue name or a CTranslate2 folder); unset = the best installed
    one for the language (``tiny.en`` from its package for English)."""
    tts_voices: dict[str, str] = Field(default_factory=dict)
    """Piper voice per language, e.g. ``{ en = "en_US-lessac-medium" }`` (a catalogue name
    or an ``.onnx`` path); unset languages use an installed Piper voice, else espeak-ng."""
    vad_engine: Literal["silero", "webrtc"] = "silero"
    """Voice activity detector (see docs/voice-pipeline.md for the measurement)."""
    endpoint_silence_ms: int = Field(500, ge=100, le=5000)
    """Trailing silence that ends a turn; shortened when the words so far are plainly a
    finished sentence, lengthened mid-sentence."""
    min_utterance_ms: int = Field(300, ge=0, le=5000)
    """Speech shorter than this is not a turn (coughs, clicks, keyboard noise)."""
    max_utterance_s: float = Field(30.0, ge=1.0, le=300.0)
    """A turn longer than this is ended and answered."""
    dave_max_version: int = Field(1, ge=0)
    """Highest DAVE protocol version announced (Discord requires DAVE since 2026-03)."""
    receive_chunk_ms: int = Field(100, ge=20, le=1000, multiple_of=20)
    """Milliseconds of a member's decoded audio per chunk of ``VoiceLink.audio`` (whole
    20 ms frames; 100 ms is what speech-to-text consumes, and handing over fewer, larger
    chunks costs less CPU than one per frame)."""
    wake_words: tuple[str, ...] = ("Libra",)
    """Names that address Libra in ``/voice mode wake-word``: only utterances starting
    with one (after "hey", "okay"…) are answered. Matched loosely, as speech-to-text
    spells them ("Library", "Liber" count as "Libra")."""
    leave_when_alone_s: float = Field(60.0, gt=0, le=86_400)
    """Seconds Libra stays in a voice channel with nobody else in it (bots are no
    company) before it leaves on its own."""
    diagnostics_log_seconds: float = Field(60.0, ge=1.0)
    """Seconds between each voice connection's diagnostics log line (also logged at
    disconnect): packets, decrypt failures, loss, jitter, DAVE epoch."""
    models_dir: Path | None = None
    """Where ``libra models pull`` keeps speech models; unset = ``<app.data_dir>/models``."""
    models_mirror: str | None = None
    """Base URL that replaces the official download hosts (a proxy or an offline mirror):
    a file whose official URL is ``https://HOST/PATH`` is fetched from ``MIRROR/HOST/PATH``
    (see docs/models.md). Unset = the official hosts."""

    @field_validator("models_mirror")
    @classmethod
    def _mirror_is_an_http_url(cls, mirror: str | None) -> str | None:
        if mirror is None or not mirror.strip():
            return None
        parts = urlsplit(mirror.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("expected an http:// or https:// base URL such as "
                             "http://mirror.lan/libra-models")
        if parts.query or parts.fragment:
            raise ValueError("a mirror base URL takes no ?query or #fragment")
        return mirror.strip().rstrip("/")


class AdminSettings(_Section):
    """The optional admin HTTP port."""

    port: int | None = Field(None, ge=1, le=65535)
    """Port to listen on; unset = the admin server is off."""
    host: str = "127.0.0.1"
    """Address to bind (loopback by default)."""
    secret: SecretStr | None = None
    """Shared secret, at least 32 bytes; env ``LIBRA_ADMIN__SECRET(_FILE)``."""
    auth_mode: Literal["simple", "hmac"] = "hmac"
    """``simple`` = X-Shared-Secret header; ``hmac`` = signed, replay-proof requests."""
    metrics_auth: bool = True
    """Require auth on ``/metrics``."""
    operator_password_hashes: dict[str, str] = Field(default_factory=dict)
    """Operator name -> bcrypt hash (``libra admin hash-password``)."""
    metrics_token: SecretStr | None = None
    """Bearer token a Prometheus scraper may send to ``/metrics`` instead of signing."""
    body_limit: int = Field(64 * 1024, ge=1024, le=16 * 1024 * 1024)
    """Largest request body in bytes; larger ones get 413."""
    request_timeout: float = Field(10.0, gt=0, le=300)
    """Seconds a request (body read and handler) may take before it gets 504."""
    signature_window: float = Field(300.0, ge=5, le=3600)
    """HMAC mode: seconds a signed timestamp may differ from the server clock."""
    failed_auth_limit: int = Field(10, ge=1)
    """Failed authentications (API or login) per client address before its further
    failures get 429 instead of 401; a valid credential is never refused."""
    failed_auth_window: float = Field(300.0, gt=0)
    """Seconds over which failed authentications are counted."""
    cookie_secure: bool = True
    """Mark the operator session cookie ``Secure`` (browsers still send it to localhost)."""
    session_ttl: float = Field(8 * 3600.0, ge=60)
    """Seconds an operator session lasts; sessions are signed with a key derived from
    ``secret`` and kept in memory, so a restart or a new secret logs everyone out."""
    ready_required: tuple[str, ...] = ("database", "migrations", "llm")
    """Components that must be ok (or degraded) for ``/api/health/ready`` to answer 200."""


class LangfuseSettings(_Section):
    """Optional Langfuse tracing (env ``LANGFUSE_PUBLIC_KEY`` etc.)."""

    public_key: str | None = None
    """Langfuse public key."""
    secret_key: SecretStr | None = None
    """Langfuse secret key."""
    host: str | None = None
    """Langfuse server URL."""


class Settings(BaseModel):
    """Every setting of Libra, grouped by section."""

    model_config = _MODEL_CONFIG

    app: AppSettings = Field(default_factory=AppSettings)
    """Process-wide settings."""
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    """PostgreSQL."""
    redis: RedisSettings = Field(default_factory=RedisSettings)
    """Redis (optional)."""
    discord: DiscordSettings = Field(default_factory=DiscordSettings)
    """The Discord bot."""
    language: LanguageSettings = Field(default_factory=LanguageSettings)
    """Language detection."""
    llm: LLMSettings = Field(default_factory=LLMSettings)
    """Language models."""
    chat: ChatSettings = Field(default_factory=ChatSettings)
    """Conversation rules."""
    voice: VoiceSettings = Field(default_factory=VoiceSettings)
    """Voice channels."""
    translate: TranslateSettings = Field(default_factory=TranslateSettings)
    """Translation."""
    admin: AdminSettings = Field(default_factory=AdminSettings)
    """Admin HTTP port."""
    langfuse: LangfuseSettings = Field(default_factory=LangfuseSettings)
    """Langfuse tracing."""

    def secret_values(self) -> list[str]:
        """Every configured secret, so logs and command output can redact them verbatim.

        Besides the secret settings themselves, the password of every URL in any
        setting (database, Redis, LLM servers behind a basic-auth proxy), both as
        written and decoded: drivers quote a password decoded in their errors.
        """
        found: list[str] = []
        for section in self.__class__.model_fields:
            model = getattr(self, section)
            for name in type(model).model_fields:
                value = getattr(model, name)
                if isinstance(value, SecretStr) and value.get_secret_value():
                    value = value.get_secret_value()
                    if "://" not in value:
                        # A URL's secret is its password (added below): masking the whole
                        # URL would hide the host from "connecting to PostgreSQL at …".
                        found.append(value)
                texts = value if isinstance(value, tuple) else (value,)
                for text in texts:
                    if isinstance(text, str):
                        found.extend(url_passwords(text))
        return found

    def masked(self) -> dict[str, Any]:
        """The effective settings as plain data with every secret masked."""
        data: dict[str, Any] = self.model_dump(mode="json")
        for section in self.__class__.model_fields:
            model = getattr(self, section)
            for name in type(model).model_fields:
                value = getattr(model, name)
                if isinstance(value, SecretStr):
                    secret = value.get_secret_value()
                    # A server URL's host and port help the reader; only its password is secret.
                    shown = _mask_secret_url(secret) if name == "url" else "********"
                    data[section][name] = shown if secret else None
        data["admin"]["operator_password_hashes"] = {
            k: "<bcrypt hash>" for k in self.admin.operator_password_hashes
        }
        masked: dict[str, Any] = _mask_url_passwords(data)
        return masked


def _mask_secret_url(url: str) -> str:
    """A connection URL with its password masked, or wholly masked unless it parses cleanly.

    A password holding an unencoded ``/ ? #`` ends the URL's authority early, and a
    parser would show part of it as the port or path: such a URL is not shown at all.
    """
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises when a piece of a password parses as the port)
    except ValueError:
        return "********"
    if "@" in url and "@" not in parts.netloc:
        return "********"
    return redact_url(url, mask="********")


def _mask_url_passwords(value: Any) -> Any:
    """``value`` with the password of every ``scheme://user:password@host`` masked.

    Plain settings such as ``llm.servers`` may hold a proxy's basic-auth credentials.
    """
    if isinstance(value, dict):
        return {k: _mask_url_passwords(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_url_passwords(v) for v in value]
    if isinstance(value, str) and "://" in value:
        return redact_url(value, mask="********")
    return value
