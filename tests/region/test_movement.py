"""Server-authoritative movement checks."""

from __future__ import annotations

import numpy as np
import pytest

from gameserver.region.movement import MoverState, MoveRules, apply_frames
from gameserver.wire.structs import INPUT_FRAME_DTYPE
from gameserver.world.map import Bounds

BOUNDS = Bounds(min_x=0, min_y=0, max_x=1000, max_y=1000)
RULES = MoveRules(max_speed=7.0)


def frames(*rows: tuple[int, int, float, float]) -> np.ndarray:
    out = np.zeros(len(rows), dtype=INPUT_FRAME_DTYPE)
    for i, (seq, dt, dx, dy) in enumerate(rows):
        out[i] = (seq, dt, 0, dx, dy, 0.0)
    return out


def test_legal_move_is_applied_exactly() -> None:
    m = MoverState(joined_at_ms=0)
    out = apply_frames(
        100, 100, 0, frames((1, 50, 0.35, 0.0), (2, 50, 0.0, 0.35)), m, RULES, BOUNDS, 1000
    )
    assert (out.x, out.y) == pytest.approx((100.35, 100.35))
    assert not out.corrected and out.last_seq == 2


def test_speed_hack_is_clamped_to_max_speed() -> None:
    m = MoverState(joined_at_ms=0)
    out = apply_frames(100, 100, 0, frames((1, 50, 3.0, 0.0)), m, RULES, BOUNDS, 1000)
    assert out.corrected and out.detections == ("speed",)
    assert out.x - 100 == pytest.approx(7.0 * 0.05 * 1.05, abs=2e-3)


def test_teleport_is_refused() -> None:
    m = MoverState(joined_at_ms=0)
    out = apply_frames(100, 100, 0, frames((1, 50, 500.0, 0.0)), m, RULES, BOUNDS, 1000)
    assert out.corrected and "teleport" in out.detections
    assert (out.x, out.y) == (100, 100)


def test_clock_hack_cannot_claim_more_time_than_has_passed() -> None:
    m = MoverState(joined_at_ms=0)
    # 2 s after joining, the client claims 40 frames of 250 ms (10 s) at full speed
    many = frames(*[(i, 250, 7.0 * 0.25, 0.0) for i in range(1, 41)])
    out = apply_frames(100, 100, 0, many, m, RULES, BOUNDS, 2000)
    assert out.corrected and "clock" in out.detections
    allowed = 7.0 * (2.0 + RULES.clock_slack_ms / 1000) * RULES.tolerance
    assert out.x - 100 <= allowed + 0.01


def test_duplicate_frames_are_applied_once() -> None:
    m = MoverState(joined_at_ms=0)
    f = frames((1, 50, 0.3, 0.0), (2, 50, 0.3, 0.0))
    apply_frames(100, 100, 0, f, m, RULES, BOUNDS, 1000)
    out = apply_frames(100.6, 100, 0, f, m, RULES, BOUNDS, 1050)  # the same frames resent
    assert out.x == pytest.approx(100.6) and out.last_seq == 2


def test_jittered_legal_movement_is_never_flagged() -> None:
    """Frames generated at max speed, delivered in bursts and gaps (jitter up to 300 ms)."""
    rng = np.random.default_rng(7)
    m = MoverState(joined_at_ms=0)
    x = y = 500.0
    seq = 0
    pending: list[tuple[int, int, float, float]] = []
    for tick in range(1, 400):
        seq += 1
        pending.append((seq, 50, 7.0 * 0.05, 0.0))
        if rng.random() < 0.3 or len(pending) > 6:  # deliver a burst
            now = tick * 50 + int(rng.integers(0, 300))
            out = apply_frames(x, y, 0, frames(*pending), m, RULES, BOUNDS, now)
            assert not out.corrected, out.detections
            x, y = out.x, out.y
            pending.clear()
    assert m.detections == {}


def test_non_finite_input_is_ignored_and_counted() -> None:
    m = MoverState(joined_at_ms=0)
    out = apply_frames(100, 100, 0, frames((1, 50, float("nan"), 0.0)), m, RULES, BOUNDS, 1000)
    assert out.corrected and out.detections == ("malformed",) and out.x == 100


def test_bounds_clamp() -> None:
    m = MoverState(joined_at_ms=0)
    out = apply_frames(0.1, 500, 0, frames((1, 50, -0.3, 0.0)), m, RULES, BOUNDS, 1000)
    assert out.x == 0.0
