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
