"""Area of interest: the grid returns exactly the entities within the radius."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from gameserver.region.aoi import Grid


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    n=st.integers(0, 300),
    radius=st.floats(5, 200),
    qx=st.floats(-500, 1500),
    qy=st.floats(-500, 1500),
)
def test_grid_query_matches_brute_force(
    seed: int, n: int, radius: float, qx: float, qy: float
) -> None:
    rng = np.random.default_rng(seed)
    x = rng.uniform(-200, 1200, n).astype(np.float32)
    y = rng.uniform(-200, 1200, n).astype(np.float32)
    slots = np.arange(n)
    g = Grid(radius)
    g.build(slots, x, y)
    got = g.query(qx, qy, radius)
    d2 = (x - np.float32(qx)) ** 2 + (y - np.float32(qy)) ** 2
    want = set(np.flatnonzero(d2 <= radius * radius).tolist())
    assert set(got.tolist()) == want
    dist = np.sqrt(d2[got])
    assert np.all(np.diff(dist) >= -1e-4)  # nearest first


def test_only_active_slots_are_indexed() -> None:
    x = np.array([0, 1, 2], dtype=np.float32)
    y = np.zeros(3, dtype=np.float32)
    g = Grid(10)
    g.build(np.array([0, 2]), x, y)
    assert sorted(g.query(0, 0, 10).tolist()) == [0, 2]
