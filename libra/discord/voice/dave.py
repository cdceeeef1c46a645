"""DAVE end-to-end encryption: driving a ``davey`` 0.1.7 session from voice gateway ops.

The voice gateway is the MLS external sender. We hand it key packages (op 26), answer
its proposals (op 27) with commit + welcome (op 28), process the winning commit
(op 29) or our welcome (op 30), and acknowledge transitions (op 23) that the server
then executes (op 22). Transition id 0 means "execute now". Op 24 with epoch 1 starts
a new group. A commit or welcome we cannot process is reported with op 31 and the
session is re-initialised with a fresh key package.

davey 0.1.7 reports ``ready`` as soon as a commit is processed, before op 22 says to
switch. Sending therefore follows our own flag, which only turns on when a transition
to a DAVE version has *executed*; until then media frames are dropped (counted in
``frames_unsent_not_keyed``) rather than sent in the clear into an end-to-end
encrypted call. They are not queued: late speech is worse than a gap of a few hundred
milliseconds, and the monitor raises ``voice_send_blocked`` only if it lasts.
"""

from __future__ import annotations

import struct
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import davey
from loguru import logger

from libra.discord.voice.audio import SILENCE_FRAME
from libra.discord.voice.protocol import VoiceOp
from libra.errors import LibraError, VoiceDaveTransitionFailed, VoiceError

DOWNGRADE_PASSTHROUGH_SECONDS = 120
UPGRADE_PASSTHROUGH_SECONDS = 10
_DAVE_MAGIC = b"\xfa\xfa"

SendJson = Callable[[int, Any], Awaitable[None]]
SendBinary = Callable[[int, bytes], Awaitable[None]]


class DaveDecryptFailed(LibraError):
    """A frame could not be end-to-end decrypted; ``kind`` names why."""

    code = "voice_dave_decrypt_failed"

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


class DaveDriver:
    """One connection's DAVE state."""

    def __init__(
        self,
        user_id: int,
        channel_id: int,
        send_json: SendJson,
        send_binary: SendBinary,
        *,
        on_failure: Callable[[VoiceError], None] | None = None,
    ) -> None:
        self.user_id = user_id
        self._on_failure = on_failure
        """Told about every failure users must see (the connection raises an alarm)."""
        self.channel_id = channel_id
        self._send_json = send_json
        self._send_binary = send_binary
        self.session: davey.DaveSession | None = None
        self.protocol_version = 0
        self._pending: dict[int, int] = {}
        self._sending_e2ee = False
        self._downgraded = False
        self.known_users: set[int] = set()
        self.failures: Counter[str] = Counter()
        self.transitions_executed = 0
        self.recoveries = 0

    # --- state -----------------------------------------------------------------------

    @property
    def can_encrypt(self) -> bool:
        """Whether outgoing media is end-to-end encrypted right now."""
        return (
            self._sending_e2ee
            and self.protocol_version > 0
            and self.session is not None
            and self.session.ready
        )

    @property
    def epoch(self) -> int | None:
        """The MLS epoch of our group, if we are in one."""
        return self.session.epoch if self.session is not None else None

    @property
    def privacy_code(self) -> str | None:
        """The voice privacy code users can compare across clients."""
        return self.session.voice_privacy_code if self.session is not None else None

    # --- media -----------------------------------------------------------------------

    def encrypt(self, opus: bytes) -> bytes | None:
        """The frame to send, or ``None`` while an E2EE call is not yet keyed."""
        if self.protocol_version == 0:
            return opus
        if opus == SILENCE_FRAME:
            return opus
        if not self.can_encrypt or self.session is None:
            return None
        return self.session.encrypt_opus(opus)

    def decrypt(self, user_id: int, frame: bytes) -> bytes:
        """End-to-end decrypt one member's Opus frame.

        Raises:
            DaveDecryptFailed: with ``kind`` ``no_session`` (not in a group yet),
                ``not_encrypted`` (clear frame outside passthrough) or ``decrypt``.
        """
        if frame == SILENCE_FRAME:
            return frame
        encrypted = frame.endswith(_DAVE_MAGIC)
        if self.protocol_version == 0 and not encrypted:
            return frame
        session = self.session
        if session is None:
            raise DaveDecryptFailed("no_session")
        if not encrypted:
            if session.can_passthrough(user_id):
                return frame
            raise DaveDecryptFailed("not_encrypted")
        try:
            return session.decrypt(user_id, davey.MediaType.audio, frame)
        except Exception as err:  # davey raises bare Exceptions on auth failure
            raise DaveDecryptFailed("no_key" if not session.ready else "decrypt") from err

    # --- gateway ops -----------------------------------------------------------------

    async def on_session_description(self, version: int) -> None:
        """Op 4: start DAVE at ``version`` (or stay in the clear for 0)."""
        self.protocol_version = version
        await self._reinit()

    def on_clients_connect(self, user_ids: list[int]) -> None:
        """Op 11: members in the call (expected in MLS proposals)."""
        self.known_users.update(user_ids)

    def on_client_disconnect(self, user_id: int) -> None:
        """Op 13: a member left."""
        self.known_users.discard(user_id)

    async def on_json(self, op: int, data: dict[str, Any]) -> None:
        """Ops 21, 22 and 24."""
        if op == VoiceOp.DAVE_PREPARE_TRANSITION:
            transition_id = int(data["transition_id"])
            version = int(data["protocol_version"])
            self._pending[transition_id] = version
            if transition_id == 0:
                self._execute(transition_id)
                return
            if version == 0 and self.session is not None:
                self.session.set_passthrough_mode(True, DOWNGRADE_PASSTHROUGH_SECONDS)
            await self._transition_ready(transition_id)
        elif op == VoiceOp.DAVE_EXECUTE_TRANSITION:
            self._execute(int(data["transition_id"]))
        elif op == VoiceOp.DAVE_PREPARE_EPOCH and int(data.get("epoch", 0)) == 1:
            self.protocol_version = int(data["protocol_version"])
            await self._reinit()

    async def on_binary(self, op: int, payload: bytes) -> None:
        """Ops 25, 27, 29 and 30."""
        session = self.session
        if session is None:
            logger.debug("DAVE op {} before a session exists; ignored", op)
            return
        if op == VoiceOp.DAVE_MLS_EXTERNAL_SENDER:
            session.set_external_sender(payload)
        elif op == VoiceOp.DAVE_MLS_PROPOSALS:
            await self._on_proposals(session, payload)
        elif op in (VoiceOp.DAVE_MLS_ANNOUNCE_COMMIT_TRANSITION, VoiceOp.DAVE_MLS_WELCOME):
            if len(payload) < 2:
                return
            transition_id = struct.unpack_from(">H", payload)[0]
            try:
                if op == VoiceOp.DAVE_MLS_WELCOME:
                    session.process_welcome(payload[2:])
                else:
                    session.process_commit(payload[2:])
            except Exception as err:  # davey raises bare Exceptions on invalid MLS data
                await self._recover(transition_id, err)
                return
            logger.debug("DAVE op {} processed, epoch {}", op, session.epoch)
            if transition_id == 0:
                self._pending[0] = self.protocol_version
                self._execute(0)
            else:
                self._pending[transition_id] = self.protocol_version
                await self._transition_ready(transition_id)

    async def _on_proposals(self, session: davey.DaveSession, payload: bytes) -> None:
        if not payload:
            return
        kind = (
            davey.ProposalsOperationType.append
            if payload[0] == 0
            else davey.ProposalsOperationType.revoke
        )
        expected = sorted(self.known_users | {self.user_id}) if self.known_users else None
        try:
            result = session.process_proposals(kind, payload[1:], expected)
        except Exception as err:  # davey raises bare Exceptions on unexpected proposals
            self._fail("proposals", f"DAVE proposals rejected: {err}")
            return
        if result is not None:
            body = result.commit + (result.welcome or b"")
            await self._send_binary(VoiceOp.DAVE_MLS_COMMIT_WELCOME, body)

    def _execute(self, transition_id: int) -> None:
        if transition_id not in self._pending:
            self._fail("unknown_transition", f"DAVE execute for unknown transition {transition_id}")
            return
        old = self.protocol_version
        self.protocol_version = self._pending.pop(transition_id)
        self.transitions_executed += 1
        if self.protocol_version == 0:
            self._sending_e2ee = False
            self._downgraded = old != 0
        else:
            if self._downgraded and transition_id != 0 and self.session is not None:
                self.session.set_passthrough_mode(True, UPGRADE_PASSTHROUGH_SECONDS)
            self._downgraded = False
            self._sending_e2ee = True
        logger.info(
            "DAVE transition {} executed: version {} epoch {}",
            transition_id, self.protocol_version, self.epoch,
        )

    async def _transition_ready(self, transition_id: int) -> None:
        await self._send_json(VoiceOp.DAVE_TRANSITION_READY, {"transition_id": transition_id})

    def _fail(self, kind: str, message: str) -> None:
        self.failures[kind] += 1
        logger.warning(message)
        if self._on_failure is not None:
            self._on_failure(VoiceDaveTransitionFailed(
                message, hint="Libra re-keys on its own; rejoin the channel if audio stays lost"
            ))

    async def _recover(self, transition_id: int, err: Exception) -> None:
        self.recoveries += 1
        self._fail("invalid_commit", f"DAVE commit/welcome invalid ({err}); recovering")
        await self._send_json(
            VoiceOp.DAVE_MLS_INVALID_COMMIT_WELCOME, {"transition_id": transition_id}
        )
        await self._reinit()

    async def _reinit(self) -> None:
        self._sending_e2ee = False
        self._pending.clear()
        version = self.protocol_version
        if version > 0:
            if self.session is None:
                self.session = davey.DaveSession(version, self.user_id, self.channel_id)
            else:
                self.session.reinit(version, self.user_id, self.channel_id)
            await self._send_binary(
                VoiceOp.DAVE_MLS_KEY_PACKAGE, self.session.get_serialized_key_package()
            )
        elif self.session is not None:
            self.session.reset()
            self.session.set_passthrough_mode(True, UPGRADE_PASSTHROUGH_SECONDS)
