"""numpy mirrors of the FlatBuffers structs in `schema/realm.fbs`.

Hot entity state lives in numpy columns and snapshots carry entities as one vector of
structs, so the cheapest way to put 40 entities on the wire is to gather them into an
array whose bytes *are* the FlatBuffers struct layout and copy those bytes in one go
(see `messages.py`). These dtypes are that layout: little-endian, the schema's field
order, the offsets and total size flatc computes (`tests/wire/test_structs.py` builds
structs with the generated code and reads them with numpy, and the other way round).

Change the schema's structs and these must change with them; the test fails otherwise.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

#: `struct EntityState` (20 bytes, 4-byte aligned).
ENTITY_STATE_DTYPE: np.dtype[np.void] = np.dtype(
    {
        "names": ["id", "kind", "flags", "health_pct", "level", "x", "y", "facing"],
        "formats": ["<u4", "u1", "u1", "u1", "u1", "<f4", "<f4", "<f4"],
        "offsets": [0, 4, 5, 6, 7, 8, 12, 16],
        "itemsize": 20,
    }
)

#: `struct InputFrame` (20 bytes, 4-byte aligned).
INPUT_FRAME_DTYPE: np.dtype[np.void] = np.dtype(
    {
        "names": ["seq", "dt_ms", "flags", "x", "y", "facing"],
        "formats": ["<u4", "<u2", "<u2", "<f4", "<f4", "<f4"],
        "offsets": [0, 4, 6, 8, 12, 16],
        "itemsize": 20,
    }
)

#: FlatBuffers alignment of both structs (their largest scalar is 4 bytes).
STRUCT_ALIGN = 4

#: `struct EntityDelta` (12 bytes): a known entity's change, relative to a baseline.
ENTITY_DELTA_DTYPE: np.dtype[np.void] = np.dtype(
    {
        "names": ["id", "dx", "dy", "facing", "health_pct", "flags", "level"],
        "formats": ["<u4", "<i2", "<i2", "u1", "u1", "u1", "u1"],
        "offsets": [0, 4, 6, 8, 9, 10, 11],
        "itemsize": 12,
    }
)

#: `struct PlayerStatus` (24 bytes): the player's own combat state.
PLAYER_STATUS_DTYPE: np.dtype[np.void] = np.dtype(
    {
        "names": [
            "health", "max_health", "xp", "target", "mana", "max_mana",
            "level", "cast_ability", "flags", "reserved",
        ],
        "formats": ["<i4", "<i4", "<u4", "<u4", "<u2", "<u2", "u1", "u1", "u1", "u1"],
        "offsets": [0, 4, 8, 12, 16, 18, 20, 21, 22, 23],
        "itemsize": 24,
    }
)

#: `struct CombatEvent` (20 bytes).
COMBAT_EVENT_DTYPE: np.dtype[np.void] = np.dtype(
    {
        "names": ["seq", "kind", "ability", "info", "source", "target", "amount"],
        "formats": ["<u4", "u1", "u1", "<u2", "<u4", "<u4", "<i4"],
        "offsets": [0, 4, 5, 6, 8, 12, 16],
        "itemsize": 20,
    }
)

#: Position quantum of `EntityDelta.dx/dy` in metres, and facing steps per turn. Server
#: and client reconstruct with the same float32 operations (see `dequantise_position`).
POS_QUANTUM = 1.0 / 64.0
FACING_STEPS = 256

#: `EntityState.flags` bits.
FLAG_DEAD = 1
FLAG_IN_COMBAT = 2
FLAG_CASTING = 4
FLAG_KNOCKBACK = 8  # server-driven displacement: the client accepts the correction
FLAG_STUNNED = 16
FLAG_ROOTED = 32
FLAG_EVADING = 64

#: `CombatEvent.kind` values.
EV_DAMAGE = 1
EV_HEAL = 2
EV_CAST_START = 3
EV_CAST_DONE = 4
EV_INTERRUPTED = 5
EV_CAST_FAILED = 6  # info: the reason code (gameserver.region.abilities.CastError)
EV_DEATH = 7
EV_RESPAWN = 8
EV_XP = 9
EV_LEVEL_UP = 10
EV_LOOT = 11  # amount: item id, info: count
EV_KNOCKBACK = 12
EV_PHASE = 13  # amount: the boss's new phase
EV_EVADE = 14
EV_AGGRO = 15

#: `PlayerStatus.flags` bits.
STATUS_AUTO_ATTACK = 1
STATUS_DEAD = 2


def quantise_facing(facing: Any) -> Any:
    """Facing (radians, any range) to 1/256 turns, as uint8 (array or scalar)."""
    steps = np.round(np.asarray(facing, dtype=np.float64) * (FACING_STEPS / (2 * np.pi)))
    return (steps.astype(np.int64) % FACING_STEPS).astype(np.uint8)


def dequantise_facing(q: Any) -> Any:
    return np.asarray(q, dtype=np.float32) * np.float32(2 * np.pi / FACING_STEPS)


def dequantise_position(base: Any, dq: Any) -> Any:
    """`base + dq * POS_QUANTUM` in float32, elementwise: the one reconstruction formula,
    so the server's idea of the client's view and the client's view agree bit for bit."""
    return (
        np.asarray(base, dtype=np.float32)
        + np.asarray(dq, dtype=np.int16).astype(np.float32) * np.float32(POS_QUANTUM)
    ).astype(np.float32)

EntityStates = npt.NDArray[np.void]
InputFrames = npt.NDArray[np.void]


def entity_states(n: int = 0) -> EntityStates:
    """A zeroed array of `n` entity states."""
    return np.zeros(n, dtype=ENTITY_STATE_DTYPE)


def input_frames(n: int = 0) -> InputFrames:
    """A zeroed array of `n` input frames."""
    return np.zeros(n, dtype=INPUT_FRAME_DTYPE)


def entity_state(**fields: Any) -> np.void:
    """One entity state record (`np.void`), e.g. for `Snapshot.you`."""
    rec = np.zeros(1, dtype=ENTITY_STATE_DTYPE)
    for name, value in fields.items():
        rec[name] = value
    out: np.void = rec[0]
    return out
