"""Area of interest by a uniform grid.

Each tick the active entities are bucketed into square cells as wide as the AoI radius, so
everything within the radius of a point lies in the 3x3 cells around it. The buckets are
one argsort of integer cell keys; a query is nine binary searches into the sorted keys plus
an exact distance filter. Only what a query returns is replicated to a client.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

_KEY_SPAN = 1 << 20  # cells per axis before keys would collide (far beyond any map)
_OFFSET = _KEY_SPAN // 2


class Grid:
    def __init__(self, cell_size: float) -> None:
        if cell_size <= 0:
            raise ValueError("cell_size must be positive")
        self.cell_size = float(cell_size)
        self._keys = np.zeros(0, dtype=np.int64)
        self._slots = np.zeros(0, dtype=np.intp)
        self._x = np.zeros(0, dtype=np.float32)
        self._y = np.zeros(0, dtype=np.float32)

    def _cell(self, v: npt.NDArray[np.float32] | float) -> npt.NDArray[np.int64]:
        return np.floor(np.asarray(v, dtype=np.float64) / self.cell_size).astype(np.int64) + _OFFSET

    def build(
        self,
        slots: npt.NDArray[np.intp],
        x: npt.NDArray[np.float32],
        y: npt.NDArray[np.float32],
    ) -> None:
        """Index the entities at `slots` (x and y are the full columns)."""
        xs, ys = x[slots], y[slots]
        keys = self._cell(xs) * _KEY_SPAN + self._cell(ys)
        order = np.argsort(keys, kind="stable")
        self._keys = keys[order]
        self._slots = slots[order]
        self._x = xs[order]
        self._y = ys[order]

    def query(self, x: float, y: float, radius: float) -> npt.NDArray[np.intp]:
        """Slots of entities within `radius` of (x, y), nearest first."""
        cx = int(self._cell(x))
        cy = int(self._cell(y))
        wanted = np.array(
            [(cx + dx) * _KEY_SPAN + (cy + dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1)],
            dtype=np.int64,
        )
        lo = np.searchsorted(self._keys, wanted, side="left")
        hi = np.searchsorted(self._keys, wanted, side="right")
        parts = [np.arange(a, b) for a, b in zip(lo.tolist(), hi.tolist(), strict=True) if b > a]
        if not parts:
            return np.zeros(0, dtype=np.intp)
        idx = np.concatenate(parts)
        d2 = (self._x[idx] - x) ** 2 + (self._y[idx] - y) ** 2
        near = d2 <= radius * radius
        idx, d2 = idx[near], d2[near]
        out: npt.NDArray[np.intp] = self._slots[idx[np.argsort(d2, kind="stable")]]
        return out

    def pairs(
        self,
        qx: npt.NDArray[np.floating],
        qy: npt.NDArray[np.floating],
        radius: float | npt.NDArray[np.floating],
        max_per_query: int | None = None,
        ordered: bool = True,
    ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.float32]]:
        """For each query point i, the indexed entities within `radius` (a scalar, or one
        radius per query, each at most the cell size): returns (query index, slot, squared
        distance), grouped by query in order and nearest first within a query, at most
        `max_per_query` per query."""
        n = len(qx)
        empty = (np.zeros(0, np.intp), np.zeros(0, np.intp), np.zeros(0, np.float32))
        if n == 0 or len(self._keys) == 0:
            return empty
        cx = self._cell(qx)
        cy = self._cell(qy)
        off = np.array([dx * _KEY_SPAN + dy for dx in (-1, 0, 1) for dy in (-1, 0, 1)], np.int64)
        keys = (cx * _KEY_SPAN + cy)[:, None] + off[None, :]
        flat = keys.ravel()
        lo = np.searchsorted(self._keys, flat, side="left")
        hi = np.searchsorted(self._keys, flat, side="right")
        cnt = hi - lo
        total = int(cnt.sum())
        if total == 0:
            return empty
        qi = np.repeat(np.repeat(np.arange(n, dtype=np.intp), 9), cnt)
        run_start = np.repeat(np.cumsum(cnt) - cnt, cnt)
        idx = np.repeat(lo, cnt) + (np.arange(total) - run_start)
        ddx = self._x[idx] - np.asarray(qx, np.float32)[qi]
        ddy = self._y[idx] - np.asarray(qy, np.float32)[qi]
        d2 = ddx * ddx + ddy * ddy
        r = np.asarray(radius, dtype=np.float32)
        r2 = r * r if r.ndim == 0 else (r * r)[qi]
        near = d2 <= r2
        qi, idx, d2 = qi[near], idx[near], d2[near]
        if not ordered:
            # Pairs are grouped by query already; only queries over the cap need sorting.
            if max_per_query is not None and len(qi):
                counts = np.bincount(qi, minlength=n)
                over = (counts > max_per_query)[qi]
                if over.any():
                    oi = np.flatnonzero(over)
                    o = oi[np.lexsort((d2[oi], qi[oi]))]
                    first = np.ones(len(o), dtype=bool)
                    first[1:] = qi[o][1:] != qi[o][:-1]
                    start = np.maximum.accumulate(np.where(first, np.arange(len(o)), 0))
                    keep = ~over
                    keep[o[(np.arange(len(o)) - start) < max_per_query]] = True
                    qi, idx, d2 = qi[keep], idx[keep], d2[keep]
            return qi, self._slots[idx], d2
        order = np.lexsort((d2, qi))
        qi, idx, d2 = qi[order], idx[order], d2[order]
        if max_per_query is not None and len(qi):
            first = np.ones(len(qi), dtype=bool)
            first[1:] = qi[1:] != qi[:-1]
            start = np.maximum.accumulate(np.where(first, np.arange(len(qi)), 0))
            rank = np.arange(len(qi)) - start
            keep = rank < max_per_query
            qi, idx, d2 = qi[keep], idx[keep], d2[keep]
        return qi, self._slots[idx], d2
