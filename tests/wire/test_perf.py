"""The snapshot hot path stays cheap (bounds are generous; the numbers are printed)."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from gameserver.wire import messages as m

from .support import random_states


def _best_us(fn: Callable[[], object], number: int = 300, repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t0) / number)
    return best * 1e6


def test_snapshot_of_40_entities_encodes_under_50_us(rng: np.random.Generator) -> None:
    states = random_states(rng, 200)
    idx = rng.choice(200, 40, replace=False)
    you = states[0]
    env = m.Envelope(
        m.Snapshot(tick=1, last_input_seq=2, server_time_ms=3, you=you, entities=states[idx]),
        acks=(1, 2, 3),
    )
    data = m.encode(env)
    enc = _best_us(lambda: m.encode(env))
    fast = _best_us(
        lambda: m.encode_snapshot_fast(
            states[idx], tick=1, last_input_seq=2, server_time_ms=3, you=you, acks=(1, 2, 3)
        )
    )
    dec = _best_us(lambda: m.decode(data))
    print(
        f"\nsnapshot 40 entities, {len(data)} B: encode {enc:.1f} us, "
        f"encode_snapshot_fast (incl. gather) {fast:.1f} us, decode {dec:.1f} us"
    )
    assert enc < 50
    assert fast < 50
    assert dec < 50
