"""Voice gateway v8 vocabulary: opcodes, the close-code policy, and where to connect."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum

from libra.errors import LibraError

GATEWAY_VERSION = 8


class VoiceOp(IntEnum):
    """Voice gateway opcodes (JSON and binary)."""

    IDENTIFY = 0
    SELECT_PROTOCOL = 1
    READY = 2
    HEARTBEAT = 3
    SESSION_DESCRIPTION = 4
    SPEAKING = 5
    HEARTBEAT_ACK = 6
    RESUME = 7
    HELLO = 8
    RESUMED = 9
    CLIENTS_CONNECT = 11
    CLIENT_FLAGS = 12
    CLIENT_DISCONNECT = 13
    DAVE_PREPARE_TRANSITION = 21
    DAVE_EXECUTE_TRANSITION = 22
    DAVE_TRANSITION_READY = 23
    DAVE_PREPARE_EPOCH = 24
    DAVE_MLS_EXTERNAL_SENDER = 25
    DAVE_MLS_KEY_PACKAGE = 26
    DAVE_MLS_PROPOSALS = 27
    DAVE_MLS_COMMIT_WELCOME = 28
    DAVE_MLS_ANNOUNCE_COMMIT_TRANSITION = 29
    DAVE_MLS_WELCOME = 30
    DAVE_MLS_INVALID_COMMIT_WELCOME = 31


class CloseAction(StrEnum):
    """What to do after the voice gateway closed."""

    RESUME = "resume"
    IDENTIFY = "identify"
    STOP_UNLESS_MOVED = "stop-unless-moved"
    FATAL = "fatal"


FATAL_CODES = {
    4001: "unknown opcode",
    4002: "payload could not be decoded",
    4003: "not authenticated",
    4004: "authentication failed",
    4005: "already authenticated",
    4011: "voice server not found",
    4012: "unknown protocol",
    4016: "unknown encryption mode",
    4017: "DAVE end-to-end encryption is required",
    4020: "bad request",
    4021: "rate limited",
}


def close_action(code: int | None) -> CloseAction:
    """The policy for a close code (``None`` = the socket dropped without one)."""
    if code in (4006, 4009):
        return CloseAction.IDENTIFY
    if code in (4014, 4022):
        return CloseAction.STOP_UNLESS_MOVED
    if code in FATAL_CODES:
        return CloseAction.FATAL
    return CloseAction.RESUME


@dataclass(slots=True)
class VoiceServer:
    """Where and as whom to connect; mutated on endpoint changes and moves."""

    endpoint: str
    token: str
    guild_id: int
    user_id: int
    session_id: str
    channel_id: int

    @property
    def url(self) -> str:
        """The websocket URL with the gateway version."""
        base = self.endpoint
        # hikari prefixes "wss://"; an endpoint that already carried a scheme (local
        # test servers without TLS give "ws://host:port") is used as it is.
        for scheme in ("ws://", "wss://"):
            if base.startswith("wss://" + scheme):
                base = base.removeprefix("wss://")
        if "://" not in base:
            base = f"wss://{base}"
        if "?" in base:
            return f"{base}&v={GATEWAY_VERSION}"
        return f"{base.rstrip('/')}/?v={GATEWAY_VERSION}"


@dataclass(frozen=True, slots=True)
class GatewayExit:
    """Why the gateway stopped for good."""

    reason: str
    close_code: int | None
    error: LibraError | None = None
