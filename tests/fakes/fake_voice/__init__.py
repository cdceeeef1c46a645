"""A faithful fake Discord voice server (gateway v8 + UDP SFU + DAVE/MLS) for tests.

It is written from the primary sources (discord-api-docs `voice-connections.mdx`
and `opcodes-and-status-codes.mdx`, the DAVE whitepaper, RFC 9420) and shares no
code with `libra/discord/voice/`, so it catches the client's misreadings.

What one `FakeVoiceServer` is:

* **Gateway** (`gateway.py`): aiohttp websocket on `127.0.0.1`, random port, at
  `/?v=8` (anything else is closed with 4020). HELLO → IDENTIFY (must match the
  `CallIdentity`; missing `max_dave_protocol_version` → 4017) → READY (ssrc, ip,
  port, the configured `modes`) → SELECT PROTOCOL (unoffered mode → 4016) →
  SESSION DESCRIPTION (`mode`, `secret_key`, `dave_protocol_version`) → op 11 for
  users already present → op 25. Heartbeats (`{t, seq_ack}`) get op 6; no
  heartbeat for two intervals closes 4009. Numbered messages are buffered, and
  op 7 RESUME on a new socket gets op 9 plus everything after `seq_ack`.
* **SFU** (`udp.py`): answers IP discovery, drops audio before op 5 (counted),
  transport-decrypts every bot packet (AES-256-GCM via `cryptography`,
  XChaCha20-Poly1305 via PyNaCl), records nonce-counter regressions and frames
  without DAVE, and hands frames to the peers; forwards peers' packets to the
  address the bot gave in SELECT PROTOCOL, encrypted with the bot's key.
* **DAVE delivery service** (`dave_group.py`, `mls_wire.py`): the external sender
  (P-256 key made with `cryptography`), signed external Add/Remove proposals
  (group id = channel id as a big-endian u64), first commit per epoch wins, op 29
  to existing members, op 30 to joiners, op 22 once every recipient sent op 23 (or
  after `transition_timeout`), sole-member reset with op 24 + op 21, op 31 → re-add.
* **Peers** (`peer.py`): Discord users with real `davey.DaveSession`s, who speak PCM
  (Opus → `encrypt_opus` → RTP with a `0xBEDE` extension, padding, optional loss,
  jitter, reordering) and decode what the bot sends them.

Connecting a client: `server.endpoint` is `ws://127.0.0.1:PORT` (scheme included,
because tests have no TLS). Put it in the fake main gateway's VOICE_SERVER_UPDATE;
hikari then hands the client `"wss://" + endpoint`, i.e. `wss://ws://127.0.0.1:PORT`.
A client should therefore treat an endpoint whose remainder after `wss://` already
has a scheme (`ws://`, `wss://`) as a complete base URL, and in all cases connect to
`<base>/?v=8`. `server.host` is the scheme-less `127.0.0.1:PORT` form.

Usage::

    identity = CallIdentity(guild_id=g, channel_id=c, user_id=bot_id,
                            session_id="voice-session", token="voice-token")
    async with FakeVoiceServer(identity) as server:
        alice = await server.add_peer(1001)            # already in the call
        ...connect the bot's voice client to server.endpoint...
        await server.wait_for(server.bot_in_group, what="bot joined the MLS group")
        await alice.speak(pcm_48k_stereo)              # the bot should hear this
        await server.wait_for(lambda: len(alice.heard_pcm(bot_id)) > 0)
        assert server.udp.record.nonce_violations == []
        await server.close_bot(4015)                   # client should resume (op 7)
        await server.wait_for(lambda: server.gateway.record.resumes == 1)

Records for assertions: `server.gateway.record` (identifies, resumes, heartbeats,
speaking payloads, close codes), `server.udp.record` (packets, refusals, nonce
violations, unencrypted frames), `server.dave.record` (commits, welcomes, op 23s,
executed/timed-out transitions, violations), and each peer's `log` and `heard`.

Fixtures (`fixtures.py`, re-exported by `tests/e2e/voice/conftest.py`):
`voice_identity`, `fake_voice_server`, `fake_peer`, and the factory
`make_fake_voice_server(identity=None, **options)`. Useful options: `modes=(XCHACHA,)`,
`heartbeat_ms`, `transition_timeout`, `peer_commit_delay` (peers commit late, so the
bot's op 28 wins the epoch). Peers take `NetworkConditions(loss, reorder, jitter_ms,
padding_every, duplicate_every, first_packet_after, seed)`; `first_packet_after=1`
sends each talk spurt as 2, 1, 3, 4… (the peer's `log.spurt_starts` has each
spurt's first sequence number).

Facts a client must live with (all real): the commit winner is whoever is first;
a DAVE decryptor (davey, like libdave) rejects a frame older than the first frame it
decrypted from that sender, so reordering right at the start of a stream costs a
frame unless the client reorders before DAVE decryption; the silence frame
`F8 FF FE` is never DAVE-encrypted.

Simplified on purpose: one bot per server; op 30 carries the whole Welcome (not a
per-joiner subset); peers pause sending between processing a commit and op 22
(davey 0.1.7 switches keys at commit time, real clients at op 22); op 5 for a peer is
sent each time it starts speaking; no op 12/18/20, no video, no RTCP from the fake.

Moving the bot to another voice server: start a second `FakeVoiceServer` with the
same identity (or a new token), make the fake main gateway send a fresh
VOICE_SERVER_UPDATE carrying `second.endpoint`, and `await first.close_bot(4014)`
(or 4022, "call terminated / voice server changed"); peers of the first server do
not follow automatically — add them to the second one.
"""

from tests.fakes.fake_voice.peer import FakePeer, NetworkConditions
from tests.fakes.fake_voice.server import CallIdentity, FakeVoiceServer
from tests.fakes.fake_voice.transport import AES_GCM, SUPPORTED_MODES, XCHACHA

__all__ = [
    "AES_GCM",
    "SUPPORTED_MODES",
    "XCHACHA",
    "CallIdentity",
    "FakePeer",
    "FakeVoiceServer",
    "NetworkConditions",
]
