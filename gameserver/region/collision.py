"""Walls: a collision map per region, as a grid of blocked cells.

The server, not the client, decides where a character can stand: movement is checked
against this map and a path that would cross a blocked cell stops at the last free point
before it (a no-clip cheat is corrected at the wall and counted). The map is data: a
designer draws it as text (`#` blocked, anything else free, one character per cell, the
first line is the north edge... here simply the highest y) or lists wall rectangles, and
`CollisionMap` turns that into one boolean numpy array, so checking a thousand points is
one fancy-index.

Queries outside the map are "free" (the region bounds clamp positions separately).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True, slots=True)
class Rect:
    min_x: float
    min_y: float
    max_x: float
    max_y: float


class CollisionMap:
    def __init__(
        self, blocked: npt.NDArray[np.bool_], origin_x: float, origin_y: float, cell: float
    ):
        if blocked.ndim != 2:
            raise ValueError("blocked must be a 2-D array indexed [ix, iy]")
        if cell <= 0:
            raise ValueError("cell must be positive")
        self.blocked = blocked.astype(bool, copy=True)
        self.origin_x = float(origin_x)
        self.origin_y = float(origin_y)
        self.cell = float(cell)
        self.nx, self.ny = self.blocked.shape

    # --- construction -----------------------------------------------------------------
    @classmethod
    def empty(cls) -> CollisionMap:
        return cls(np.zeros((1, 1), dtype=bool), 0.0, 0.0, 1.0)

    @classmethod
    def from_rects(
        cls,
        min_x: float,
        min_y: float,
        max_x: float,
        max_y: float,
        cell: float,
        walls: Iterable[Rect],
    ) -> CollisionMap:
        nx = max(1, math.ceil((max_x - min_x) / cell))
        ny = max(1, math.ceil((max_y - min_y) / cell))
        grid = np.zeros((nx, ny), dtype=bool)
        for w in walls:
            x0 = max(0, math.floor((w.min_x - min_x) / cell))
            x1 = min(nx, math.ceil((w.max_x - min_x) / cell))
            y0 = max(0, math.floor((w.min_y - min_y) / cell))
            y1 = min(ny, math.ceil((w.max_y - min_y) / cell))
            grid[x0:x1, y0:y1] = True
        return cls(grid, min_x, min_y, cell)

    @classmethod
    def from_text(cls, text: str, origin_x: float, origin_y: float, cell: float) -> CollisionMap:
        """Rows of characters, `#` blocked; the first row is y = origin_y (row i covers
        [origin_y + i*cell, origin_y + (i+1)*cell)), column j likewise in x."""
        rows = [r for r in text.strip("\n").splitlines()]
        width = max((len(r) for r in rows), default=1)
        grid = np.zeros((width, max(1, len(rows))), dtype=bool)
        for iy, row in enumerate(rows):
            for ix, ch in enumerate(row):
                grid[ix, iy] = ch == "#"
        return cls(grid, origin_x, origin_y, cell)

    # --- queries ----------------------------------------------------------------------
    def blocked_at(self, x: npt.ArrayLike, y: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        """Vectorised: is each point inside a blocked cell?"""
        ix = np.floor((np.asarray(x, dtype=np.float64) - self.origin_x) / self.cell).astype(
            np.int64
        )
        iy = np.floor((np.asarray(y, dtype=np.float64) - self.origin_y) / self.cell).astype(
            np.int64
        )
        inside = (ix >= 0) & (ix < self.nx) & (iy >= 0) & (iy < self.ny)
        out = np.zeros(ix.shape, dtype=bool)
        out[inside] = self.blocked[ix[inside], iy[inside]]
        return out

    def is_blocked(self, x: float, y: float) -> bool:
        ix = math.floor((x - self.origin_x) / self.cell)
        iy = math.floor((y - self.origin_y) / self.cell)
        if 0 <= ix < self.nx and 0 <= iy < self.ny:
            return bool(self.blocked[ix, iy])
        return False

    def clip(self, x0: float, y0: float, x1: float, y1: float) -> tuple[float, float, bool]:
        """Walk from (x0, y0) towards (x1, y1) in steps of at most a quarter cell; return
        the last free point and whether a wall stopped the walk. A start inside a wall
        (a stale saved position) is allowed to walk out."""
        dist = math.hypot(x1 - x0, y1 - y0)
        if dist == 0.0:
            return x1, y1, False
        steps = max(1, math.ceil(dist / (self.cell * 0.25)))
        start_blocked = self.is_blocked(x0, y0)
        px, py = x0, y0
        for i in range(1, steps + 1):
            t = i / steps
            qx, qy = x0 + (x1 - x0) * t, y0 + (y1 - y0) * t
            if self.is_blocked(qx, qy) and not start_blocked:
                return px, py, True
            px, py = qx, qy
        return x1, y1, False

    @property
    def any_walls(self) -> bool:
        return bool(self.blocked.any())
