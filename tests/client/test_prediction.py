"""Client-side prediction and reconciliation."""

from __future__ import annotations

import numpy as np
import pytest
from realm_client.prediction import Interpolator, Predictor

from gameserver.wire.structs import ENTITY_STATE_DTYPE


def test_reconcile_replays_unacked_frames_on_server_position() -> None:
    p = Predictor(0.0, 0.0, 0.0, max_speed=7.0)
    for _ in range(5):
        p.move(1, 0, 0.05)
    assert p.x == pytest.approx(1.75)
    # the server processed 3 frames, but clamped the position to x=1.0 (a correction)
    err = p.reconcile(3, 1.0, 0.0, corrected=True)
    assert p.x == pytest.approx(1.0 + 2 * 0.35)
    assert err == pytest.approx(0.05 + 0.0, abs=0.1) or err > 0
    assert p.corrections == 1
    assert [f.seq for f in p.pending] == [4, 5]


def test_agreeing_server_changes_nothing() -> None:
    p = Predictor(10.0, 10.0, 0.0, max_speed=7.0)
    for _ in range(4):
        p.move(0, 1, 0.05)
    before = (p.x, p.y)
    assert p.reconcile(2, 10.0, 10.7, corrected=False) == pytest.approx(0.0, abs=1e-9)
    assert (p.x, p.y) == pytest.approx(before)


def test_late_snapshot_is_ignored() -> None:
    p = Predictor(0.0, 0.0, 0.0, max_speed=7.0)
    for _ in range(4):
        p.move(1, 0, 0.05)
    p.reconcile(4, 1.4, 0.0, corrected=False)
    p.reconcile(2, 0.0, 0.0, corrected=True)  # older than what we have
    assert p.x == pytest.approx(1.4)


def test_frames_carry_recent_history_for_loss() -> None:
    p = Predictor(0.0, 0.0, 0.0, max_speed=7.0)
    for _ in range(5):
        p.move(1, 0, 0.05)
    f = p.frames(3)
    assert list(f["seq"]) == [3, 4, 5]
    assert f["x"][0] == pytest.approx(0.35)


def test_interpolation_between_snapshots() -> None:
    import numpy as np

    from gameserver.wire.structs import ENTITY_STATE_DTYPE

    def ents(x: float) -> np.ndarray:
        a = np.zeros(1, dtype=ENTITY_STATE_DTYPE)
        a[0]["id"], a[0]["x"] = 7, x
        return a

    it = Interpolator(delay_ms=100)
    it.push(1000, ents(0.0))
    it.push(1050, ents(10.0))
    assert it.sample(1125)[7][0] == pytest.approx(5.0)


def _one(x: float) -> np.ndarray:
    a = np.zeros(1, dtype=ENTITY_STATE_DTYPE)
    a[0]["id"], a[0]["x"] = 7, x
    return a


def test_interpolation_delay_adapts_to_the_snapshot_interval() -> None:
    """A snapshot every other tick at 20 Hz (100 ms apart): the delay becomes 150 ms, so
    one lost snapshot is ridden out instead of freezing the entity."""
    it = Interpolator()
    assert it.delay_ms == 150  # before any gap has been seen
    for i in range(10):
        it.push(1000 + 100 * i, _one(float(i)), received_ms=5000 + 100 * i)
    assert it.delay_ms == 150
    # The snapshot of 1900 ms is lost: at 2050 the entity is still between two snapshots.
    it.push(2000, _one(10.0), received_ms=6000)
    at = it.sample(2050)[7][0]
    assert 8.0 < at < 10.0
    # Every tick at 20 Hz (every=1): down to the floor of 100 ms (75 ms would not ride out
    # one lost snapshot).
    for i in range(1, 17):
        it.push(2000 + 50 * i, _one(10.0), received_ms=6000 + 50 * i)
    assert it.delay_ms == 100


def test_interpolation_delay_covers_jitter_and_is_bounded() -> None:
    it = Interpolator()
    arrivals = [0, 130, 170, 300, 420, 480, 600, 740, 790, 900, 1030, 1080]  # ~100 ms, +-40
    for i, r in enumerate(arrivals):
        it.push(100 * i, _one(float(i)), received_ms=r)
    assert 160 <= it.delay_ms <= 220  # 1.5 x 100 + the mean deviation
    slow = Interpolator(max_delay_ms=400)
    for i in range(6):
        slow.push(1000 * i, _one(float(i)))  # server times only: a 1 s interval
    assert slow.delay_ms == 400
    fixed = Interpolator(delay_ms=100)
    for i in range(6):
        fixed.push(100 * i, _one(float(i)))
    assert fixed.delay_ms == 100
