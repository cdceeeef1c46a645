"""Voice ports: what the voice pipeline needs from a voice transport, and nothing more.

Media flows as streams, control as events: received audio reaches a consumer through
:meth:`VoiceLink.audio` (one ordered, bounded stream per speaker), playback takes an
async iterable of PCM, and the bus carries only the facts around them
(``VoiceConnected``, ``VoiceSpeakingStarted``/``Stopped``, ``VoiceFailed``,
``VoiceDisconnected``). Dependency neutral on purpose: no hikari, no sockets.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True, kw_only=True)
class AudioChunk:
    """Decoded PCM from one member (48 kHz, stereo, s16le), ``voice.receive_chunk_ms`` long.

    The last chunk of a talk spurt may be shorter (whole 20 ms frames); ``sequence``
    is the RTP sequence number of the chunk's first frame.
    """

    guild_id: int
    user_id: int
    pcm: bytes
    sequence: int


class Playback(Protocol):
    """One running playback started by :meth:`VoiceLink.play`."""

    @property
    def done(self) -> bool:
        """Whether playback has finished (or was stopped)."""
        ...

    def stop(self) -> None:
        """Interrupt playback now (barge-in)."""
        ...

    async def wait(self) -> None:
        """Wait until the playback has been sent to the end."""
        ...


class VoiceLink(Protocol):
    """One guild's live voice connection, as the voice pipeline sees it.

    Received audio: :meth:`speakers` announces each member whose audio starts
    arriving, :meth:`audio` yields one member's chunks in sequence order. Each
    member's buffer is bounded: a consumer that falls behind loses the *oldest*
    chunks (counted in the snapshot's ``audio_dropped``), it never blocks the socket
    reader nor grows memory. Audio is buffered only while someone listens (a
    :meth:`speakers` iterator or the member's :meth:`audio` iterator is open).
    """

    @property
    def guild_id(self) -> int:
        """The guild of this connection."""
        ...

    @property
    def channel_id(self) -> int:
        """The voice channel the connection is in."""
        ...

    @property
    def is_alive(self) -> bool:
        """Whether the connection has not closed for good."""
        ...

    def speakers(self) -> AsyncIterator[int]:
        """Yield the user id of every member whose received audio stream opens.

        Members already buffered come first; ends when the connection closes.
        """
        ...

    def audio(self, user_id: int) -> AsyncIterator[AudioChunk]:
        """Yield ``user_id``'s received audio in order.

        Ends when the member leaves the channel or the connection closes (after the
        chunks still buffered). One consumer per member at a time.
        """
        ...

    async def play(self, source: AsyncIterable[bytes], timeout: float = 10.0) -> Playback:
        """Play 48 kHz stereo s16le PCM (any chunk size); a playback in progress stops."""
        ...

    async def stop(self) -> None:
        """Stop the current playback, if any, and wait for its closing silence."""
        ...

    async def wait_media_ready(self, timeout: float = 10.0) -> None:
        """Wait until audio can be sent."""
        ...

    def snapshot(self) -> dict[str, Any]:
        """Diagnostics for ``/voice status``, metrics and logs (JSON-ready)."""
        ...

    async def disconnect(self) -> None:
        """Leave the channel and wait until the connection has closed (idempotent)."""
        ...


class VoiceRegistry(Protocol):
    """The live voice links, one per guild, for commands, status pages and metrics."""

    def get(self, guild_id: int) -> VoiceLink | None:
        """The guild's live link, if any."""
        ...

    def links(self) -> list[VoiceLink]:
        """Every live link, by guild id order."""
        ...

    def snapshots(self) -> list[dict[str, Any]]:
        """Every live link's diagnostics, by guild id order."""
        ...

    def __len__(self) -> int:
        """How many links are live."""
        ...
