"""Cost of the snapshot codec: encode (builder and fast path) and decode of a 40-entity
snapshot, best of several repeats. Run on demand: `python -m bench.wire_codec`."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from gameserver.wire import messages as m
from gameserver.wire.structs import ENTITY_STATE_DTYPE


def _best_us(fn: Callable[[], object], number: int = 300, repeat: int = 7) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t0) / number)
    return best * 1e6


def main() -> None:
    rng = np.random.default_rng(1)
    states = np.zeros(200, dtype=ENTITY_STATE_DTYPE)
    states["id"] = np.arange(1, 201)
    states["x"] = rng.uniform(0, 1000, 200)
    states["y"] = rng.uniform(0, 1000, 200)
    idx = rng.choice(200, 40, replace=False)
    env = m.Envelope(
        m.Snapshot(tick=1, last_input_seq=2, server_time_ms=3, you=states[0], entities=states[idx]),
        acks=(1, 2, 3),
    )
    data = m.encode(env)
    print(f"snapshot bytes: {len(data)}")
    print(f"encode:      {_best_us(lambda: m.encode(env)):6.1f} us")
    print(f"decode:      {_best_us(lambda: m.decode(data)):6.1f} us")


if __name__ == "__main__":
    main()
