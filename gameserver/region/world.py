"""Entity state of one region shard, held in numpy columns.

Hot state lives in fixed-capacity arrays indexed by slot (NeuralMMO style) so the tick can
work on whole columns at once; Python objects hold only what is per-player and rarely
touched (the input queue, the save lease). Entity ids are small integers handed to clients;
slots are reused through a free list, ids never are within a shard's life.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from gameserver.wire.structs import ENTITY_STATE_DTYPE

KIND_PLAYER = 0
KIND_NPC = 1

F32 = npt.NDArray[np.float32]


class World:
    def __init__(self, capacity: int = 256) -> None:
        self.capacity = 0
        self.active = np.zeros(0, dtype=bool)
        self.eid = np.zeros(0, dtype=np.uint32)
        self.kind = np.zeros(0, dtype=np.uint8)
        self.flags = np.zeros(0, dtype=np.uint8)
        self.health_pct = np.zeros(0, dtype=np.uint8)
        self.level = np.zeros(0, dtype=np.uint8)
        self.x: F32 = np.zeros(0, dtype=np.float32)
        self.y: F32 = np.zeros(0, dtype=np.float32)
        self.facing: F32 = np.zeros(0, dtype=np.float32)
        self._free: list[int] = []
        self._slot_of: dict[int, int] = {}
        self._next_eid = 1
        self._grow(capacity)

    _COLUMNS = ("active", "eid", "kind", "flags", "health_pct", "level", "x", "y", "facing")

    def _grow(self, new_capacity: int) -> None:
        old = self.capacity
        for name in self._COLUMNS:
            col = getattr(self, name)
            grown = np.zeros(new_capacity, dtype=col.dtype)
            grown[:old] = col
            setattr(self, name, grown)
        self._free.extend(range(new_capacity - 1, old - 1, -1))
        self.capacity = new_capacity

    def spawn(self, kind: int, x: float, y: float, facing: float = 0.0, level: int = 1) -> int:
        if not self._free:
            self._grow(max(16, self.capacity * 2))
        slot = self._free.pop()
        eid = self._next_eid
        self._next_eid += 1
        self.active[slot] = True
        self.eid[slot] = eid
        self.kind[slot] = kind
        self.flags[slot] = 0
        self.health_pct[slot] = 100
        self.level[slot] = min(level, 255)
        self.x[slot] = x
        self.y[slot] = y
        self.facing[slot] = facing
        self._slot_of[eid] = slot
        return eid

    def despawn(self, eid: int) -> None:
        slot = self._slot_of.pop(eid)
        self.active[slot] = False
        self._free.append(slot)

    def slot(self, eid: int) -> int:
        return self._slot_of[eid]

    def __contains__(self, eid: object) -> bool:
        return eid in self._slot_of

    def __len__(self) -> int:
        return len(self._slot_of)

    def active_slots(self) -> npt.NDArray[np.intp]:
        return np.flatnonzero(self.active)

    def position(self, eid: int) -> tuple[float, float]:
        s = self._slot_of[eid]
        return float(self.x[s]), float(self.y[s])

    def states(self) -> npt.NDArray[np.void]:
        """Every slot's replicated state as EntityState records (inactive slots included,
        so a slot index is also a row index). Built once per tick, then sliced per client."""
        out = np.empty(self.capacity, dtype=ENTITY_STATE_DTYPE)
        out["id"] = self.eid
        out["kind"] = self.kind
        out["flags"] = self.flags
        out["health_pct"] = self.health_pct
        out["level"] = self.level
        out["x"] = self.x
        out["y"] = self.y
        out["facing"] = self.facing
        return out
