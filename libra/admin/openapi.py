"""The OpenAPI 3.1 document of the admin JSON API (kept in step with ``routes.py``)."""

from __future__ import annotations

from typing import Any

from libra import __version__

_ERROR = {"$ref": "#/components/schemas/Error"}
_NULLABLE_MS = {"type": ["number", "null"]}


def _error(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": _ERROR}}}


def _ok(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_COMMON_ERRORS: dict[str, Any] = {
    "400": _error("Non-canonical path or invalid input (`path_invalid`, `body_invalid`, "
                  "`query_invalid`)."),
    "401": _error("Authentication failed (`auth_missing`, `signature_invalid` ...)."),
    "413": _error("Body over the limit (`body_too_large`)."),
    "429": {**_error("Authentication failed, and this address is past its limit of failures "
                     "(`too_many_failures`); a valid credential is never refused."),
            "headers": {"Retry-After": {"description": "Seconds until a failure from this "
                                                       "address is answered 401 again.",
                                        "schema": {"type": "integer", "minimum": 1}}}},
    "503": _error("HMAC mode: Redis, which keeps the nonces, failed "
                  "(`nonce_store_unavailable`)."),
    "504": _error("The request took too long (`request_timeout`)."),
}


def _secured(responses: dict[str, Any]) -> dict[str, Any]:
    """The endpoint's responses plus the ones every authenticated endpoint may give."""
    merged = {**_COMMON_ERRORS, **responses}
    if "503" in responses:  # its own 503, or the nonce store's
        own = responses["503"]
        schema = own["content"]["application/json"]["schema"]
        merged["503"] = {
            "description": f"{own['description']} Or: {_COMMON_ERRORS['503']['description']}",
            "content": {"application/json": {"schema": (
                schema if schema == _ERROR else {"oneOf": [schema, _ERROR]})}}}
    return merged


_COMPONENT = {
    "type": "object",
    "required": ["name", "status", "required", "detail", "fix"],
    "properties": {
        "name": {"type": "string"},
        "status": {"enum": ["ok", "degraded", "down", "off"]},
        "required": {"type": "boolean"},
        "detail": {"type": "string"},
        "fix": {"type": ["string", "null"]},
    },
}

_READY = {
    "type": "object", "required": ["ready", "components"],
    "properties": {"ready": {"type": "boolean"},
                   "components": {"type": "array", "items": _COMPONENT}},
}

_VOICE_STAGES = ["endpoint", "stt_final", "chat", "llm_first_token", "first_sentence",
                 "tts_first_audio", "first_packet", "total", "libra"]
"""``libra.voice.latency_figures.TurnStage`` (admin imports no voice module)."""

_VOICE = {
    "type": ["object", "null"],
    "description": "Recent voice turns (the last `window` of them); null when voice is off.",
    "required": ["turns", "errors", "window", "stages", "engines", "recent"],
    "properties": {
        "turns": {"type": "integer", "description": "Turns since Libra started."},
        "errors": {"type": "object", "additionalProperties": {"type": "integer"},
                   "description": "Failed turns since Libra started, by error code."},
        "window": {"type": "integer"},
        "stages": {"type": "array", "items": {
            "type": "object", "required": ["stage", "samples", "p50_ms", "p95_ms"],
            "properties": {"stage": {"enum": _VOICE_STAGES}, "samples": {"type": "integer"},
                           "p50_ms": {"type": "number"}, "p95_ms": {"type": "number"}}}},
        "engines": {"type": "object", "required": ["stt", "tts"], "properties": {
            "stt": {"type": "object", "additionalProperties": {"type": "integer"}},
            "tts": {"type": "object", "additionalProperties": {"type": "integer"}}}},
        "recent": {"type": "array", "description": "The last turns, newest first.", "items": {
            "type": "object",
            "required": ["guild_id", "channel_id", "stt", "tts", "error_code", "age_s", "stages"],
            "properties": {
                "guild_id": {"type": ["integer", "null"]}, "channel_id": {"type": "integer"},
                "stt": {"type": "string"}, "tts": {"type": ["string", "null"]},
                "error_code": {"type": ["string", "null"]}, "age_s": {"type": "number"},
                "stages": {"type": "object",
                           "additionalProperties": _NULLABLE_MS}}}},
    },
}

_TRANSLATIONS = {
    "type": ["object", "null"],
    "description": "Translations per language pair and every guild's glossary; null when "
                   "translation figures are not available.",
    "required": ["pairs", "glossary"],
    "properties": {
        "pairs": {"type": "array", "items": {
            "type": "object", "required": ["source_language", "target_language", "translations"],
            "properties": {"source_language": {"type": "string"},
                           "target_language": {"type": "string"},
                           "translations": {"type": "integer"}}}},
        "glossary": {"type": "array", "items": {
            "type": "object", "required": ["guild_id", "term", "language", "rendering"],
            "properties": {"guild_id": {"type": "integer"}, "term": {"type": "string"},
                           "language": {"type": ["string", "null"]},
                           "rendering": {"type": ["string", "null"],
                                         "description": "null: never translated"}}}},
    },
}

_STATS = {
    "type": "object",
    "required": ["since", "days", "guilds", "daily", "models", "stages", "translations"],
    "properties": {
        "since": {"type": "string", "format": "date-time"},
        "days": {"type": "integer"},
        "guilds": {"type": "array", "items": {
            "type": "object",
            "required": ["guild_id", "calls", "prompt_tokens", "completion_tokens",
                         "cache_hits", "errors"],
            "properties": {"guild_id": {"type": ["integer", "null"]},
                           "calls": {"type": "integer"}, "prompt_tokens": {"type": "integer"},
                           "completion_tokens": {"type": "integer"},
                           "cache_hits": {"type": "integer"}, "errors": {"type": "integer"}}}},
        "daily": {"type": "array", "items": {
            "type": "object", "required": ["guild_id", "day", "calls", "tokens"],
            "properties": {"guild_id": {"type": ["integer", "null"]},
                           "day": {"type": "string", "format": "date"},
                           "calls": {"type": "integer"}, "tokens": {"type": "integer"}}}},
        "models": {"type": "array", "items": {
            "type": "object", "required": ["model", "calls"],
            "properties": {"model": {"type": "string"}, "calls": {"type": "integer"},
                           "first_token_p50_ms": _NULLABLE_MS,
                           "first_token_p95_ms": _NULLABLE_MS,
                           "latency_p50_ms": _NULLABLE_MS, "latency_p95_ms": _NULLABLE_MS}}},
        "stages": {"type": "array", "items": {
            "type": "object", "required": ["stage", "p50_ms", "p95_ms"],
            "properties": {"stage": {"type": "string"}, "p50_ms": _NULLABLE_MS,
                           "p95_ms": _NULLABLE_MS}}},
        "voice": _VOICE,
        "translations": _TRANSLATIONS,
    },
}

_FLUSH_REQUEST = {
    "type": "object", "additionalProperties": False,
    "properties": {"namespace": {
        "type": ["string", "null"], "pattern": "^[A-Za-z0-9][A-Za-z0-9:._-]{0,99}$",
        "description": "Flush one namespace; absent or null = every namespace."}},
}


def openapi_document() -> dict[str, Any]:
    """The document served at ``/api/openapi.json``."""
    secured: list[dict[str, list[str]]] = [{"sharedSecret": []}, {"hmacSignature": []}]
    return {
        "openapi": "3.1.0",
        "info": {"title": "Libra admin API", "version": __version__,
                 "description": "Signed with X-Ts/X-Nonce/X-Signature (hmac mode) or "
                                "X-Shared-Secret (simple mode); see docs."},
        "paths": {
            "/api/health": {"get": {
                "operationId": "health", "summary": "Liveness (no auth, no details).",
                "security": [],
                "responses": {"200": _ok("The process answers.", {
                    "type": "object", "required": ["status"],
                    "properties": {"status": {"const": "ok"}}})}}},
            "/api/health/ready": {"get": {
                "operationId": "healthReady", "summary": "Readiness per component.",
                "security": secured,
                "responses": _secured({
                    "200": _ok("Every required component is ok.", _READY),
                    "503": _ok("A required component is not ok.", _READY)})}},
            "/api/cache/flush": {"post": {
                "operationId": "flushCache", "summary": "Flush the LLM response cache.",
                "security": secured,
                "requestBody": {"required": False, "content": {
                    "application/json": {"schema": _FLUSH_REQUEST}}},
                "responses": _secured({
                    "200": _ok("Flushed.", {
                        "type": "object", "required": ["flushed", "namespace"],
                        "properties": {"flushed": {"type": "integer", "minimum": 0},
                                       "namespace": {"type": ["string", "null"]}}}),
                    "503": _error("The LLM service is not running (`llm_unavailable`) or its "
                                  "Redis cache failed (`cache_unavailable`).")})}},
            "/api/stats": {"get": {
                "operationId": "stats",
                "summary": "Usage per guild, latency per model/stage, translations per "
                           "language pair and glossaries.",
                "security": secured,
                "parameters": [{"name": "days", "in": "query", "required": False,
                                "schema": {"type": "integer", "minimum": 1, "maximum": 90,
                                           "default": 7}}],
                "responses": _secured({
                    "200": _ok("The figures.", _STATS),
                    "503": _error("The database is not running (`stats_unavailable`).")})}},
            "/api/openapi.json": {"get": {
                "operationId": "openapi", "summary": "This document.", "security": secured,
                "responses": _secured({"200": _ok("OpenAPI 3.1.", {"type": "object"})})}},
        },
        "components": {
            "schemas": {"Error": {
                "type": "object", "required": ["error", "message"],
                "properties": {"error": {"type": "string"}, "message": {"type": "string"}}}},
            "securitySchemes": {
                "sharedSecret": {"type": "apiKey", "in": "header", "name": "X-Shared-Secret"},
                "hmacSignature": {"type": "apiKey", "in": "header", "name": "X-Signature",
                                  "description": "hex HMAC-SHA256 of "
                                                 "METHOD|PATH|TS|NONCE|sha256hex(body), "
                                                 "with X-Ts and X-Nonce"}},
        },
    }
