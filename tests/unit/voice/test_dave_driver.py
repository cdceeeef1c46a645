"""DAVE op handling at the gateway boundary: key packages, recovery, transitions."""

from __future__ import annotations

from typing import Any

import pytest

from libra.discord.voice.audio import SILENCE_FRAME
from libra.discord.voice.dave import DaveDecryptFailed, DaveDriver


class Wire:
    """Records what the driver sends to the voice gateway."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, Any]] = []

    async def json(self, op: int, data: Any) -> None:
        self.sent.append((op, data))

    async def binary(self, op: int, payload: bytes) -> None:
        self.sent.append((op, payload))

    def ops(self) -> list[int]:
        return [op for op, _ in self.sent]


@pytest.fixture
async def keyed_driver() -> tuple[DaveDriver, Wire]:
    wire = Wire()
    driver = DaveDriver(1, 2, wire.json, wire.binary)
    await driver.on_session_description(1)
    return driver, wire


async def test_session_description_sends_a_key_package(
    keyed_driver: tuple[DaveDriver, Wire],
) -> None:
    driver, wire = keyed_driver
    assert wire.ops() == [26]
    assert len(wire.sent[0][1]) > 100  # a serialized MLS KeyPackage
    assert driver.session is not None and not driver.can_encrypt


async def test_invalid_commit_sends_op_31_and_a_fresh_key_package(
    keyed_driver: tuple[DaveDriver, Wire],
) -> None:
    driver, wire = keyed_driver
    await driver.on_binary(29, b"\x00\x05" + b"not an MLS commit")
    assert wire.ops() == [26, 31, 26]
    assert wire.sent[1][1] == {"transition_id": 5}
    assert wire.sent[2][1] != wire.sent[0][1]  # key packages are never reused
    assert driver.failures["invalid_commit"] == 1 and driver.recoveries == 1


async def test_unkeyed_e2ee_call_holds_frames_but_not_silence(
    keyed_driver: tuple[DaveDriver, Wire],
) -> None:
    driver, _ = keyed_driver
    assert driver.encrypt(b"\xfc opus") is None
    assert driver.encrypt(SILENCE_FRAME) == SILENCE_FRAME
    with pytest.raises(DaveDecryptFailed) as failed:
        driver.decrypt(7, b"\xfc opus")
    assert failed.value.kind == "not_encrypted"


async def test_downgrade_transition_passes_clear_audio(
    keyed_driver: tuple[DaveDriver, Wire],
) -> None:
    driver, wire = keyed_driver
    await driver.on_json(21, {"transition_id": 3, "protocol_version": 0})
    assert wire.sent[-1] == (23, {"transition_id": 3})
    assert driver.protocol_version == 1  # not before op 22
    await driver.on_json(22, {"transition_id": 3})
    assert driver.protocol_version == 0
    assert driver.encrypt(b"\xfc opus") == b"\xfc opus"
    assert driver.decrypt(7, b"\xfc opus") == b"\xfc opus"


async def test_transition_zero_executes_at_once_and_unknown_ids_are_ignored(
    keyed_driver: tuple[DaveDriver, Wire],
) -> None:
    driver, wire = keyed_driver
    await driver.on_json(22, {"transition_id": 99})
    assert driver.transitions_executed == 0
    await driver.on_json(21, {"transition_id": 0, "protocol_version": 0})
    assert driver.transitions_executed == 1 and driver.protocol_version == 0
    assert 23 not in wire.ops()


async def test_epoch_one_reinitialises_with_a_new_key_package(
    keyed_driver: tuple[DaveDriver, Wire],
) -> None:
    driver, wire = keyed_driver
    await driver.on_json(24, {"transition_id": 4, "epoch": 1, "protocol_version": 1})
    assert wire.ops() == [26, 26]
