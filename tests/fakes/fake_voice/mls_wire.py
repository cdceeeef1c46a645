"""RFC 9420 wire encoding for the voice gateway's role as MLS external sender.

Only what the DAVE delivery service needs is here: the TLS presentation language
primitives (with MLS variable-size vector headers, RFC 9420 §2.1.2), the
`ExternalSender` of opcode 25, external Add/Remove proposals framed as a signed
`PublicMessage` inside an `MLSMessage` (§6), `ProposalRef` hashing (§5.2), and just
enough parsing of key packages and commits to validate identities, find where a
commit ends inside opcode 28, and learn which proposals a commit applied.

Ciphersuite 2 (DHKEMP256_AES128GCM_SHA256_P256): SHA-256 and ECDSA P-256 with
DER signatures, public keys as uncompressed SEC1 points.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

MLS10 = 1
CIPHERSUITE_P256 = 2
WIRE_PUBLIC_MESSAGE = 1
WIRE_WELCOME = 3
WIRE_KEY_PACKAGE = 5
SENDER_MEMBER = 1
SENDER_EXTERNAL = 2
CONTENT_PROPOSAL = 2
CONTENT_COMMIT = 3
PROPOSAL_ADD = 1
PROPOSAL_REMOVE = 3
CREDENTIAL_BASIC = 1


class MlsDecodeError(ValueError):
    """A structure on the wire did not parse as RFC 9420 says it should."""


def encode_varint(n: int) -> bytes:
    """MLS variable-length vector header (RFC 9420 §2.1.2)."""
    if n < 1 << 6:
        return bytes([n])
    if n < 1 << 14:
        return struct.pack(">H", 0x4000 | n)
    if n < 1 << 30:
        return struct.pack(">I", 0x8000_0000 | n)
    raise ValueError(f"vector too long for MLS: {n}")


def opaque(data: bytes) -> bytes:
    """`opaque data<V>`: a varint length then the bytes."""
    return encode_varint(len(data)) + data


class Reader:
    """Cursor over a TLS-encoded buffer that raises `MlsDecodeError` on truncation."""

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data = data
        self.pos = pos

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise MlsDecodeError(f"truncated at {self.pos}: wanted {n} bytes")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return int(struct.unpack(">H", self.take(2))[0])

    def u32(self) -> int:
        return int(struct.unpack(">I", self.take(4))[0])

    def u64(self) -> int:
        return int(struct.unpack(">Q", self.take(8))[0])

    def varint(self) -> int:
        first = self.u8()
        prefix = first >> 6
        if prefix == 0:
            return first
        if prefix == 1:
            return ((first & 0x3F) << 8) | self.u8()
        if prefix == 2:
            rest = self.take(3)
            return ((first & 0x3F) << 24) | int.from_bytes(rest, "big")
        raise MlsDecodeError("invalid varint prefix 0b11")

    def opaque(self) -> bytes:
        return self.take(self.varint())

    def at_end(self) -> bool:
        return self.pos >= len(self.data)


def sign_with_label(key: ec.EllipticCurvePrivateKey, label: str, content: bytes) -> bytes:
    """SignWithLabel (RFC 9420 §5.1.2) with ECDSA P-256/SHA-256, DER-encoded."""
    sign_content = opaque(b"MLS 1.0 " + label.encode()) + opaque(content)
    return key.sign(sign_content, ec.ECDSA(hashes.SHA256()))


def ref_hash(label: str, value: bytes) -> bytes:
    """RefHash (RFC 9420 §5.2) with SHA-256."""
    return hashlib.sha256(opaque(b"MLS 1.0 " + label.encode()) + opaque(value)).digest()


@dataclass
class ExternalSenderKey:
    """The voice gateway's external-sender identity: a basic credential and a P-256 key."""

    identity: bytes = b"fake-voice-gateway"
    private_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )

    def public_key_bytes(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )

    def package(self) -> bytes:
        """`ExternalSender` as carried by opcode 25 (after sequence and opcode)."""
        credential = struct.pack(">H", CREDENTIAL_BASIC) + opaque(self.identity)
        return opaque(self.public_key_bytes()) + credential


@dataclass(frozen=True)
class SignedProposal:
    """An external proposal as broadcast (`MLSMessage`) plus its `ProposalRef`."""

    message: bytes
    ref: bytes
    kind: int
    user_id: int | None = None
    removed_leaf: int | None = None


def external_proposal(
    sender: ExternalSenderKey, group_id: bytes, epoch: int, proposal: bytes
) -> tuple[bytes, bytes]:
    """Frame and sign `proposal` from external sender 0; returns (MLSMessage, ProposalRef)."""
    content = (
        opaque(group_id)
        + struct.pack(">Q", epoch)
        + struct.pack(">BI", SENDER_EXTERNAL, 0)
        + opaque(b"")
        + bytes([CONTENT_PROPOSAL])
        + proposal
    )
    wire_format = struct.pack(">H", WIRE_PUBLIC_MESSAGE)
    # FramedContentTBS carries no GroupContext for external senders (§6.1).
    tbs = struct.pack(">H", MLS10) + wire_format + content
    auth = opaque(sign_with_label(sender.private_key, "FramedContentTBS", tbs))
    # Members of a PublicMessage carry a membership tag; external senders do not.
    message = struct.pack(">H", MLS10) + wire_format + content + auth
    authenticated_content = wire_format + content + auth
    return message, ref_hash("Proposal Reference", authenticated_content)


def add_proposal(
    sender: ExternalSenderKey, group_id: bytes, epoch: int, key_package: bytes, user_id: int
) -> SignedProposal:
    message, ref = external_proposal(
        sender, group_id, epoch, struct.pack(">H", PROPOSAL_ADD) + key_package
    )
    return SignedProposal(message=message, ref=ref, kind=PROPOSAL_ADD, user_id=user_id)


def remove_proposal(
    sender: ExternalSenderKey, group_id: bytes, epoch: int, leaf: int, user_id: int
) -> SignedProposal:
    message, ref = external_proposal(
        sender, group_id, epoch, struct.pack(">HI", PROPOSAL_REMOVE, leaf)
    )
    return SignedProposal(
        message=message, ref=ref, kind=PROPOSAL_REMOVE, user_id=user_id, removed_leaf=leaf
    )


def proposals_append_payload(proposals: list[SignedProposal]) -> bytes:
    """Opcode 27 payload for `append`: `MLSMessage proposal_messages<V>`."""
    return bytes([0]) + opaque(b"".join(p.message for p in proposals))


def proposals_revoke_payload(refs: list[bytes]) -> bytes:
    """Opcode 27 payload for `revoke`: `ProposalRef proposal_refs<V>`."""
    return bytes([1]) + opaque(b"".join(opaque(r) for r in refs))


def _skip_credential(r: Reader) -> bytes:
    ctype = r.u16()
    if ctype != CREDENTIAL_BASIC:
        raise MlsDecodeError(f"credential type {ctype} is not basic")
    return r.opaque()


@dataclass(frozen=True)
class LeafInfo:
    identity: bytes
    signature_key: bytes
    lifetime: tuple[int, int] | None


def _skip_leaf_node(r: Reader) -> LeafInfo:
    """Parse a LeafNode (§7.2)."""
    r.opaque()  # encryption_key
    signature_key = r.opaque()
    identity = _skip_credential(r)
    for _ in range(5):  # capabilities: versions, suites, extensions, proposals, credentials
        r.opaque()
    source = r.u8()
    lifetime = None
    if source == 1:
        lifetime = (r.u64(), r.u64())
    elif source == 3:
        r.opaque()  # parent_hash
    elif source != 2:
        raise MlsDecodeError(f"unknown leaf node source {source}")
    r.opaque()  # extensions
    r.opaque()  # signature
    return LeafInfo(identity, signature_key, lifetime)


def verify_with_label(public_point: bytes, label: str, content: bytes, signature: bytes) -> bool:
    """VerifyWithLabel (RFC 9420 §5.1.2) for a P-256 key given as an uncompressed point."""
    try:
        key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), public_point)
        key.verify(
            signature,
            opaque(b"MLS 1.0 " + label.encode()) + opaque(content),
            ec.ECDSA(hashes.SHA256()),
        )
    except (ValueError, InvalidSignature):
        return False
    return True


@dataclass(frozen=True)
class KeyPackageInfo:
    """What the gateway validates in a key package (DAVE whitepaper, Key Packages)."""

    raw: bytes
    user_id: int
    cipher_suite: int
    lifetime: tuple[int, int] | None
    signature_valid: bool


def parse_key_package(data: bytes) -> KeyPackageInfo:
    """Accept a raw `KeyPackage` or one wrapped in an `MLSMessage`; return the raw form."""
    r = Reader(data)
    if len(data) >= 4 and struct.unpack(">HH", data[:4]) == (MLS10, WIRE_KEY_PACKAGE):
        r.pos = 4
    start = r.pos
    if r.u16() != MLS10:
        raise MlsDecodeError("key package is not MLS 1.0")
    suite = r.u16()
    r.opaque()  # init_key
    leaf = _skip_leaf_node(r)
    r.opaque()  # extensions
    tbs_end = r.pos
    signature = r.opaque()
    if len(leaf.identity) != 8:
        raise MlsDecodeError(f"credential identity is {len(leaf.identity)} bytes, not a u64")
    return KeyPackageInfo(
        raw=data[start : r.pos],
        user_id=int.from_bytes(leaf.identity, "big"),
        cipher_suite=suite,
        lifetime=leaf.lifetime,
        signature_valid=verify_with_label(
            leaf.signature_key, "KeyPackageTBS", data[start:tbs_end], signature
        ),
    )


@dataclass(frozen=True)
class CommitInfo:
    """The parts of a public commit the delivery service checks."""

    message: bytes
    group_id: bytes
    epoch: int
    committer_leaf: int
    proposal_refs: list[bytes]
    inline_proposal_types: list[int]
    rest: bytes


def parse_commit(data: bytes) -> CommitInfo:
    """Parse an `MLSMessage` carrying a public Commit; `rest` is what follows it (a Welcome)."""
    r = Reader(data)
    if r.u16() != MLS10 or r.u16() != WIRE_PUBLIC_MESSAGE:
        raise MlsDecodeError("commit is not an MLS 1.0 PublicMessage")
    group_id = r.opaque()
    epoch = r.u64()
    sender_type = r.u8()
    if sender_type != SENDER_MEMBER:
        raise MlsDecodeError(f"commit sender type {sender_type} is not member")
    leaf = r.u32()
    r.opaque()  # authenticated_data
    if r.u8() != CONTENT_COMMIT:
        raise MlsDecodeError("content type is not commit")
    refs: list[bytes] = []
    inline: list[int] = []
    proposals = Reader(r.opaque())
    while not proposals.at_end():
        kind = proposals.u8()
        if kind == 2:
            refs.append(proposals.opaque())
        elif kind == 1:
            # Inline proposals are not allowed in DAVE; record the type and stop parsing them.
            inline.append(proposals.u16())
            break
        else:
            raise MlsDecodeError(f"unknown ProposalOrRef type {kind}")
    if r.u8() == 1:  # optional<UpdatePath>
        _skip_leaf_node(r)
        r.opaque()  # UpdatePathNode nodes<V>
    r.opaque()  # signature
    r.opaque()  # confirmation_tag
    r.opaque()  # membership_tag (member sender)
    return CommitInfo(
        message=data[: r.pos],
        group_id=group_id,
        epoch=epoch,
        committer_leaf=leaf,
        proposal_refs=refs,
        inline_proposal_types=inline,
        rest=data[r.pos :],
    )
