"""Round trips of every message, agreement with the generated code, and hostile input."""

from __future__ import annotations

import struct
from typing import Any

import flatbuffers
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gameserver.wire import messages as m
from gameserver.wire.errors import WireError
from gameserver.wire.fb import Packet as fb_packet
from gameserver.wire.fb import Ping as fb_ping
from gameserver.wire.fb.Message import Message as MessageType
from gameserver.wire.fb.Packet import Packet
from gameserver.wire.fb.Snapshot import Snapshot as FbSnapshot
from gameserver.wire.structs import ENTITY_STATE_DTYPE, INPUT_FRAME_DTYPE, entity_state

from .support import random_frames, random_states

RNG = np.random.default_rng(7)
CHAR = m.CharacterInfo(
    id=2**63 + 5,
    name="Thrall",
    race="orc",
    char_class="shaman",
    faction="horde",
    level=60,
    region="durotar",
    x=1.5,
    y=-2.25,
)

ALL_MESSAGES: list[m.Message] = [
    m.Hello(client_version="1.2.3-ü"),
    m.Welcome(account_id=2**64 - 1, conn_id=2**32 - 1, server_time_ms=1_700_000_000_000),
    m.CharacterListRequest(),
    m.CharacterList(characters=(CHAR, m.CharacterInfo(id=1, name="B"))),
    m.CharacterList(),
    m.CreateCharacter(name="Jaina", race="human", char_class="mage"),
    m.CreateCharacterResult(ok=True, character=CHAR),
    m.CreateCharacterResult(ok=False, error="name taken"),
    m.EnterWorld(character_id=99),
    m.EnterWorldResult(
        ok=True,
        entity_id=7,
        region="elwynn",
        server="region-0",
        x=1.0,
        y=2.0,
        facing=3.0,
        tick_rate=20,
        max_speed=7.5,
    ),
    m.Inputs(frames=random_frames(RNG, 5)),
    m.Inputs(),
    m.Snapshot(
        tick=10,
        last_input_seq=4,
        server_time_ms=123,
        corrected=True,
        you=entity_state(id=1, x=2.5, health_pct=100),
        entities=random_states(RNG, 40),
    ),
    m.Snapshot(),
    m.Logout(),
    m.LogoutResult(saved=True),
    m.Ping(client_time_ms=5),
    m.Pong(client_time_ms=5, server_time_ms=6),
    m.Ack(),
    m.Error(code="bad_name", message="x" * m.TEXT_MAX),
    m.Disconnect(reason="kicked"),
    m.CastAbility(ability=3, target=2**32 - 1),
    m.SetAutoAttack(enabled=True, target=12),
    m.Respawn(),
    m.SnapshotAck(tick=2**32 - 1),
    m.RwamRequest(op="mail.send", body='{"to":"Jaina","subject":"hi \u00e9"}'),
    m.RwamResult(ok=True, code="", message="", body='{"id":7}'),
    m.RwamResult(ok=False, code="not_enough_gold", message="you have 3 gold"),
    m.Notice(kind="chat", body='{"from":"Thrall","text":"lok\'tar"}'),
]


def test_every_union_member_is_covered() -> None:
    names = {k for k, v in vars(MessageType).items() if isinstance(v, int) and k != "NONE"}
    covered = {type(msg).__name__ for msg in ALL_MESSAGES}
    assert names == covered


@pytest.mark.parametrize("msg", ALL_MESSAGES, ids=lambda msg: type(msg).__name__)
def test_round_trip(msg: m.Message) -> None:
    env = m.Envelope(msg, reliable_id=3, request_id=9, acks=(1, 2, 2**32 - 1))
    data = m.encode(env)
    assert type(data) is bytes
    assert m.decode(data) == env
    bare = m.Envelope(msg)
    assert m.decode(m.encode(bare)) == bare


@pytest.mark.parametrize("msg", ALL_MESSAGES, ids=lambda msg: type(msg).__name__)
def test_generated_accessors_read_what_we_write(msg: m.Message) -> None:
    """Our encoder and the flatc-generated reader agree on every field of every message."""
    data = m.encode(m.Envelope(msg, reliable_id=3, request_id=9, acks=(4, 5)))
    pkt = Packet.GetRootAs(data, 0)
    assert (pkt.ReliableId(), pkt.RequestId(), list(pkt.AcksAsNumpy())) == (3, 9, [4, 5])
    cls_name = type(msg).__name__
    assert pkt.MsgType() == getattr(MessageType, cls_name)
    module = __import__(f"gameserver.wire.fb.{cls_name}", fromlist=[cls_name])
    fb = getattr(module, cls_name)()
    tab = pkt.Msg()
    fb.Init(tab.Bytes, tab.Pos)
    assert _from_generated(cls_name, fb) == msg


def _char_from_generated(g: Any) -> m.CharacterInfo:
    return m.CharacterInfo(
        id=g.Id(),
        name=_s(g.Name()),
        race=_s(g.Race()),
        char_class=_s(g.CharClass()),
        faction=_s(g.Faction()),
        level=g.Level(),
        region=_s(g.Region()),
        x=g.X(),
        y=g.Y(),
    )


def _s(b: bytes | None) -> str:
    return b.decode() if b else ""


def _structs(get: Any, n: int, dtype: np.dtype, fields: list[str]) -> np.ndarray:
    arr = np.zeros(n, dtype=dtype)
    for i in range(n):
        s = get(i)
        arr[i] = tuple(getattr(s, f)() for f in fields)
    return arr


ES_FIELDS = ["Id", "Kind", "Flags", "HealthPct", "Level", "X", "Y", "Facing"]


def _from_generated(name: str, a: Any) -> m.Message:
    """Rebuild a message through the flatc-generated accessors only."""
    match name:
        case "Hello":
            return m.Hello(_s(a.ClientVersion()))
        case "Welcome":
            return m.Welcome(a.AccountId(), a.ConnId(), a.ServerTimeMs())
        case "CharacterList":
            n = a.CharactersLength()
            return m.CharacterList(tuple(_char_from_generated(a.Characters(i)) for i in range(n)))
        case "CreateCharacter":
            return m.CreateCharacter(_s(a.Name()), _s(a.Race()), _s(a.CharClass()))
        case "CreateCharacterResult":
            c = a.Character()
            ch = _char_from_generated(c) if c is not None else None
            return m.CreateCharacterResult(a.Ok(), _s(a.Error()), ch)
        case "EnterWorld":
            return m.EnterWorld(a.CharacterId())
        case "EnterWorldResult":
            return m.EnterWorldResult(
                a.Ok(),
                _s(a.Error()),
                a.EntityId(),
                _s(a.Region()),
                _s(a.Server()),
                a.X(),
                a.Y(),
                a.Facing(),
                a.TickRate(),
                a.MaxSpeed(),
            )
        case "Inputs":
            fields = ["Seq", "DtMs", "Flags", "X", "Y", "Facing"]
            n = a.FramesLength()
            return m.Inputs(_structs(a.Frames, n, INPUT_FRAME_DTYPE, fields))
        case "Snapshot":
            you = a.You()
            you_rec = (
                np.array([tuple(getattr(you, f)() for f in ES_FIELDS)], ENTITY_STATE_DTYPE)[0]
                if you is not None
                else None
            )
            n = a.EntitiesLength()
            return m.Snapshot(
                a.Tick(),
                a.LastInputSeq(),
                a.ServerTimeMs(),
                a.Corrected(),
                you_rec,
                _structs(a.Entities, n, ENTITY_STATE_DTYPE, ES_FIELDS),
            )
        case "LogoutResult":
            return m.LogoutResult(a.Saved())
        case "Ping":
            return m.Ping(a.ClientTimeMs())
        case "Pong":
            return m.Pong(a.ClientTimeMs(), a.ServerTimeMs())
        case "Error":
            return m.Error(_s(a.Code()), _s(a.Message()))
        case "Disconnect":
            return m.Disconnect(_s(a.Reason()))
        case "CastAbility":
            return m.CastAbility(a.Ability(), a.Target())
        case "SetAutoAttack":
            return m.SetAutoAttack(a.Enabled(), a.Target())
        case "SnapshotAck":
            return m.SnapshotAck(a.Tick())
        case "RwamRequest":
            return m.RwamRequest(_s(a.Op()), _s(a.Body()))
        case "RwamResult":
            return m.RwamResult(a.Ok(), _s(a.Code()), _s(a.Message()), _s(a.Body()))
        case "Notice":
            return m.Notice(_s(a.Kind()), _s(a.Body()))
        case _:
            msg: m.Message = getattr(m, name)()
            return msg


def test_decode_reads_generated_builder_output() -> None:
    """A packet built field by field with the generated API decodes correctly."""
    b = flatbuffers.Builder(64)
    fb_ping.Start(b)
    fb_ping.AddClientTimeMs(b, 777)
    ping = fb_ping.End(b)
    fb_packet.StartAcksVector(b, 2)
    b.PrependUint32(8)
    b.PrependUint32(7)
    acks = b.EndVector()
    fb_packet.Start(b)
    fb_packet.AddReliableId(b, 11)
    fb_packet.AddAcks(b, acks)
    fb_packet.AddMsgType(b, MessageType.Ping)
    fb_packet.AddMsg(b, ping)
    b.Finish(fb_packet.End(b))
    assert m.decode(b.Output()) == m.Envelope(m.Ping(777), reliable_id=11, acks=(7, 8))


def test_snapshot_vector_is_the_array_bytes(rng: np.random.Generator) -> None:
    states = random_states(rng, 40)
    data = m.encode(m.Envelope(m.Snapshot(tick=1, entities=states)))
    # The array's bytes appear verbatim, once, in the packet: written in one go.
    assert data.count(states.tobytes()) == 1
    snap = FbSnapshot()
    pkt = Packet.GetRootAs(data, 0)
    snap.Init(pkt.Msg().Bytes, pkt.Msg().Pos)
    start = snap._tab.Vector(snap._tab.Offset(14))
    view = np.frombuffer(data, ENTITY_STATE_DTYPE, count=40, offset=start)
    assert view.tobytes() == states.tobytes()
    decoded = m.decode(data).msg
    assert isinstance(decoded, m.Snapshot)
    assert decoded.entities.tobytes() == states.tobytes()
    assert decoded.entities.dtype == ENTITY_STATE_DTYPE
    assert decoded.entities.flags.owndata and decoded.entities.flags.writeable  # a copy


def test_encode_snapshot_fast_matches_encode(rng: np.random.Generator) -> None:
    states = random_states(rng, 40)
    you = states[3]
    env = m.Envelope(
        m.Snapshot(
            tick=9, last_input_seq=8, server_time_ms=7, corrected=True, you=you, entities=states[5:]
        ),
        acks=(1, 2),
    )
    fast = m.encode_snapshot_fast(
        states[5:],
        tick=9,
        last_input_seq=8,
        server_time_ms=7,
        corrected=True,
        you=you,
        acks=(1, 2),
    )
    assert fast == m.encode(env)
    raw_you = m.encode_snapshot_fast(
        states[5:],
        tick=9,
        last_input_seq=8,
        server_time_ms=7,
        corrected=True,
        you=you.tobytes(),
        acks=(1, 2),
    )
    assert raw_you == fast
    assert m.decode(fast) == env


def test_snapshot_gathered_with_fancy_index(rng: np.random.Generator) -> None:
    states = random_states(rng, 100)
    idx = np.array([5, 1, 99, 42])
    data = m.encode_snapshot_fast(states[idx], tick=1)
    got = m.decode(data).msg
    assert isinstance(got, m.Snapshot)
    assert got.entities.tobytes() == states[idx].tobytes()


def test_wrong_dtype_is_rejected_on_encode() -> None:
    with pytest.raises(ValueError):
        m.encode(m.Envelope(m.Snapshot(entities=np.zeros(3, dtype=INPUT_FRAME_DTYPE))))
    with pytest.raises(ValueError):
        m.encode(m.Envelope(m.Inputs(frames=np.zeros(3, dtype=ENTITY_STATE_DTYPE))))


def test_encode_limits() -> None:
    with pytest.raises(ValueError):
        m.encode(m.Envelope(m.Hello("x" * (m.NAME_MAX + 1))))
    with pytest.raises(ValueError):
        m.encode(m.Envelope(m.Ping(-1)))
    with pytest.raises(ValueError):
        m.encode(m.Envelope(m.Ack(), acks=tuple(range(1, m.MAX_ACKS + 2))))
    with pytest.raises(TypeError):
        m.encode(m.Envelope("nope"))  # type: ignore[arg-type]


# ------------------------------------------------------------------ hostile input


def _raw_packet_with_hello_string(payload: bytes, claimed_len: int | None = None) -> bytes:
    """A valid Hello packet, then patch its string's bytes/length by hand."""
    marker = b"\x01" * len(payload)
    data = bytearray(m.encode(m.Envelope(m.Hello(marker.decode()))))
    pos = data.find(marker)
    data[pos : pos + len(payload)] = payload
    if claimed_len is not None:
        struct.pack_into("<I", data, pos - 4, claimed_len)
    return bytes(data)


def test_invalid_utf8_is_wire_error() -> None:
    with pytest.raises(WireError):
        m.decode(_raw_packet_with_hello_string(b"\xff\xfe\xfd"))


def test_string_over_cap_is_wire_error() -> None:
    # Encoder refuses, so forge one: a 300-byte string where names are capped at 256.
    b = flatbuffers.Builder(512)
    s = b.CreateString(b"a" * 300)
    b.StartObject(1)
    b.PrependUOffsetTRelativeSlot(0, s, 0)
    hello = b.EndObject()
    b.StartObject(5)
    b.PrependUOffsetTRelativeSlot(4, hello, 0)
    b.PrependUint8Slot(3, MessageType.Hello, 0)
    b.Finish(b.EndObject())
    with pytest.raises(WireError, match="limit"):
        m.decode(b.Output())


def test_string_length_past_buffer_is_wire_error() -> None:
    with pytest.raises(WireError):
        m.decode(_raw_packet_with_hello_string(b"abc", claimed_len=200))


def test_vector_length_past_buffer_is_wire_error(rng: np.random.Generator) -> None:
    states = random_states(rng, 3)
    data = bytearray(m.encode(m.Envelope(m.Snapshot(entities=states))))
    pos = data.find(states.tobytes())
    struct.pack_into("<I", data, pos - 4, 2**31)  # claims 43 GB of entities
    with pytest.raises(WireError, match="vector"):
        m.decode(bytes(data))


def test_unknown_union_type_is_wire_error() -> None:
    data = bytearray(m.encode(m.Envelope(m.Ping(1))))
    pkt = Packet.GetRootAs(data, 0)
    o = pkt._tab.Offset(10)
    assert data[pkt._tab.Pos + o] == MessageType.Ping
    first_unused = max(v for v in vars(MessageType).values() if isinstance(v, int)) + 1
    for bad in (0, first_unused, 255):
        data[pkt._tab.Pos + o] = bad
        with pytest.raises(WireError):
            m.decode(bytes(data))


def test_truncations_are_wire_errors() -> None:
    """Every cut raises, except cuts of trailing alignment padding (which lose nothing)."""
    for msg in ALL_MESSAGES:
        env = m.Envelope(msg, reliable_id=1, acks=(1, 2))
        data = m.encode(env)
        for cut in range(len(data)):
            padding_only = cut >= len(data) - 3 and not data[cut:].strip(b"\0")
            if padding_only:
                try:
                    assert m.decode(data[:cut]) == env
                except WireError:
                    pass
                continue
            with pytest.raises(WireError):
                m.decode(data[:cut])


def test_negative_and_huge_offsets() -> None:
    with pytest.raises(WireError):
        m.decode(struct.pack("<I", 0xFFFFFFF0) + bytes(12))
    # root table whose soffset points the vtable before the buffer start
    with pytest.raises(WireError):
        m.decode(struct.pack("<Ii", 4, 1000) + bytes(8))
    # vtable claiming a field beyond the table's size
    with pytest.raises(WireError):
        m.decode(struct.pack("<IHHHi", 10, 6, 4, 200, 6) + bytes(8))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=1500))
def test_fuzz_random_bytes_only_wire_error(data: bytes) -> None:
    try:
        m.decode(data)
    except WireError as e:
        _assert_deliberate(e)


def _assert_deliberate(e: WireError) -> None:
    """decode's catch-all turns reader bugs into WireError; the fuzzers must see none."""
    assert e.__cause__ is None or isinstance(e.__cause__, UnicodeDecodeError), repr(e)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(range(len(ALL_MESSAGES))),
    st.lists(st.tuples(st.integers(0, 2000), st.integers(0, 255)), min_size=1, max_size=8),
)
def test_fuzz_mutated_packets_only_wire_error(i: int, muts: list[tuple[int, int]]) -> None:
    data = bytearray(m.encode(m.Envelope(ALL_MESSAGES[i], reliable_id=2, acks=(1,))))
    for pos, val in muts:
        data[pos % len(data)] = val
    try:
        env = m.decode(bytes(data))
    except WireError as e:
        _assert_deliberate(e)
        return
    m.encode(env)  # whatever decodes is a well-formed envelope again


def test_character_list_is_capped() -> None:
    many = m.CharacterList(tuple(m.CharacterInfo(id=i) for i in range(m.MAX_CHARACTERS + 1)))
    with pytest.raises(ValueError):
        m.encode(m.Envelope(many))
    # forge one: a vector claiming MAX_CHARACTERS + 1 offsets, all to the same table
    b = flatbuffers.Builder(1024)
    b.StartObject(1)
    info = b.EndObject()
    b.StartVector(4, m.MAX_CHARACTERS + 1, 4)
    for _ in range(m.MAX_CHARACTERS + 1):
        b.PrependUOffsetTRelative(info)
    vec = b.EndVector()
    b.StartObject(1)
    b.PrependUOffsetTRelativeSlot(0, vec, 0)
    body = b.EndObject()
    b.StartObject(5)
    b.PrependUOffsetTRelativeSlot(4, body, 0)
    b.PrependUint8Slot(3, MessageType.CharacterList, 0)
    b.Finish(b.EndObject())
    with pytest.raises(WireError, match="characters"):
        m.decode(bytes(b.Output()))
