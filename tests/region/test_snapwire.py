"""The fast snapshot writer produces packets that both readers agree on."""

from __future__ import annotations

import numpy as np
import pytest

from gameserver.region.snapwire import write_snapshot
from gameserver.wire import messages as m
from gameserver.wire.fb.Packet import Packet
from gameserver.wire.fb.Snapshot import Snapshot as FbSnapshot
from gameserver.wire.structs import (
    COMBAT_EVENT_DTYPE,
    ENTITY_DELTA_DTYPE,
    ENTITY_STATE_DTYPE,
    PLAYER_STATUS_DTYPE,
)


def _rand(rng: np.random.Generator, dtype: np.dtype, n: int) -> np.ndarray:
    raw = rng.integers(0, 256, n * dtype.itemsize, dtype=np.uint8).tobytes()
    arr = np.frombuffer(raw, dtype=dtype).copy()
    for name in ("x", "y", "facing"):
        if name in dtype.names:
            arr[name] = rng.uniform(-1000, 1000, n)
    return arr


@pytest.mark.parametrize("mask", range(0, 128, 5))
def test_every_presence_combination_decodes(mask: int) -> None:
    rng = np.random.default_rng(mask)
    ents = _rand(rng, ENTITY_STATE_DTYPE, 3) if mask & 1 else np.zeros(0, ENTITY_STATE_DTYPE)
    removed = np.array([4, 5], "<u4") if mask & 2 else np.zeros(0, "<u4")
    deltas = _rand(rng, ENTITY_DELTA_DTYPE, 2) if mask & 4 else np.zeros(0, ENTITY_DELTA_DTYPE)
    events = _rand(rng, COMBAT_EVENT_DTYPE, 2) if mask & 8 else np.zeros(0, COMBAT_EVENT_DTYPE)
    status = _rand(rng, PLAYER_STATUS_DTYPE, 1)[0] if mask & 16 else None
    you = _rand(rng, ENTITY_STATE_DTYPE, 1)[0]
    data = write_snapshot(
        tick=7,
        last_input_seq=6,
        server_time_ms=2**41 + 3,
        you=you.tobytes(),
        corrected=bool(mask & 32),
        baseline_tick=5 if mask & 64 else 0,
        entities=ents.tobytes(),
        removed=removed.tobytes(),
        deltas=deltas.tobytes(),
        events=events.tobytes(),
        status=None if status is None else status.tobytes(),
    )
    want = m.Snapshot(
        tick=7,
        last_input_seq=6,
        server_time_ms=2**41 + 3,
        corrected=bool(mask & 32),
        you=you,
        entities=ents,
        baseline_tick=5 if mask & 64 else 0,
        removed=removed,
        deltas=deltas,
        status=status,
        events=events,
    )
    assert m.decode(data) == m.Envelope(want)
    # The flatc-generated accessors read the same values.
    pkt = Packet.GetRootAs(data, 0)
    s = FbSnapshot()
    s.Init(pkt.Msg().Bytes, pkt.Msg().Pos)
    assert (s.Tick(), s.LastInputSeq(), s.ServerTimeMs(), s.Corrected()) == (
        7,
        6,
        2**41 + 3,
        bool(mask & 32),
    )
    assert s.You().Id() == int(you["id"])
    assert s.RemovedLength() == len(removed) and s.DeltasLength() == len(deltas)
    if len(deltas):
        assert s.Deltas(1).Dx() == int(deltas[1]["dx"])
    if status is not None:
        assert s.Status().Xp() == int(status["xp"])
    if len(events):
        assert s.Events(1).Amount() == int(events[1]["amount"])
