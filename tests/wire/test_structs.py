"""The numpy dtypes must be byte-identical to the flatc-generated struct layout."""

from __future__ import annotations

import flatbuffers
import numpy as np
import pytest

from gameserver.wire.fb import EntityState as fb_entity_state
from gameserver.wire.fb import InputFrame as fb_input_frame
from gameserver.wire.fb.EntityState import EntityState
from gameserver.wire.fb.InputFrame import InputFrame
from gameserver.wire.structs import ENTITY_STATE_DTYPE, INPUT_FRAME_DTYPE


def test_sizes_match_generated() -> None:
    assert ENTITY_STATE_DTYPE.itemsize == EntityState.SizeOf() == 20
    assert INPUT_FRAME_DTYPE.itemsize == InputFrame.SizeOf() == 20


def test_entity_state_generated_to_numpy() -> None:
    b = flatbuffers.Builder(64)
    values = (0xDEADBEEF, 1, 0b101, 77, 42, 1.5, -2.25, 3.125)
    fb_entity_state.CreateEntityState(b, *values)
    raw = bytes(b.Bytes[b.Head() : b.Head() + 20])
    rec = np.frombuffer(raw, dtype=ENTITY_STATE_DTYPE)[0]
    assert tuple(rec.tolist()) == values


def test_entity_state_numpy_to_generated() -> None:
    arr = np.zeros(1, dtype=ENTITY_STATE_DTYPE)
    arr[0] = (123456, 1, 3, 99, 60, 10.5, -20.75, 0.5)
    s = EntityState()
    s.Init(bytearray(arr.tobytes()), 0)
    got = (s.Id(), s.Kind(), s.Flags(), s.HealthPct(), s.Level(), s.X(), s.Y(), s.Facing())
    assert got == (123456, 1, 3, 99, 60, 10.5, -20.75, 0.5)


def test_input_frame_both_ways() -> None:
    b = flatbuffers.Builder(64)
    values = (987654, 33, 1, 4.5, 5.5, -6.5)
    fb_input_frame.CreateInputFrame(b, *values)
    raw = bytes(b.Bytes[b.Head() : b.Head() + 20])
    assert tuple(np.frombuffer(raw, dtype=INPUT_FRAME_DTYPE)[0].tolist()) == values
    arr = np.array([values], dtype=INPUT_FRAME_DTYPE)
    f = InputFrame()
    f.Init(bytearray(arr.tobytes()), 0)
    assert (f.Seq(), f.DtMs(), f.Flags(), f.X(), f.Y(), f.Facing()) == values


@pytest.mark.parametrize("dtype", [ENTITY_STATE_DTYPE, INPUT_FRAME_DTYPE])
def test_little_endian(dtype: np.dtype) -> None:
    for name in dtype.names or ():
        assert dtype.fields is not None
        assert dtype.fields[name][0].byteorder in ("<", "|", "=")
        if dtype.fields[name][0].byteorder == "=":
            assert np.little_endian
