"""Entity state of one region shard, held in numpy columns.

Hot state lives in fixed-capacity arrays indexed by slot (NeuralMMO style) so the tick can
work on whole columns at once: movement checks, the NPC state machine, aggro scans, swing
timers and snapshot gathering are each a handful of column operations, not a Python loop
per entity. Python objects hold only what is per-player and rarely touched (the input
queue, the save lease, cooldowns, threat tables of NPCs in combat). Entity ids are small
integers handed to clients; slots are reused through a free list, ids never are within a
shard's life, so a stored (slot, id) pair detects a reused slot.

Times are integer milliseconds of the shard's simulated clock (`now_ms` given to the step).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from gameserver.wire.structs import ENTITY_STATE_DTYPE

KIND_PLAYER = 0
KIND_NPC = 1
# Ghosts mirror entities simulated by a neighbouring region's server (region/borders.py):
# replicated to clients like the real thing, ignored by this server's AI and combat (which
# select on KIND_PLAYER / KIND_NPC exactly).
KIND_GHOST = 2
KIND_MASK = 1

# NPC AI states (the `ai` column); players stay IDLE.
AI_IDLE = 0
AI_WANDER = 1
AI_CHASE = 2
AI_ATTACK = 3
AI_RETURN = 4  # leashed: running home, immune, resets on arrival
AI_DEAD = 5

NO_SLOT = -1
NEVER = np.iinfo(np.int64).min // 2  # "long ago" for timestamps

F32 = npt.NDArray[np.float32]

# name -> (dtype, initial value on spawn)
_COLUMNS: dict[str, tuple[Any, Any]] = {
    "active": (bool, False),
    "eid": (np.uint32, 0),
    "kind": (np.uint8, 0),
    "flags": (np.uint8, 0),
    "health_pct": (np.uint8, 100),
    "level": (np.uint8, 1),
    "x": (np.float32, 0.0),
    "y": (np.float32, 0.0),
    "facing": (np.float32, 0.0),
    # combat
    "hp": (np.int32, 100),
    "max_hp": (np.int32, 100),
    "mana": (np.int32, 100),
    "max_mana": (np.int32, 100),
    "target": (np.int32, NO_SLOT),  # slot of the current target
    "target_eid": (np.uint32, 0),  # its id, to detect a reused slot
    "auto": (bool, False),  # auto-attack on
    "swing_ms": (np.int32, 2000),
    "next_swing": (np.int64, 0),
    "dmg_min": (np.int32, 5),
    "dmg_max": (np.int32, 9),
    "reach": (np.float32, 5.0),  # melee range
    "stun_until": (np.int64, NEVER),
    "stun_from": (np.int64, NEVER),
    "root_until": (np.int64, NEVER),
    "root_from": (np.int64, NEVER),
    "kb_vx": (np.float32, 0.0),  # knockback velocity (server-driven displacement)
    "kb_vy": (np.float32, 0.0),
    "kb_until": (np.int64, NEVER),
    "cast_ab": (np.int16, 0),  # ability being cast, 0 none
    "cast_end": (np.int64, 0),
    "cast_target": (np.int32, NO_SLOT),
    "cast_target_eid": (np.uint32, 0),
    "gcd_until": (np.int64, NEVER),
    "dead_at": (np.int64, NEVER),
    # NPCs
    "ai": (np.uint8, AI_IDLE),
    "home_x": (np.float32, 0.0),
    "home_y": (np.float32, 0.0),
    "dest_x": (np.float32, 0.0),
    "dest_y": (np.float32, 0.0),
    "speed": (np.float32, 7.0),
    "aggro_r": (np.float32, 0.0),
    "leash_r": (np.float32, 40.0),
    "wander_r": (np.float32, 0.0),
    "next_act": (np.int64, 0),  # when an idle NPC next picks a wander point
    "spawn_pt": (np.int32, -1),  # spawn point index
    "xp_value": (np.int32, 0),
}


class World:
    # Column attributes, declared for type checkers (created by _grow).
    active: npt.NDArray[np.bool_]
    eid: npt.NDArray[np.uint32]
    kind: npt.NDArray[np.uint8]
    flags: npt.NDArray[np.uint8]
    health_pct: npt.NDArray[np.uint8]
    level: npt.NDArray[np.uint8]
    x: F32
    y: F32
    facing: F32
    hp: npt.NDArray[np.int32]
    max_hp: npt.NDArray[np.int32]
    mana: npt.NDArray[np.int32]
    max_mana: npt.NDArray[np.int32]
    target: npt.NDArray[np.int32]
    target_eid: npt.NDArray[np.uint32]
    auto: npt.NDArray[np.bool_]
    swing_ms: npt.NDArray[np.int32]
    next_swing: npt.NDArray[np.int64]
    dmg_min: npt.NDArray[np.int32]
    dmg_max: npt.NDArray[np.int32]
    reach: F32
    stun_until: npt.NDArray[np.int64]
    stun_from: npt.NDArray[np.int64]
    root_until: npt.NDArray[np.int64]
    root_from: npt.NDArray[np.int64]
    kb_vx: F32
    kb_vy: F32
    kb_until: npt.NDArray[np.int64]
    cast_ab: npt.NDArray[np.int16]
    cast_end: npt.NDArray[np.int64]
    cast_target: npt.NDArray[np.int32]
    cast_target_eid: npt.NDArray[np.uint32]
    gcd_until: npt.NDArray[np.int64]
    dead_at: npt.NDArray[np.int64]
    ai: npt.NDArray[np.uint8]
    home_x: F32
    home_y: F32
    dest_x: F32
    dest_y: F32
    speed: F32
    aggro_r: F32
    leash_r: F32
    wander_r: F32
    next_act: npt.NDArray[np.int64]
    spawn_pt: npt.NDArray[np.int32]
    xp_value: npt.NDArray[np.int32]

    def __init__(self, capacity: int = 256) -> None:
        self.capacity = 0
        for name, (dtype, _) in _COLUMNS.items():
            setattr(self, name, np.zeros(0, dtype=dtype))
        self._free: list[int] = []
        self._slot_of: dict[int, int] = {}
        self._next_eid = 1
        self._grow(capacity)

    def _grow(self, new_capacity: int) -> None:
        old = self.capacity
        for name, (dtype, init) in _COLUMNS.items():
            col = getattr(self, name)
            grown = np.full(new_capacity, init, dtype=dtype)
            grown[:old] = col
            setattr(self, name, grown)
        self._free.extend(range(new_capacity - 1, old - 1, -1))
        self.capacity = new_capacity

    def adopt(self, eid: int, kind: int, x: float, y: float, facing: float, level: int) -> int:
        """Spawn an entity under an id from another server's block (a ghost); returns its
        slot. This server's own id counter is left as it was."""
        counter = self._next_eid
        own = self.spawn(kind, x, y, facing, level)
        self._next_eid = counter
        slot = self._slot_of.pop(own)
        self.eid[slot] = eid
        self._slot_of[eid] = slot
        return slot

    def use_id_block(self, base: int) -> None:
        """Hand out entity ids from `base` on. Each region server of a realm gets its own
        block (ids are what clients see, and near a border they see two servers at once),
        so ids never collide across a handoff or a border."""
        self._next_eid = max(self._next_eid, base + 1)

    def spawn(
        self,
        kind: int,
        x: float,
        y: float,
        facing: float = 0.0,
        level: int = 1,
        *,
        max_hp: int = 100,
        hp: int | None = None,
    ) -> int:
        if not self._free:
            self._grow(max(16, self.capacity * 2))
        slot = self._free.pop()
        eid = self._next_eid
        self._next_eid += 1
        for name, (_, init) in _COLUMNS.items():
            getattr(self, name)[slot] = init
        self.active[slot] = True
        self.eid[slot] = eid
        self.kind[slot] = kind
        self.level[slot] = min(max(level, 1), 255)
        self.x[slot] = x
        self.y[slot] = y
        self.facing[slot] = facing
        self.home_x[slot] = x
        self.home_y[slot] = y
        self.max_hp[slot] = max(1, max_hp)
        self.hp[slot] = self.max_hp[slot] if hp is None else min(max(hp, 0), max_hp)
        self.refresh_health_pct(np.array([slot]))
        self._slot_of[eid] = slot
        return eid

    def despawn(self, eid: int) -> None:
        slot = self._slot_of.pop(eid)
        self.active[slot] = False
        self.target[slot] = NO_SLOT
        self._free.append(slot)

    def slot(self, eid: int) -> int:
        return self._slot_of[eid]

    def slot_or_none(self, eid: int) -> int | None:
        return self._slot_of.get(eid)

    def __contains__(self, eid: object) -> bool:
        return eid in self._slot_of

    def __len__(self) -> int:
        return len(self._slot_of)

    def active_slots(self) -> npt.NDArray[np.intp]:
        return np.flatnonzero(self.active)

    def position(self, eid: int) -> tuple[float, float]:
        s = self._slot_of[eid]
        return float(self.x[s]), float(self.y[s])

    def valid_target(self, slots: npt.NDArray[np.int32]) -> npt.NDArray[np.bool_]:
        """Which of `slots` (NO_SLOT allowed) still hold the entity that was targeted:
        compare with `target_eid` of the holders in the caller."""
        ok = slots >= 0
        safe = np.where(ok, slots, 0)
        ok &= self.active[safe]
        return ok

    def target_alive(self, holders: npt.NDArray[np.intp]) -> npt.NDArray[np.bool_]:
        """For each holder slot: its target slot is active, is still the same entity, and
        is alive."""
        t = self.target[holders]
        ok = t >= 0
        safe = np.where(ok, t, 0)
        ok &= self.active[safe] & (self.eid[safe] == self.target_eid[holders])
        ok &= (self.flags[safe] & 1) == 0
        return ok

    def refresh_health_pct(self, slots: npt.NDArray[np.intp] | None = None) -> None:
        if slots is None:
            hp, mx = self.hp, self.max_hp
            self.health_pct[:] = np.clip((hp.astype(np.int64) * 100 + mx - 1) // mx, 0, 100)
        else:
            hp, mx = self.hp[slots], self.max_hp[slots]
            self.health_pct[slots] = np.clip((hp.astype(np.int64) * 100 + mx - 1) // mx, 0, 100)

    def states(self) -> npt.NDArray[np.void]:
        """Every slot's replicated state as EntityState records (inactive slots included,
        so a slot index is also a row index). Built once per tick, then sliced per client."""
        out = np.empty(self.capacity, dtype=ENTITY_STATE_DTYPE)
        out["id"] = self.eid
        out["kind"] = self.kind & KIND_MASK  # a ghost shows as what it mirrors
        out["flags"] = self.flags
        out["health_pct"] = self.health_pct
        out["level"] = self.level
        out["x"] = self.x
        out["y"] = self.y
        out["facing"] = self.facing
        return out

    def fingerprint(self) -> bytes:
        """Every column's bytes: two worlds with equal fingerprints are in the same state
        (the determinism test compares these)."""
        return b"".join(getattr(self, name).tobytes() for name in _COLUMNS)
