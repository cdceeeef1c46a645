"""Metrics derived from bus events, plus probes read at scrape time.

Per-type event counts come from ``EventBus.published`` rather than from a handler
on the ``Event`` base: such a handler would start one task per event only to count it.
Everything else is driven by handlers on the specific events below. Live voice
connections are read at scrape time from the ``VoiceDiagnosticsSource`` port
(dependency neutral: no hikari import here), one series set per guild.
"""

from __future__ import annotations

from libra.bus import EventBus, Subscription
from libra.events import (
    CacheFlushed,
    DiscordRateLimited,
    HandlerFailed,
    LLMCallFinished,
    ModelReady,
    PluginFailed,
    ReplyFinished,
    VoiceConnected,
    VoiceDisconnected,
    VoiceFailed,
    VoiceSpeakingStarted,
)
from libra.metrics import Histogram, MetricsRegistry
from libra.storage.api import UsageStats

from .api import VoiceDiagnosticsSource

REPLY_STAGES = ("first_token", "total")
"""Stages of a reply whose latency is recorded (``ReplyFinished`` fields)."""


class MetricsCollector:
    """Owns Libra's metric families and keeps them current from the bus."""

    def __init__(self, bus: EventBus, registry: MetricsRegistry, *,
                 usage: UsageStats | None = None,
                 voice: VoiceDiagnosticsSource | None = None) -> None:
        """``usage`` gives the database pool sizes, ``voice`` the live connections."""
        self._bus = bus
        self._usage = usage
        self._voice = voice
        self.registry = registry
        self._subs: list[Subscription] = []
        r = registry
        self.events = r.counter("libra_events_published_total",
                                "Events published on the bus, by type.", ["type"])
        self.handler_failures = r.counter(
            "libra_bus_handler_failures_total", "Bus handlers that raised.",
            ["event_type", "handler"])
        self.pending = r.gauge("libra_bus_pending_handlers", "Bus handler tasks still running.")
        self.llm_calls = r.counter("libra_llm_calls_total", "LLM calls by model and outcome.",
                                   ["model", "outcome", "cache"])
        self.llm_latency = r.histogram("libra_llm_latency_seconds",
                                       "Whole LLM call duration.", ["model"])
        self.llm_first_token = r.histogram("libra_llm_first_token_seconds",
                                           "Time to the first streamed token.", ["model"])
        self.llm_tokens = r.counter("libra_llm_tokens_total", "Tokens processed.",
                                    ["model", "kind"])
        self.cache_hits = r.counter("libra_llm_cache_hits_total",
                                    "LLM answers served from the cache.", ["model"])
        self.cache_flushes = r.counter("libra_llm_cache_flushes_total",
                                       "Cache namespaces flushed.", ["namespace"])
        self.model_ready = r.gauge("libra_llm_model_ready", "1 when a routed model is warm.",
                                   ["model"])
        self.reply_stage: Histogram = r.histogram(
            "libra_reply_stage_seconds", "Reply latency per stage.", ["stage"])
        self.replies = r.counter("libra_replies_total", "Replies by outcome.", ["outcome"])
        self.rate_limited = r.counter("libra_discord_rate_limited_total",
                                      "HTTP 429 answers from Discord.", ["route"])
        self.voice_connections = r.gauge("libra_voice_connections", "Open voice connections.")
        self.voice_events = r.counter("libra_voice_events_total", "Voice events by kind.",
                                      ["kind"])
        self.voice_errors = r.counter("libra_voice_errors_total", "Voice failures by code.",
                                      ["code"])
        self._add_voice_series(r)
        self.plugin_failures = r.counter("libra_plugin_failures_total",
                                         "Plugins that failed to start or stop.",
                                         ["plugin", "phase"])
        self.db_pool = r.gauge("libra_db_pool_connections",
                               "Database pool connections by state.", ["state"])
        self.admin_requests = r.counter("libra_admin_requests_total",
                                        "Admin HTTP requests by route and status.",
                                        ["route", "status"])
        self.admin_auth_failures = r.counter("libra_admin_auth_failures_total",
                                             "Rejected admin requests by error code.", ["code"])
        self._open_voice: set[int] = set()
        registry.add_probe(self._probe)

    def start(self) -> None:
        """Subscribe to the events this collector turns into metrics."""
        bus = self._bus
        self._subs = [
            bus.subscribe(HandlerFailed, self._on_handler_failed, name="metrics:handler"),
            bus.subscribe(LLMCallFinished, self._on_llm_call, name="metrics:llm"),
            bus.subscribe(ModelReady, self._on_model_ready, name="metrics:model"),
            bus.subscribe(CacheFlushed, self._on_cache_flushed, name="metrics:cache"),
            bus.subscribe(ReplyFinished, self._on_reply, name="metrics:reply"),
            bus.subscribe(DiscordRateLimited, self._on_rate_limited, name="metrics:discord"),
            bus.subscribe(VoiceConnected, self._on_voice_connected, name="metrics:voice"),
            bus.subscribe(VoiceDisconnected, self._on_voice_disconnected, name="metrics:voice"),
            bus.subscribe(VoiceSpeakingStarted, self._on_speaking, name="metrics:voice"),
            bus.subscribe(VoiceFailed, self._on_voice_error, name="metrics:voice"),
            bus.subscribe(PluginFailed, self._on_plugin_failed, name="metrics:plugin"),
        ]

    def stop(self) -> None:
        """Unsubscribe (idempotent)."""
        for sub in self._subs:
            sub.unsubscribe()
        self._subs = []

    def _add_voice_series(self, r: MetricsRegistry) -> None:
        g = ["guild"]
        self.voice_packets = r.counter("libra_voice_packets_total",
                                       "Voice UDP packets per connection.", [*g, "direction"])
        self.voice_bytes = r.counter("libra_voice_bytes_total",
                                     "Voice UDP bytes per connection.", [*g, "direction"])
        self.voice_dropped = r.counter("libra_voice_dropped_packets_total",
                                       "Voice packets dropped on purpose, by reason.",
                                       [*g, "reason"])
        self.voice_decrypt_failures = r.counter(
            "libra_voice_decrypt_failures_total",
            "Received voice packets that failed to decrypt, by kind (transport, dave_*).",
            [*g, "kind"])
        self.voice_lost = r.counter("libra_voice_packets_lost_total",
                                    "Received packets never seen (sequence gaps).", g)
        self.voice_concealed = r.counter("libra_voice_frames_concealed_total",
                                         "Lost frames filled by Opus concealment.", g)
        self.voice_loss = r.gauge("libra_voice_loss_ratio",
                                  "Share of expected received packets lost.", g)
        self.voice_jitter = r.gauge("libra_voice_jitter_ms",
                                    "Largest interarrival jitter among speakers (ms).", g)
        self.voice_dave_epoch = r.gauge("libra_voice_dave_epoch",
                                        "MLS epoch of the DAVE group (-1 = none).", g)
        self.voice_dave = r.gauge(
            "libra_voice_dave_info",
            "1 per connection, labelled with its DAVE version and privacy code.",
            [*g, "protocol_version", "privacy_code", "can_encrypt"])

    # -- probes --------------------------------------------------------------------

    def _probe(self) -> None:
        for event_type, total in self._bus.published.items():
            self.events.set_total(total, type=event_type)
        self.pending.set(self._bus.pending)
        sizes = self._usage.pool_sizes() if self._usage is not None else None
        self.db_pool.clear()
        if sizes is not None:
            self.db_pool.set(sizes.busy, state="busy")
            self.db_pool.set(sizes.idle, state="idle")
            self.db_pool.set(sizes.max, state="max")
        self._probe_voice()

    def _probe_voice(self) -> None:
        voice = self._voice
        families = (self.voice_packets, self.voice_bytes, self.voice_dropped,
                    self.voice_decrypt_failures, self.voice_lost, self.voice_concealed,
                    self.voice_loss, self.voice_jitter, self.voice_dave_epoch, self.voice_dave)
        for family in families:
            family.clear()  # connections that closed drop out
        if voice is None:
            return
        for snap in voice.snapshots():
            guild = str(snap["guild_id"])
            for direction in ("in", "out"):
                self.voice_packets.set_total(snap[f"packets_{direction}"], guild=guild,
                                             direction=direction)
                self.voice_bytes.set_total(snap[f"bytes_{direction}"], guild=guild,
                                           direction=direction)
            for reason in ("rtcp", "foreign", "unmapped"):
                self.voice_dropped.set_total(snap[f"{reason}_dropped"], guild=guild,
                                             reason=reason)
            self.voice_dropped.set_total(snap["frames_unsent_not_keyed"], guild=guild,
                                         reason="unsent_not_keyed")
            for kind, total in snap["decrypt_failures"].items():
                self.voice_decrypt_failures.set_total(total, guild=guild, kind=kind)
            streams = snap["streams"]
            self.voice_lost.set_total(sum(s["lost"] for s in streams), guild=guild)
            self.voice_concealed.set_total(sum(s["concealed"] for s in streams), guild=guild)
            self.voice_loss.set(snap["loss_ratio"], guild=guild)
            self.voice_jitter.set(snap["jitter_ms_max"], guild=guild)
            dave = snap["dave"]
            epoch = dave["epoch"]
            self.voice_dave_epoch.set(-1 if epoch is None else epoch, guild=guild)
            self.voice_dave.set(1, guild=guild, protocol_version=str(dave["protocol_version"]),
                                privacy_code=dave["privacy_code"] or "",
                                can_encrypt=str(bool(dave.get("can_encrypt"))).lower())

    # -- handlers ------------------------------------------------------------------

    async def _on_handler_failed(self, event: HandlerFailed) -> None:
        self.handler_failures.inc(event_type=event.event_type, handler=event.handler)

    async def _on_llm_call(self, event: LLMCallFinished) -> None:
        model = event.model
        cache = "hit" if event.cache_hit else "miss"
        self.llm_calls.inc(model=model, outcome=event.error_code or "ok", cache=cache)
        self.llm_latency.observe(event.latency_ms / 1000, model=model)
        if event.first_token_ms is not None:
            self.llm_first_token.observe(event.first_token_ms / 1000, model=model)
        self.llm_tokens.inc(event.prompt_tokens, model=model, kind="prompt")
        self.llm_tokens.inc(event.completion_tokens, model=model, kind="completion")
        if event.cache_hit:
            self.cache_hits.inc(model=model)

    async def _on_model_ready(self, event: ModelReady) -> None:
        self.model_ready.set(1 if event.ready else 0, model=event.model)

    async def _on_cache_flushed(self, event: CacheFlushed) -> None:
        self.cache_flushes.inc(namespace=event.namespace)

    async def _on_reply(self, event: ReplyFinished) -> None:
        if event.first_token_ms is not None:
            self.reply_stage.observe(event.first_token_ms / 1000, stage="first_token")
        self.reply_stage.observe(event.total_ms / 1000, stage="total")
        outcome = "stopped" if event.stopped else ("error" if event.error_code else "complete")
        self.replies.inc(outcome=outcome)

    async def _on_rate_limited(self, event: DiscordRateLimited) -> None:
        self.rate_limited.inc(route=event.route)

    async def _on_voice_connected(self, event: VoiceConnected) -> None:
        self._open_voice.add(event.guild_id)
        self.voice_connections.set(len(self._open_voice))
        self.voice_events.inc(kind="connected")

    async def _on_voice_disconnected(self, event: VoiceDisconnected) -> None:
        self._open_voice.discard(event.guild_id)
        self.voice_connections.set(len(self._open_voice))
        self.voice_events.inc(kind="disconnected")

    async def _on_speaking(self, event: VoiceSpeakingStarted) -> None:
        self.voice_events.inc(kind="speaking_started")

    async def _on_voice_error(self, event: VoiceFailed) -> None:
        self.voice_errors.inc(code=event.code)

    async def _on_plugin_failed(self, event: PluginFailed) -> None:
        self.plugin_failures.inc(plugin=event.name, phase=event.phase)

    # -- readers for the operator page --------------------------------------------

    def stage_latencies(self) -> list[tuple[str, float | None, float | None]]:
        """``(stage, p50 s, p95 s)`` for each reply stage (``None`` before any reply)."""
        return [
            (stage, self.reply_stage.quantile(0.5, stage=stage),
             self.reply_stage.quantile(0.95, stage=stage))
            for stage in REPLY_STAGES
        ]
