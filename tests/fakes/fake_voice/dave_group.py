"""The voice gateway as DAVE delivery service and MLS external sender.

Follows the DAVE whitepaper (discord/dave-protocol `protocol.md`): the gateway
announces its external sender (op 25), turns key packages (op 26) into external Add
proposals and departures into Remove proposals (op 27), broadcasts the first valid
commit of each epoch (op 29) and the welcome to joiners (op 30), waits for op 23
from every recipient (or a timeout) and then sends op 22. With no established group
each pending member receives Add proposals for the *other* pending members, so any
of them may create the group; the first commit wins. A sole remaining member gets
op 24 (epoch 1) and op 21 (transition 0) and the group is forgotten.

Members are reached through `MemberLink`s: the bot's gateway session, or a fake
peer that drives its own `davey.DaveSession` the way a client would.
"""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass, field
from typing import Any, Protocol

from tests.fakes.fake_voice import mls_wire
from tests.fakes.fake_voice.mls_wire import ExternalSenderKey, KeyPackageInfo, SignedProposal

OP_PREPARE_TRANSITION, OP_EXECUTE_TRANSITION, OP_PREPARE_EPOCH = 21, 22, 24
OP_EXTERNAL_SENDER, OP_PROPOSALS, OP_ANNOUNCE_COMMIT, OP_WELCOME = 25, 27, 29, 30


class MemberLink(Protocol):
    """A connected call member as seen by the delivery service."""

    user_id: int

    def dave_binary(self, op: int, payload: bytes) -> None:
        """Send a binary DAVE opcode (the link adds the sequence number)."""

    def dave_json(self, op: int, data: dict[str, Any]) -> None:
        """Send a JSON DAVE opcode."""


@dataclass
class Transition:
    """A broadcast commit waiting for op 23 from each recipient."""

    transition_id: int
    epoch: int
    awaiting: set[int]
    timer: asyncio.TimerHandle | None = None


@dataclass
class DaveRecord:
    """What happened in the group, for assertions."""

    commits: list[tuple[int, int, int]] = field(default_factory=list)
    """(committer user id, epoch the commit was for, transition id) of each winner."""
    losing_commits: list[int] = field(default_factory=list)
    """User ids whose commit arrived after a winner or for a stale epoch."""
    welcomes: list[tuple[int, int]] = field(default_factory=list)
    """(user id, transition id) of each op 30 sent."""
    ready: list[tuple[int, int]] = field(default_factory=list)
    """(user id, transition id) of each op 23 received."""
    executed: list[int] = field(default_factory=list)
    """Transition ids executed with op 22."""
    timed_out: list[int] = field(default_factory=list)
    """Transition ids executed by timeout because someone never sent op 23."""
    key_packages: list[int] = field(default_factory=list)
    """User id of each key package received."""
    invalid: list[tuple[int, int]] = field(default_factory=list)
    """(user id, transition id) of each op 31 received."""
    violations: list[str] = field(default_factory=list)
    """Protocol violations by members (bad key package, invalid commit...)."""


class DaveDeliveryService:
    """MLS group bookkeeping for one call; see the module docstring."""

    def __init__(self, channel_id: int, protocol_version: int, transition_timeout: float) -> None:
        self.group_id = struct.pack(">Q", channel_id)
        self.protocol_version = protocol_version
        self.transition_timeout = transition_timeout
        self.sender = ExternalSenderKey()
        self.record = DaveRecord()
        self.links: dict[int, MemberLink] = {}
        self.established = False
        self.epoch = 0
        self.leaves: list[int | None] = []
        self.transition: Transition | None = None
        self._key_packages: dict[int, KeyPackageInfo] = {}
        self._departed: set[int] = set()
        self._epoch_proposals: list[SignedProposal] = []
        self._sent: dict[int, list[SignedProposal]] = {}
        self._next_transition = 1
        self.closed = False

    # ---- membership -------------------------------------------------------------
    def members(self) -> list[int]:
        """User ids holding a leaf in the established group."""
        return [u for u in self.leaves if u is not None]

    def connect(self, link: MemberLink) -> None:
        self.links[link.user_id] = link
        link.dave_binary(OP_EXTERNAL_SENDER, self.sender.package())

    def disconnect(self, user_id: int) -> None:
        self.links.pop(user_id, None)
        self._forget_key_package(user_id)
        if user_id in self.leaves:
            self._departed.add(user_id)
        self._propose()

    def recreate_group(self) -> None:
        """Announce a new group (op 24, epoch 1) to everyone and start over."""
        self._reset()
        for link in list(self.links.values()):
            link.dave_json(
                OP_PREPARE_EPOCH, {"epoch": 1, "protocol_version": self.protocol_version}
            )

    def close(self) -> None:
        """Stop reacting: late answers from peers (delayed commits) are ignored."""
        self.closed = True
        if self.transition is not None and self.transition.timer is not None:
            self.transition.timer.cancel()

    # ---- inputs from members ----------------------------------------------------
    def on_key_package(self, user_id: int, data: bytes) -> None:
        if self.closed:
            return
        self.record.key_packages.append(user_id)
        try:
            info = mls_wire.parse_key_package(data)
        except mls_wire.MlsDecodeError as err:
            self.record.violations.append(f"user {user_id}: bad key package: {err}")
            return
        if info.user_id != user_id:
            self.record.violations.append(
                f"user {user_id}: key package credential is user {info.user_id}"
            )
            return
        if info.cipher_suite != mls_wire.CIPHERSUITE_P256:
            self.record.violations.append(f"user {user_id}: ciphersuite {info.cipher_suite}")
            return
        if not info.signature_valid:
            self.record.violations.append(f"user {user_id}: key package signature is invalid")
            return
        if info.lifetime != (0, 2**64 - 1):  # whitepaper: the maximum span is required
            self.record.violations.append(f"user {user_id}: key package lifetime {info.lifetime}")
            return
        if user_id in self.leaves:
            self._departed.add(user_id)  # re-added with a fresh key package
        self._forget_key_package(user_id)
        self._key_packages[user_id] = info
        self._propose()

    def on_commit_welcome(self, user_id: int, data: bytes) -> None:
        if self.closed:
            return
        try:
            commit = mls_wire.parse_commit(data)
        except mls_wire.MlsDecodeError as err:
            self.record.violations.append(f"user {user_id}: bad commit: {err}")
            return
        if self.transition is not None or commit.epoch != self.epoch:
            self.record.losing_commits.append(user_id)
            return
        expected = self._epoch_proposals if self.established else self._sent.get(user_id, [])
        by_ref = {p.ref: p for p in expected}
        problem = self._commit_problem(user_id, commit, by_ref)
        if problem:
            self.record.violations.append(f"user {user_id}: commit refused: {problem}")
            return
        applied = [by_ref[r] for r in commit.proposal_refs]
        added = [p.user_id for p in applied if p.kind == mls_wire.PROPOSAL_ADD]
        if added and not commit.rest:
            self.record.violations.append(f"user {user_id}: commit adds members but no welcome")
            return
        self._apply(user_id, applied)
        self._broadcast(user_id, commit, [u for u in added if u is not None])

    def on_ready(self, user_id: int, transition_id: int) -> None:
        if self.closed:
            return
        self.record.ready.append((user_id, transition_id))
        if self.transition is not None and self.transition.transition_id == transition_id:
            self.transition.awaiting.discard(user_id)
            if not self.transition.awaiting:
                self._execute(timed_out=False)

    def on_invalid(self, user_id: int, transition_id: int) -> None:
        """Op 31: remove the member; it re-joins with the key package it sends next."""
        if self.closed:
            return
        self.record.invalid.append((user_id, transition_id))
        if user_id in self.leaves:
            self._departed.add(user_id)
        if self.transition is not None:
            self.transition.awaiting.discard(user_id)
            if not self.transition.awaiting:
                self._execute(timed_out=False)
                return
        self._propose()

    # ---- internals --------------------------------------------------------------
    def _commit_problem(
        self, user_id: int, commit: mls_wire.CommitInfo, by_ref: dict[bytes, SignedProposal]
    ) -> str:
        if commit.group_id != self.group_id:
            return f"group id {commit.group_id.hex()} is not the channel id"
        if commit.inline_proposal_types:
            return f"inline proposals {commit.inline_proposal_types}"
        if not commit.proposal_refs:
            return "no proposal references"
        if set(commit.proposal_refs) != set(by_ref):
            return "does not reference exactly the proposals broadcast this epoch"
        if self.established and self.leaves[commit.committer_leaf : commit.committer_leaf + 1] != [
            user_id
        ]:
            return f"sender leaf {commit.committer_leaf} is not the committer's leaf"
        return ""

    def _apply(self, committer: int, applied: list[SignedProposal]) -> None:
        if not self.established:
            self.leaves = [committer]  # the creator is leaf 0 of its own group
        for p in applied:  # RFC 9420 §12.3: removes before adds
            if p.kind == mls_wire.PROPOSAL_REMOVE and p.removed_leaf is not None:
                self.leaves[p.removed_leaf] = None
                self._departed.discard(p.user_id or 0)
        for p in applied:
            if p.kind == mls_wire.PROPOSAL_ADD:
                blank = next((i for i, u in enumerate(self.leaves) if u is None), None)
                if blank is None:
                    self.leaves.append(p.user_id)
                else:
                    self.leaves[blank] = p.user_id
        while self.leaves and self.leaves[-1] is None:
            self.leaves.pop()
        for uid in self.members():  # the creator's key package was never proposed to itself
            self._key_packages.pop(uid, None)

    def _broadcast(self, committer: int, commit: mls_wire.CommitInfo, added: list[int]) -> None:
        old = [committer] if not self.established else [u for u in self.members() if u not in added]
        self.established = True
        self.epoch = commit.epoch + 1
        self._epoch_proposals = []
        self._sent = {}
        tid = self._next_transition
        self._next_transition = tid % 0xFFFF + 1
        self.record.commits.append((committer, commit.epoch, tid))
        recipients = {u for u in old + added if u in self.links}
        self.transition = Transition(tid, self.epoch, set(recipients))
        header = struct.pack(">H", tid)
        for uid in old:
            if uid in self.links:
                self.links[uid].dave_binary(OP_ANNOUNCE_COMMIT, header + commit.message)
        for uid in added:
            if uid in self.links:
                self.record.welcomes.append((uid, tid))
                self.links[uid].dave_binary(OP_WELCOME, header + commit.rest)
        loop = asyncio.get_running_loop()
        self.transition.timer = loop.call_later(self.transition_timeout, self._execute, True)
        if not recipients:
            self._execute(timed_out=False)

    def _execute(self, timed_out: bool) -> None:
        transition, self.transition = self.transition, None
        if transition is None:
            return
        if transition.timer is not None:
            transition.timer.cancel()
        if timed_out:
            self.record.timed_out.append(transition.transition_id)
        self.record.executed.append(transition.transition_id)
        for uid in self.members():
            if uid in self.links:
                self.links[uid].dave_json(
                    OP_EXECUTE_TRANSITION, {"transition_id": transition.transition_id}
                )
        self._propose()

    def _propose(self) -> None:
        if self.transition is not None:
            return  # proposals for the next epoch wait until this transition executes
        if self.established:
            self._propose_established()
        else:
            self._propose_initial()

    def _propose_established(self) -> None:
        staying = [u for u in self.members() if u not in self._departed and u in self.links]
        if len(staying) <= 1 and self._departed:
            self._sole_member_reset(staying)
            return
        proposed = {(p.kind, p.user_id) for p in self._epoch_proposals}
        new: list[SignedProposal] = []
        for uid in sorted(self._departed):
            if (mls_wire.PROPOSAL_REMOVE, uid) not in proposed and uid in self.leaves:
                leaf = self.leaves.index(uid)
                new.append(
                    mls_wire.remove_proposal(self.sender, self.group_id, self.epoch, leaf, uid)
                )
        for uid, info in self._key_packages.items():
            if (mls_wire.PROPOSAL_ADD, uid) not in proposed and uid in self.links:
                new.append(
                    mls_wire.add_proposal(self.sender, self.group_id, self.epoch, info.raw, uid)
                )
        if not new:
            return
        self._epoch_proposals.extend(new)
        payload = mls_wire.proposals_append_payload(new)
        for uid in staying:
            self.links[uid].dave_binary(OP_PROPOSALS, payload)

    def _propose_initial(self) -> None:
        pending = [u for u in self._key_packages if u in self.links]
        for recipient in pending:
            sent = self._sent.setdefault(recipient, [])
            have = {p.user_id for p in sent}
            new = [
                mls_wire.add_proposal(self.sender, self.group_id, 0, self._key_packages[u].raw, u)
                for u in pending
                if u != recipient and u not in have
            ]
            if new:
                sent.extend(new)
                self.links[recipient].dave_binary(
                    OP_PROPOSALS, mls_wire.proposals_append_payload(new)
                )

    def _forget_key_package(self, user_id: int) -> None:
        """Revoke in-flight Add proposals carrying this user's previous key package."""
        if self._key_packages.pop(user_id, None) is None:
            return
        for recipient, sent in self._sent.items():
            stale = [p for p in sent if p.user_id == user_id]
            if stale and recipient in self.links:
                self._sent[recipient] = [p for p in sent if p.user_id != user_id]
                self.links[recipient].dave_binary(
                    OP_PROPOSALS, mls_wire.proposals_revoke_payload([p.ref for p in stale])
                )
        stale_epoch = [p for p in self._epoch_proposals if p.user_id == user_id and p.kind == 1]
        if stale_epoch:
            self._epoch_proposals = [p for p in self._epoch_proposals if p not in stale_epoch]
            payload = mls_wire.proposals_revoke_payload([p.ref for p in stale_epoch])
            for uid in self.members():
                if uid in self.links and uid != user_id:
                    self.links[uid].dave_binary(OP_PROPOSALS, payload)

    def _sole_member_reset(self, staying: list[int]) -> None:
        # A member still waiting to join (its new session's key package came while a
        # transition was pending) is told nothing by op 24, so it never sends another
        # key package: it must keep the one it sent, or the new group is never made.
        joining = {
            uid: info for uid, info in self._key_packages.items()
            if uid in self.links and uid not in staying
        }
        self._reset()
        self._key_packages.update(joining)
        for uid in staying:
            version = self.protocol_version
            self.links[uid].dave_json(OP_PREPARE_EPOCH, {"epoch": 1, "protocol_version": version})
            self.links[uid].dave_json(
                OP_PREPARE_TRANSITION, {"transition_id": 0, "protocol_version": version}
            )

    def _reset(self) -> None:
        self.established = False
        self.epoch = 0
        self.leaves = []
        self._departed.clear()
        self._epoch_proposals = []
        self._sent = {}
        self._key_packages.clear()
