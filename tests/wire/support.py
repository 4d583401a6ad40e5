"""Random entity states and input frames for the wire tests."""

from __future__ import annotations

import numpy as np

from gameserver.wire.structs import ENTITY_STATE_DTYPE, INPUT_FRAME_DTYPE


def random_states(rng: np.random.Generator, n: int) -> np.ndarray:
    arr = np.zeros(n, dtype=ENTITY_STATE_DTYPE)
    arr["id"] = rng.integers(0, 2**32, n, dtype=np.uint64)
    arr["kind"] = rng.integers(0, 2, n)
    arr["flags"] = rng.integers(0, 8, n)
    arr["health_pct"] = rng.integers(0, 101, n)
    arr["level"] = rng.integers(1, 61, n)
    for f in ("x", "y", "facing"):
        arr[f] = rng.uniform(-1000, 1000, n).astype(np.float32)
    return arr


def random_frames(rng: np.random.Generator, n: int) -> np.ndarray:
    arr = np.zeros(n, dtype=INPUT_FRAME_DTYPE)
    arr["seq"] = np.arange(1, n + 1)
    arr["dt_ms"] = rng.integers(0, 100, n)
    arr["flags"] = rng.integers(0, 2, n)
    for f in ("x", "y", "facing"):
        arr[f] = rng.uniform(-1000, 1000, n).astype(np.float32)
    return arr
