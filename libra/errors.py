"""One root exception, one subclass per stage, each with a stable ``code``.

Codes are part of Libra's surface: they appear in logs, in the ``llm_calls`` table,
in admin API errors and in metrics, so they never change once released. Foreign
errors are wrapped with ``raise ... from err`` and turned into a user-facing
message at the boundary (Discord, console, admin HTTP).
"""

from __future__ import annotations


class LibraError(Exception):
    """Root of every error Libra raises on purpose."""

    code: str = "libra_error"
    """Stable, machine-readable name of the failure (per class; a wire error may set its own)."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        """A one-line instruction that fixes the problem, shown to operators."""

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class ConfigError(LibraError):
    """A setting is missing or invalid."""

    code = "config_invalid"


class PluginError(LibraError):
    """A plugin could not be started or a service is not available."""

    code = "plugin_error"


class ServiceUnavailable(PluginError):
    """A service another plugin publishes is missing (its plugin failed or is off)."""

    code = "service_unavailable"


class StorageError(LibraError):
    """Database problems."""

    code = "storage_error"


class DatabaseUnavailable(StorageError):
    """The database cannot be reached."""

    code = "db_unavailable"


class MigrationError(StorageError):
    """Migrations could not be applied or rolled back."""

    code = "migration_failed"


class BackupFailed(StorageError):
    """A backup or restore could not be made (no ``pg_dump``, a bad archive, a refusal)."""

    code = "backup_failed"


class IntegrityViolation(StorageError):
    """A write broke a constraint (missing user, bad role ...)."""

    code = "integrity_violation"


class InputError(LibraError):
    """The user's input cannot be processed as given."""

    code = "input_invalid"


class EmptyInput(InputError):
    """Nothing to answer."""

    code = "input_empty"


class InputTooLong(InputError):
    """The input is over the configured maximum; carries both numbers for the user."""

    code = "input_too_long"

    def __init__(self, *, length: int, limit: int) -> None:
        super().__init__(f"message is {length} characters, limit {limit}")
        self.length = length
        self.limit = limit


class MemoryIdInvalid(InputError):
    """No memory can have this number (the database counts them in 32 bits, from 1)."""

    code = "memory_id_invalid"

    def __init__(self, memory_id: int) -> None:
        super().__init__(f"no memory can be #{memory_id}")
        self.memory_id = memory_id


class LanguageError(LibraError):
    """Language detection or selection failed."""

    code = "language_error"


class UnknownLanguage(LanguageError):
    """A language code Libra does not know or is not configured."""

    code = "language_unknown"


class LLMError(LibraError):
    """The language model failed."""

    code = "llm_error"


class LLMUnreachable(LLMError):
    """No LLM server answered."""

    code = "llm_unreachable"


class ModelMissing(LLMError):
    """The server answered but does not have the model."""

    code = "llm_model_missing"


class LLMTimeout(LLMError):
    """The model took too long to answer."""

    code = "llm_timeout"


class StreamCut(LLMError):
    """The stream ended before the model finished; the partial answer is kept."""

    code = "llm_stream_cut"

    def __init__(self, message: str, *, partial: str = "", hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.partial = partial


class LLMOverloaded(LLMError):
    """The request queue is full."""

    code = "llm_overloaded"


# --- llm (libra/llm) -------------------------------------------------------------------


class LLMServerError(LLMError):
    """The server answered with an error status or an error inside the stream."""

    code = "llm_server_error"


class LLMRequestRejected(LLMError):
    """The server refused the request itself (too long for the context, bad options).

    Another server with the same settings would refuse it too, so there is no
    failover and the server is not marked unhealthy.
    """

    code = "llm_request_rejected"


class LLMCancelled(LLMError):
    """The caller stopped consuming the stream (user pressed stop, shutdown)."""

    code = "llm_cancelled"


# --- end llm -------------------------------------------------------------------------


# --- translate (libra/translate) --------------------------------------------------


class TranslateError(LibraError):
    """Translation failed or cannot be asked for as given."""

    code = "translate_error"


class TranslationFailed(TranslateError):
    """The model's translation failed a check twice (lost code, wrong language, garbage).

    ``reason`` says which check, in words a user can read; nothing wrong was posted.
    """

    code = "translation_failed"

    def __init__(self, message: str, *, reason: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.reason = reason


class LanguageUnknown(TranslateError):
    """A language name or code translation does not support; carries the supported ones."""

    code = "translate_language_unknown"

    def __init__(self, name: str, supported: tuple[str, ...]) -> None:
        super().__init__(f"unknown language {name!r}",
                         hint=f"use one of: {', '.join(supported)}")
        self.name = name
        self.supported = supported


class TranslationTooLong(TranslateError):
    """The text is over ``translate.max_chars``; carries both numbers for the user."""

    code = "translation_too_long"

    def __init__(self, *, length: int, limit: int) -> None:
        super().__init__(f"text is {length} characters, translation limit {limit}",
                         hint="translate a shorter part")
        self.length = length
        self.limit = limit


class GlossaryInvalid(TranslateError):
    """A glossary entry cannot be stored as given (empty, too long, too many)."""

    code = "glossary_invalid"


# --- end translate ---------------------------------------------------------------


class RateLimited(LibraError):
    """A user or guild is over its limits."""

    code = "rate_limited"


class PermissionDenied(LibraError):
    """The caller is not allowed to do this."""

    code = "permission_denied"


class VoiceError(LibraError):
    """Voice connection or pipeline failures."""

    code = "voice_error"


# --- voice connection (libra/discord/voice) ------------------------------------------


class VoicePacketInvalid(VoiceError):
    """An RTP/RTCP datagram that cannot be parsed."""

    code = "voice_packet_invalid"


class VoiceCryptoError(VoiceError):
    """Transport encryption failed (bad key, bad tag, exhausted nonce counter)."""

    code = "voice_crypto_failed"


class VoiceGatewayClosed(VoiceError):
    """The voice gateway closed the connection with a fatal close code."""

    code = "voice_gateway_closed"


class VoiceDaveRequired(VoiceGatewayClosed):
    """The voice server requires DAVE end-to-end encryption (close 4017)."""

    code = "voice_dave_required"


class VoiceNotConnected(VoiceError):
    """An operation needs a live voice connection and there is none."""

    code = "voice_not_connected"


class VoiceDecryptFailing(VoiceError):
    """Many received packets failed transport or DAVE decryption: members go unheard."""

    code = "voice_decrypt_failures"


class VoiceDaveTransitionFailed(VoiceError):
    """A DAVE commit, welcome, proposal or transition could not be applied."""

    code = "voice_dave_transition_failed"


class VoiceSendBlocked(VoiceError):
    """Libra's audio was dropped because the DAVE group was not keyed: nobody hears it."""

    code = "voice_send_blocked"


# --- end voice connection ------------------------------------------------------------


# --- voice channels (/voice join, leave; libra/discord/voice_sessions.py) -------------


class VoiceChannelRequired(VoiceError):
    """``/voice join`` without a channel from someone who is in no voice channel."""

    code = "voice_channel_required"


class VoiceChannelInvalid(VoiceError):
    """The channel given to ``/voice join`` is not a voice channel of this server."""

    code = "voice_channel_invalid"


class VoicePermissionMissing(VoiceError):
    """Libra lacks a permission it needs in a voice channel (``missing`` names them)."""

    code = "voice_permission_missing"

    def __init__(self, message: str, *, channel: str, missing: tuple[str, ...],
                 hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.channel = channel
        self.missing = missing


class VoiceJoinFailed(VoiceError):
    """Discord did not let Libra into the voice channel in time."""

    code = "voice_join_failed"


class AdminError(LibraError):
    """Admin HTTP server failures."""

    code = "admin_error"


# --- admin HTTP (added by the admin plugin) -------------------------------------------


class AdminSecretInvalid(ConfigError):
    """The admin port is enabled without a secret of at least 32 bytes."""

    code = "admin_secret_invalid"


class AdminRequestError(AdminError):
    """An admin request or CLI call was refused; ``error`` is the stable wire code."""

    code = "admin_request_failed"

    def __init__(self, message: str, *, error: str, status: int = 0,
                 hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.error = error
        self.status = status


# --- voice models (libra/voice/models) -----------------------------------------------


class ModelError(VoiceError):
    """Finding, downloading, installing or checking a speech model failed."""

    code = "model_error"


class ModelUnknown(ModelError):
    """A model name that is not in the catalogue."""

    code = "model_unknown"


class ModelUnverified(ModelError):
    """A catalogue entry has no known SHA-256, so its download cannot be checked."""

    code = "model_unverified"


class ModelDownloadFailed(ModelError):
    """The server refused the file, the connection kept failing, or it timed out."""

    code = "model_download_failed"


class ModelChecksumMismatch(ModelError):
    """A downloaded file is not the one the catalogue names; it was deleted."""

    code = "model_checksum_mismatch"


class ModelTooLarge(ModelError):
    """The server sent more bytes than the catalogue says the file has."""

    code = "model_too_large"


class ModelArchiveUnsafe(ModelError):
    """An archive holds a path outside its folder, a link, or unpacks too large."""

    code = "model_archive_unsafe"


class ModelDiskFull(ModelError):
    """Not enough free space to download or unpack a model."""

    code = "model_disk_full"


class ModelProvidedByPackage(ModelError):
    """The model comes from an installed Python package, which Libra does not remove."""

    code = "model_provided_by_package"


class ModelNotInstalled(ModelError):
    """The model is neither downloaded nor provided by a package."""

    code = "model_not_installed"


class ModelsFolderReadOnly(ModelError):
    """The models folder cannot be written (e.g. baked into a read-only image)."""

    code = "models_folder_read_only"


# --- end voice models ----------------------------------------------------------------


# --- voice pipeline (libra/voice) ----------------------------------------------------


class SpeechModelMissing(VoiceError):
    """No installed model or voice serves a language; the hint names the pull command."""

    code = "speech_model_missing"

    def __init__(self, message: str, *, language: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.language = language


class SpeechEngineFailed(VoiceError):
    """A speech engine could not load its model or failed while running."""

    code = "speech_engine_failed"


class AudioInvalid(VoiceError):
    """Audio input that cannot be used: not audio, empty, silence only, or too long."""

    code = "audio_invalid"


# --- end voice pipeline --------------------------------------------------------------
