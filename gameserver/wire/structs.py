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
