"""The boundary dataclasses of `gameserver/api/` to and from their proto messages.

Pydantic records (Character, CharacterState, Lease) travel as their JSON and are validated
on receipt, so a field added to a record needs no proto change and cannot drift from a
twin definition; these are control-plane messages (a few per player session), where JSON's
cost is a few microseconds. The frozen dataclasses map field by field.
"""

from __future__ import annotations

from gameserver.api.oem import Placement
from gameserver.api.region import Continuity, Extracted, JoinResult, PlayerJoin
from gameserver.rpc import realm_pb2 as pb
from gameserver.storage.models import Character, CharacterState, Lease


def character_json(c: Character) -> bytes:
    return c.model_dump_json().encode()


def character_of(raw: bytes) -> Character:
    return Character.model_validate_json(raw)


def state_json(s: CharacterState) -> bytes:
    return s.model_dump_json().encode()


def state_of(raw: bytes) -> CharacterState:
    return CharacterState.model_validate_json(raw)


def join_result_pb(j: JoinResult) -> pb.JoinResult:
    return pb.JoinResult(entity_id=j.entity_id, x=j.x, y=j.y, facing=j.facing)


def join_result_of(m: pb.JoinResult) -> JoinResult:
    return JoinResult(entity_id=m.entity_id, x=m.x, y=m.y, facing=m.facing)


def placement_pb(p: Placement) -> pb.Placement:
    return pb.Placement(
        server_id=p.server_id,
        address=p.address,
        region=p.region,
        join=join_result_pb(p.join),
        max_speed=p.max_speed,
    )


def placement_of(m: pb.Placement) -> Placement:
    return Placement(
        server_id=m.server_id,
        address=m.address,
        region=m.region,
        join=join_result_of(m.join),
        max_speed=m.max_speed,
    )


def player_join_pb(j: PlayerJoin) -> pb.PlayerJoin:
    c = j.continuity
    return pb.PlayerJoin(
        character_json=character_json(j.character),
        state_json=state_json(j.state),
        lease_json=j.lease.model_dump_json().encode(),
        conn_id=j.conn_id,
        rcm=j.rcm,
        continuity=pb.Continuity(
            last_seq=c.last_seq,
            client_ms=c.client_ms,
            session_ms=c.session_ms,
            pending=list(c.pending),
        ),
    )


def player_join_of(m: pb.PlayerJoin) -> PlayerJoin:
    c = m.continuity
    return PlayerJoin(
        character=character_of(m.character_json),
        state=state_of(m.state_json),
        lease=Lease.model_validate_json(m.lease_json),
        conn_id=m.conn_id,
        rcm=m.rcm,
        continuity=Continuity(
            last_seq=c.last_seq,
            client_ms=c.client_ms,
            session_ms=c.session_ms,
            pending=tuple(bytes(p) for p in c.pending),
        ),
    )


def extracted_pb(e: Extracted) -> pb.Extracted:
    return pb.Extracted(join=player_join_pb(e.join), saved=e.saved)


def extracted_of(m: pb.Extracted) -> Extracted:
    return Extracted(join=player_join_of(m.join), saved=m.saved)
