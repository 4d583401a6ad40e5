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
    lay = _Layout(bytes(prefix), struct.Struct(fmt), table_at, table_size, vec_fields)
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
