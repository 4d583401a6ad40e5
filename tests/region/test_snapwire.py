"""The fast snapshot writer produces packets that both readers agree on."""

from __future__ import annotations

import numpy as np
import pytest

from gameserver.region.snapwire import write_snapshot, write_snapshots
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


def test_batch_writer_matches_the_single_writer() -> None:
    """`write_snapshots` writes each client's packet byte for byte like `write_snapshot`,
    over every presence combination."""
    rng = np.random.default_rng(11)
    n = 300
    sizes = (20, 4, 12, 20)
    counts = [rng.integers(0, 4, n) * (rng.random(n) < 0.6) for _ in sizes]
    data = [
        rng.integers(0, 256, int(c.sum()) * sz, dtype=np.uint8)
        for c, sz in zip(counts, sizes, strict=True)
    ]
    offs = [np.concatenate([[0], np.cumsum(c)]).astype(np.int64) for c in counts]
    you = rng.integers(0, 256, (n, 20), dtype=np.uint8)
    status = rng.integers(0, 256, (n, 24), dtype=np.uint8)
    has_status = rng.random(n) < 0.5
    corrected = rng.random(n) < 0.3
    baseline = np.where(rng.random(n) < 0.7, rng.integers(1, 2**31, n), 0).astype(np.int64)
    last = rng.integers(0, 2**32, n, dtype=np.int64)
    got = write_snapshots(
        tick=123456,
        server_time_ms=2**41 + 9,
        last_input_seq=last,
        you=you,
        corrected=corrected,
        baseline_tick=baseline,
        status=status,
        has_status=has_status,
        vectors=tuple(zip(data, offs, strict=True)),  # type: ignore[arg-type]
    )
    for i in range(n):
        part = [
            d[o[i] * sz : o[i + 1] * sz].tobytes()
            for d, o, sz in zip(data, offs, sizes, strict=True)
        ]
        want = write_snapshot(
            tick=123456,
            last_input_seq=int(last[i]),
            server_time_ms=2**41 + 9,
            you=you[i].tobytes(),
            corrected=bool(corrected[i]),
            baseline_tick=int(baseline[i]),
            entities=part[0],
            removed=part[1],
            deltas=part[2],
            events=part[3],
            status=status[i].tobytes() if has_status[i] else None,
        )
        assert got[i] == want, i
