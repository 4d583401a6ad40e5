"""A fast writer for the one message the tick sends a thousand times: the Snapshot packet.

The Python FlatBuffers builder costs ~30 us per snapshot (two small tables, field by
field); a thousand clients would spend 30 ms per tick on it. The layout of a snapshot
packet depends only on which optional parts are present, so per presence mask we compute
once the vtables and field positions, and each snapshot is then one `struct.pack` of the
table plus the raw bytes of its vectors (numpy arrays whose bytes *are* the FlatBuffers
struct layout). The output is an ordinary FlatBuffers `Packet` that `messages.decode`
and the flatc-generated accessors read (tests/region/test_snapwire.py checks both).

Layout: root offset, Packet vtable, Packet table, Snapshot vtable (truncated after the
last present field), Snapshot table (u64 first so it is 8-aligned), then the vectors.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gameserver.wire.fb.Message import Message as MessageType

# Snapshot slots (schema order).
_TICK, _LAST_INPUT, _TIME, _CORRECTED, _YOU, _ENTITIES = range(6)
_BASELINE, _REMOVED, _DELTAS, _STATUS, _EVENTS = range(6, 11)

_PKT_VT = struct.pack("<HHHHHHH", 14, 12, 0, 0, 0, 8, 4) + b"\0\0"  # 16 bytes at 4
_PKT_TABLE_AT = 20
_SNAP_VT_AT = 32

HAS_ENTITIES, HAS_REMOVED, HAS_DELTAS, HAS_EVENTS, HAS_STATUS, HAS_CORRECTED, HAS_BASELINE = (
    1 << i for i in range(7)
)
_VECTORS = (
    (HAS_ENTITIES, _ENTITIES),
    (HAS_REMOVED, _REMOVED),
    (HAS_DELTAS, _DELTAS),
    (HAS_EVENTS, _EVENTS),
)


@dataclass(frozen=True, slots=True)
class _Layout:
    prefix: bytes  # root offset .. snapshot vtable and padding, constant for the mask
    table: (
        struct.Struct
    )  # soffset, time, tick, last_input, [baseline], you, [uoffsets..], [status], [corrected]
    table_at: int
    table_size: int
    vec_fields: tuple[int, ...]  # absolute positions of the present vectors' uoffset fields
    # The same table as a numpy record (fields named by slot), for `write_snapshots`.
    table_dtype: np.dtype[np.void]


_LAYOUTS: dict[int, _Layout] = {}


def _layout(mask: int) -> _Layout:
    lay = _LAYOUTS.get(mask)
    if lay is not None:
        return lay
    fields: list[tuple[int, int, str]] = [(_TIME, 8, "Q"), (_TICK, 4, "I"), (_LAST_INPUT, 4, "I")]
    if mask & HAS_BASELINE:
        fields.append((_BASELINE, 4, "I"))
    fields.append((_YOU, 20, "20s"))
    for bit, slot in _VECTORS:
        if mask & bit:
            fields.append((slot, 4, "I"))
    if mask & HAS_STATUS:
        fields.append((_STATUS, 24, "24s"))
    if mask & HAS_CORRECTED:
        fields.append((_CORRECTED, 4, "B3x"))
    offsets: dict[int, int] = {}
    pos = 4
    fmt = "<i"
    for slot, size, code in fields:
        offsets[slot] = pos
        pos += size
        fmt += code
    table_size = pos
    n_slots = max(offsets) + 1
    vt = struct.pack(
        f"<HH{n_slots}H", 4 + 2 * n_slots, table_size, *(offsets.get(i, 0) for i in range(n_slots))
    )
    vt_end = _SNAP_VT_AT + len(vt)
    table_at = vt_end + (-vt_end) % 4
    if (table_at + 4) % 8:
        table_at += 4
    msg_field = _PKT_TABLE_AT + 4
    prefix = bytearray(table_at)
    struct.pack_into("<I", prefix, 0, _PKT_TABLE_AT)
    prefix[4:20] = _PKT_VT
    struct.pack_into(
        "<iIB", prefix, _PKT_TABLE_AT, _PKT_TABLE_AT - 4, table_at - msg_field, MessageType.Snapshot
    )
    prefix[_SNAP_VT_AT:vt_end] = vt
    vec_fields = tuple(table_at + offsets[slot] for bit, slot in _VECTORS if mask & bit)
    np_codes = {"Q": "<u8", "I": "<u4", "20s": ("u1", 20), "24s": ("u1", 24), "B3x": "u1"}
    names = ["soffset"] + [f"s{slot}" for slot, _, _ in fields]
    formats: list[object] = ["<i4"] + [np_codes[code] for _, _, code in fields]
    table_dtype = np.dtype(
        {
            "names": names,
            "formats": formats,
            "offsets": [0] + [offsets[slot] for slot, _, _ in fields],
            "itemsize": table_size,
        }
    )
    lay = _Layout(bytes(prefix), struct.Struct(fmt), table_at, table_size, vec_fields, table_dtype)
    _LAYOUTS[mask] = lay
    return lay


def header_size(mask: int) -> int:
    """Bytes of a snapshot with this mask before its vectors' contents (each present
    vector adds 4 bytes of length plus its elements)."""
    lay = _layout(mask)
    return lay.table_at + lay.table_size + 4 * len(lay.vec_fields)


def write_snapshot(
    *,
    tick: int,
    last_input_seq: int,
    server_time_ms: int,
    you: bytes,
    corrected: bool = False,
    baseline_tick: int = 0,
    entities: bytes = b"",
    removed: bytes = b"",
    deltas: bytes = b"",
    events: bytes = b"",
    status: bytes | None = None,
) -> bytes:
    """An encoded `Envelope(Snapshot(...))` (no acks, not reliable). Vector arguments are
    the packed element bytes (20-byte EntityState, u32 ids, 12-byte EntityDelta, 20-byte
    CombatEvent)."""
    mask = (
        (HAS_ENTITIES if entities else 0)
        | (HAS_REMOVED if removed else 0)
        | (HAS_DELTAS if deltas else 0)
        | (HAS_EVENTS if events else 0)
        | (HAS_STATUS if status is not None else 0)
        | (HAS_CORRECTED if corrected else 0)
        | (HAS_BASELINE if baseline_tick else 0)
    )
    lay = _layout(mask)
    vecs = [
        v
        for v, bit in (
            (entities, HAS_ENTITIES),
            (removed, HAS_REMOVED),
            (deltas, HAS_DELTAS),
            (events, HAS_EVENTS),
        )
        if mask & bit
    ]
    pos = lay.table_at + lay.table_size
    offs: list[int] = []
    parts: list[bytes] = []
    elem = {HAS_ENTITIES: 20, HAS_REMOVED: 4, HAS_DELTAS: 12, HAS_EVENTS: 20}
    sizes = [elem[bit] for bit, _ in _VECTORS if mask & bit]
    for field_at, v, size in zip(lay.vec_fields, vecs, sizes, strict=True):
        offs.append(pos - field_at)
        parts.append(struct.pack("<I", len(v) // size))
        parts.append(v)
        pos += 4 + len(v)
    values: list[object] = [lay.table_at - _SNAP_VT_AT, server_time_ms, tick, last_input_seq]
    if baseline_tick:
        values.append(baseline_tick)
    values.append(you)
    values.extend(offs)
    if status is not None:
        values.append(status)
    if corrected:
        values.append(1)
    return lay.prefix + lay.table.pack(*values) + b"".join(parts)


_ELEM = (20, 4, 12, 20)  # element bytes of entities, removed, deltas, events
_HEAD = np.array([header_size(m) - 4 * bin(m & 15).count("1") for m in range(128)], np.int64)


def _scatter(
    buf: npt.NDArray[np.uint8],
    at: npt.NDArray[np.int64],
    lengths: npt.NDArray[np.int64],
    data: npt.NDArray[np.uint8],
) -> None:
    """Copy consecutive runs of `data` (run i is `lengths[i]` bytes) to `buf[at[i]:]`."""
    total = int(lengths.sum())
    if total:
        starts = np.cumsum(lengths) - lengths
        buf[np.repeat(at - starts, lengths) + np.arange(total)] = data[:total]


def write_snapshots(
    *,
    tick: int,
    server_time_ms: int,
    last_input_seq: npt.NDArray[np.int64],
    you: npt.NDArray[np.uint8],
    corrected: npt.NDArray[np.bool_],
    baseline_tick: npt.NDArray[np.int64],
    status: npt.NDArray[np.uint8],
    has_status: npt.NDArray[np.bool_],
    vectors: tuple[
        tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]],
        tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]],
        tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]],
        tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]],
    ],
) -> list[bytes]:
    """`write_snapshot` for n clients at once, byte for byte the same packets, with the
    per-client work done as array operations: per presence mask one record array of
    tables, then every packet's parts scattered into one buffer and sliced.

    `you` is (n, 20) and `status` (n, 24) bytes; `vectors` are (entities, removed, deltas,
    events), each the concatenated element bytes of all clients in client order and the
    (n + 1) element offsets of each client's run."""
    counts = [np.diff(off).astype(np.int64) for _, off in vectors]
    mask = (
        np.where(counts[0] > 0, HAS_ENTITIES, 0)
        | np.where(counts[1] > 0, HAS_REMOVED, 0)
        | np.where(counts[2] > 0, HAS_DELTAS, 0)
        | np.where(counts[3] > 0, HAS_EVENTS, 0)
        | np.where(has_status, HAS_STATUS, 0)
        | np.where(corrected, HAS_CORRECTED, 0)
        | np.where(baseline_tick != 0, HAS_BASELINE, 0)
    )
    head = _HEAD[mask]
    vec_at: list[npt.NDArray[np.int64]] = []  # each vector's length field, from packet start
    cursor = head.copy()
    for c, size in zip(counts, _ELEM, strict=True):
        vec_at.append(cursor.copy())
        cursor += np.where(c > 0, 4 + c * size, 0)
    size_all = cursor
    start = np.cumsum(size_all) - size_all
    buf = np.zeros(int(size_all.sum()), dtype=np.uint8)
    for m in np.unique(mask).tolist():
        who = np.flatnonzero(mask == m)
        lay = _layout(m)
        tbl = np.zeros(len(who), dtype=lay.table_dtype)
        tbl["soffset"] = lay.table_at - _SNAP_VT_AT
        tbl[f"s{_TIME}"] = server_time_ms
        tbl[f"s{_TICK}"] = tick
        tbl[f"s{_LAST_INPUT}"] = last_input_seq[who]
        if m & HAS_BASELINE:
            tbl[f"s{_BASELINE}"] = baseline_tick[who]
        tbl[f"s{_YOU}"] = you[who]
        present = [(j, slot) for j, (bit, slot) in enumerate(_VECTORS) if m & bit]
        for (j, slot), field_at in zip(present, lay.vec_fields, strict=True):
            tbl[f"s{slot}"] = vec_at[j][who] - field_at
        if m & HAS_STATUS:
            tbl[f"s{_STATUS}"] = status[who]
        if m & HAS_CORRECTED:
            tbl[f"s{_CORRECTED}"] = 1
        h = lay.table_at + lay.table_size
        rows = np.empty((len(who), h), dtype=np.uint8)
        rows[:, : lay.table_at] = np.frombuffer(lay.prefix, dtype=np.uint8)
        rows[:, lay.table_at :] = tbl.view(np.uint8).reshape(len(who), lay.table_size)
        buf[(start[who][:, None] + np.arange(h)).ravel()] = rows.ravel()
    for (data, _), c, size, at in zip(vectors, counts, _ELEM, vec_at, strict=True):
        has = np.flatnonzero(c > 0)
        if not len(has):
            continue
        pos = start[has] + at[has]
        lengths = c[has].astype("<u4").view(np.uint8).reshape(-1, 4)
        buf[(pos[:, None] + np.arange(4)).ravel()] = lengths.ravel()
        _scatter(buf, pos + 4, c[has] * size, data)
    raw = buf.tobytes()
    ends = (start + size_all).tolist()
    return [raw[a:b] for a, b in zip(start.tolist(), ends, strict=True)]
