"""The last steps of the send path: op 5, DAVE, RTP header, transport encryption, UDP."""

from __future__ import annotations

from libra.discord.voice.crypto import TransportCipher
from libra.discord.voice.dave import DaveDriver, SendJson
from libra.discord.voice.diagnostics import VoiceDiagnostics
from libra.discord.voice.protocol import VoiceOp
from libra.discord.voice.rtp import build_header
from libra.discord.voice.udp import VoiceUdp
from libra.voice.audio import FRAME_SAMPLES


class RtpSender:
    """Turns Opus frames into encrypted RTP for one connection (the player's FrameSender).

    Sequence numbers and timestamps continue across playbacks and reconnects; the
    transport cipher's nonce counter is shared by every key of the connection.
    """

    def __init__(
        self, udp: VoiceUdp, dave: DaveDriver, diagnostics: VoiceDiagnostics, send_json: SendJson
    ) -> None:
        self._udp = udp
        self._dave = dave
        self._diag = diagnostics
        self._send_json = send_json
        self.cipher: TransportCipher | None = None
        """Set on op 4; ``None`` while (re)connecting."""
        self.ssrc: int | None = None
        """Our SSRC from op 2."""
        self._sequence = 0
        self._timestamp = 0

    async def set_speaking(self, speaking: bool) -> None:
        """Send op 5 for our SSRC (Discord drops audio from an SSRC never announced)."""
        if self.ssrc is not None:
            await self._send_json(
                VoiceOp.SPEAKING, {"speaking": 1 if speaking else 0, "delay": 0, "ssrc": self.ssrc}
            )

    def send_opus(self, opus: bytes) -> bool:
        """DAVE-encrypt (when keyed), packetise, transport-encrypt and send one frame."""
        cipher, ssrc = self.cipher, self.ssrc
        if cipher is None or ssrc is None:
            return False
        frame = self._dave.encrypt(opus)
        if frame is None:
            self._diag.frames_unsent_not_keyed += 1
            return False
        header = build_header(sequence=self._sequence, timestamp=self._timestamp, ssrc=ssrc)
        packet = cipher.encrypt(header, frame)
        self._sequence = (self._sequence + 1) & 0xFFFF
        self._timestamp = (self._timestamp + FRAME_SAMPLES) & 0xFFFFFFFF
        self._udp.send(packet)
        self._diag.packets_out += 1
        self._diag.bytes_out += len(packet)
        return True
