"""The batched AoI query agrees with one query at a time, ordered or not, capped or not."""

from __future__ import annotations

import numpy as np
import pytest

from gameserver.region.aoi import Grid


@pytest.mark.parametrize("ordered", [True, False])
@pytest.mark.parametrize("cap", [None, 5])
def test_pairs_match_single_queries(ordered: bool, cap: int | None) -> None:
    rng = np.random.default_rng(4)
    n = 800
    x = rng.uniform(0, 600, n).astype(np.float32)
    y = rng.uniform(0, 600, n).astype(np.float32)
    g = Grid(60.0)
    g.build(np.arange(n), x, y)
    q = np.arange(0, n, 7)
    qi, slots, d2 = g.pairs(x[q], y[q], 60.0, max_per_query=cap, ordered=ordered)
    assert np.all(np.diff(qi) >= 0)  # grouped by query
    for i, s in enumerate(q.tolist()):
        want = g.query(float(x[s]), float(y[s]), 60.0)
        got = slots[qi == i]
        if cap is None:
            assert sorted(got.tolist()) == sorted(want.tolist())
        else:
            assert len(got) == min(cap, len(want))
            d_got = np.sort(d2[qi == i])
            d_want = np.sort((x[want] - x[s]) ** 2 + (y[want] - y[s]) ** 2)[:cap]
            assert np.allclose(d_got, d_want)
        if ordered:
            assert np.all(np.diff(d2[qi == i]) >= 0)


def test_pairs_are_exact_at_the_edges() -> None:
    """Entities on column boundaries and at exactly the radius (float32) are found, per-query
    radii included, and nothing beyond the radius is."""
    rng = np.random.default_rng(9)
    g = Grid(100.0)
    # A lattice on the column width (25 m) and its quarters, plus random points.
    lat = np.arange(-50.0, 350.0, 6.25, dtype=np.float32)
    lx, ly = np.meshgrid(lat, lat)
    x = np.concatenate([lx.ravel(), rng.uniform(-50, 350, 2000).astype(np.float32)])
    y = np.concatenate([ly.ravel(), rng.uniform(-50, 350, 2000).astype(np.float32)])
    g.build(np.arange(len(x)), x, y)
    qx = np.array([0.0, 25.0, 100.0, 137.5, 150.0, 212.5], dtype=np.float32)
    qy = np.array([0.0, 50.0, 100.0, 62.5, 150.0, 250.0], dtype=np.float32)
    radius = np.array([100.0, 25.0, 50.0, 100.0, 12.5, 75.0], dtype=np.float32)
    qi, slots, _ = g.pairs(qx, qy, radius, ordered=False)
    for i in range(len(qx)):
        d2 = (x - qx[i]) ** 2 + (y - qy[i]) ** 2
        want = set(np.flatnonzero(d2 <= radius[i] * radius[i]).tolist())
        assert set(slots[qi == i].tolist()) == want
