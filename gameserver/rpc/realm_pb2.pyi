# ruff: noqa
# mypy: ignore-errors
# Generated from gameserver/rpc/realm.proto by `realm dev gen-rpc`. DO NOT EDIT.
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Empty(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ActionRequest(_message.Message):
    __slots__ = ("character_id", "op", "body_json")
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    OP_FIELD_NUMBER: _ClassVar[int]
    BODY_JSON_FIELD_NUMBER: _ClassVar[int]
    character_id: int
    op: str
    body_json: str
    def __init__(self, character_id: _Optional[int] = ..., op: _Optional[str] = ..., body_json: _Optional[str] = ...) -> None: ...

class ActionResult(_message.Message):
    __slots__ = ("ok", "code", "message", "body_json")
    OK_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    BODY_JSON_FIELD_NUMBER: _ClassVar[int]
    ok: bool
    code: str
    message: str
    body_json: str
    def __init__(self, ok: _Optional[bool] = ..., code: _Optional[str] = ..., message: _Optional[str] = ..., body_json: _Optional[str] = ...) -> None: ...

class AccountRef(_message.Message):
    __slots__ = ("account_id",)
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    account_id: int
    def __init__(self, account_id: _Optional[int] = ...) -> None: ...

class CharacterRef(_message.Message):
    __slots__ = ("account_id", "character_id")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    account_id: int
    character_id: int
    def __init__(self, account_id: _Optional[int] = ..., character_id: _Optional[int] = ...) -> None: ...

class CreateCharacterRequest(_message.Message):
    __slots__ = ("account_id", "name", "race", "char_class")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    RACE_FIELD_NUMBER: _ClassVar[int]
    CHAR_CLASS_FIELD_NUMBER: _ClassVar[int]
    account_id: int
    name: str
    race: str
    char_class: str
    def __init__(self, account_id: _Optional[int] = ..., name: _Optional[str] = ..., race: _Optional[str] = ..., char_class: _Optional[str] = ...) -> None: ...

class CharacterRecord(_message.Message):
    __slots__ = ("character_json",)
    CHARACTER_JSON_FIELD_NUMBER: _ClassVar[int]
    character_json: bytes
    def __init__(self, character_json: _Optional[bytes] = ...) -> None: ...

class CharacterList(_message.Message):
    __slots__ = ("characters_json",)
    CHARACTERS_JSON_FIELD_NUMBER: _ClassVar[int]
    characters_json: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, characters_json: _Optional[_Iterable[bytes]] = ...) -> None: ...

class EnterWorldRequest(_message.Message):
    __slots__ = ("account_id", "character_id", "conn_id", "rcm")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    CONN_ID_FIELD_NUMBER: _ClassVar[int]
    RCM_FIELD_NUMBER: _ClassVar[int]
    account_id: int
    character_id: int
    conn_id: int
    rcm: str
    def __init__(self, account_id: _Optional[int] = ..., character_id: _Optional[int] = ..., conn_id: _Optional[int] = ..., rcm: _Optional[str] = ...) -> None: ...

class JoinResult(_message.Message):
    __slots__ = ("entity_id", "x", "y", "facing")
    ENTITY_ID_FIELD_NUMBER: _ClassVar[int]
    X_FIELD_NUMBER: _ClassVar[int]
    Y_FIELD_NUMBER: _ClassVar[int]
    FACING_FIELD_NUMBER: _ClassVar[int]
    entity_id: int
    x: float
    y: float
    facing: float
    def __init__(self, entity_id: _Optional[int] = ..., x: _Optional[float] = ..., y: _Optional[float] = ..., facing: _Optional[float] = ...) -> None: ...

class Placement(_message.Message):
    __slots__ = ("server_id", "address", "region", "join", "max_speed")
    SERVER_ID_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    JOIN_FIELD_NUMBER: _ClassVar[int]
    MAX_SPEED_FIELD_NUMBER: _ClassVar[int]
    server_id: str
    address: str
    region: str
    join: JoinResult
    max_speed: float
    def __init__(self, server_id: _Optional[str] = ..., address: _Optional[str] = ..., region: _Optional[str] = ..., join: _Optional[_Union[JoinResult, _Mapping]] = ..., max_speed: _Optional[float] = ...) -> None: ...

class LeaveWorldRequest(_message.Message):
    __slots__ = ("account_id", "reason", "kick")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    KICK_FIELD_NUMBER: _ClassVar[int]
    account_id: int
    reason: str
    kick: str
    def __init__(self, account_id: _Optional[int] = ..., reason: _Optional[str] = ..., kick: _Optional[str] = ...) -> None: ...

class LeaveWorldReply(_message.Message):
    __slots__ = ("saved",)
    SAVED_FIELD_NUMBER: _ClassVar[int]
    saved: bool
    def __init__(self, saved: _Optional[bool] = ...) -> None: ...

class HandoffRequest(_message.Message):
    __slots__ = ("character_id", "account_id", "to_region", "reason")
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    TO_REGION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    character_id: int
    account_id: int
    to_region: str
    reason: str
    def __init__(self, character_id: _Optional[int] = ..., account_id: _Optional[int] = ..., to_region: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class HandoffReply(_message.Message):
    __slots__ = ("moved",)
    MOVED_FIELD_NUMBER: _ClassVar[int]
    moved: bool
    def __init__(self, moved: _Optional[bool] = ...) -> None: ...

class EnterInstanceRequest(_message.Message):
    __slots__ = ("character_id", "account_id", "template", "back_region", "back_x", "back_y")
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_FIELD_NUMBER: _ClassVar[int]
    BACK_REGION_FIELD_NUMBER: _ClassVar[int]
    BACK_X_FIELD_NUMBER: _ClassVar[int]
    BACK_Y_FIELD_NUMBER: _ClassVar[int]
    character_id: int
    account_id: int
    template: str
    back_region: str
    back_x: float
    back_y: float
    def __init__(self, character_id: _Optional[int] = ..., account_id: _Optional[int] = ..., template: _Optional[str] = ..., back_region: _Optional[str] = ..., back_x: _Optional[float] = ..., back_y: _Optional[float] = ...) -> None: ...

class LeaveInstanceRequest(_message.Message):
    __slots__ = ("character_id", "account_id", "to_region")
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    TO_REGION_FIELD_NUMBER: _ClassVar[int]
    character_id: int
    account_id: int
    to_region: str
    def __init__(self, character_id: _Optional[int] = ..., account_id: _Optional[int] = ..., to_region: _Optional[str] = ...) -> None: ...

class NearbyRequest(_message.Message):
    __slots__ = ("character_id", "radius")
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    RADIUS_FIELD_NUMBER: _ClassVar[int]
    character_id: int
    radius: float
    def __init__(self, character_id: _Optional[int] = ..., radius: _Optional[float] = ...) -> None: ...

class NearbyReply(_message.Message):
    __slots__ = ("character_ids",)
    CHARACTER_IDS_FIELD_NUMBER: _ClassVar[int]
    character_ids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, character_ids: _Optional[_Iterable[int]] = ...) -> None: ...

class EconomyUp(_message.Message):
    __slots__ = ("character_id", "written_json", "aborted")
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    WRITTEN_JSON_FIELD_NUMBER: _ClassVar[int]
    ABORTED_FIELD_NUMBER: _ClassVar[int]
    character_id: int
    written_json: bytes
    aborted: bool
    def __init__(self, character_id: _Optional[int] = ..., written_json: _Optional[bytes] = ..., aborted: _Optional[bool] = ...) -> None: ...

class EconomyDown(_message.Message):
    __slots__ = ("state_json", "fence", "done")
    STATE_JSON_FIELD_NUMBER: _ClassVar[int]
    FENCE_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    state_json: bytes
    fence: int
    done: bool
    def __init__(self, state_json: _Optional[bytes] = ..., fence: _Optional[int] = ..., done: _Optional[bool] = ...) -> None: ...

class CreateInstanceRequest(_message.Message):
    __slots__ = ("template", "instance_id")
    TEMPLATE_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    template: str
    instance_id: str
    def __init__(self, template: _Optional[str] = ..., instance_id: _Optional[str] = ...) -> None: ...

class CreateInstanceReply(_message.Message):
    __slots__ = ("heartbeat_json",)
    HEARTBEAT_JSON_FIELD_NUMBER: _ClassVar[int]
    heartbeat_json: bytes
    def __init__(self, heartbeat_json: _Optional[bytes] = ...) -> None: ...

class UnloadInstanceRequest(_message.Message):
    __slots__ = ("instance_id",)
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    instance_id: str
    def __init__(self, instance_id: _Optional[str] = ...) -> None: ...

class UnloadInstanceReply(_message.Message):
    __slots__ = ("saved",)
    SAVED_FIELD_NUMBER: _ClassVar[int]
    saved: int
    def __init__(self, saved: _Optional[int] = ...) -> None: ...

class Continuity(_message.Message):
    __slots__ = ("last_seq", "client_ms", "session_ms", "pending")
    LAST_SEQ_FIELD_NUMBER: _ClassVar[int]
    CLIENT_MS_FIELD_NUMBER: _ClassVar[int]
    SESSION_MS_FIELD_NUMBER: _ClassVar[int]
    PENDING_FIELD_NUMBER: _ClassVar[int]
    last_seq: int
    client_ms: int
    session_ms: int
    pending: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, last_seq: _Optional[int] = ..., client_ms: _Optional[int] = ..., session_ms: _Optional[int] = ..., pending: _Optional[_Iterable[bytes]] = ...) -> None: ...

class PlayerJoin(_message.Message):
    __slots__ = ("character_json", "state_json", "lease_json", "conn_id", "rcm", "continuity")
    CHARACTER_JSON_FIELD_NUMBER: _ClassVar[int]
    STATE_JSON_FIELD_NUMBER: _ClassVar[int]
    LEASE_JSON_FIELD_NUMBER: _ClassVar[int]
    CONN_ID_FIELD_NUMBER: _ClassVar[int]
    RCM_FIELD_NUMBER: _ClassVar[int]
    CONTINUITY_FIELD_NUMBER: _ClassVar[int]
    character_json: bytes
    state_json: bytes
    lease_json: bytes
    conn_id: int
    rcm: str
    continuity: Continuity
    def __init__(self, character_json: _Optional[bytes] = ..., state_json: _Optional[bytes] = ..., lease_json: _Optional[bytes] = ..., conn_id: _Optional[int] = ..., rcm: _Optional[str] = ..., continuity: _Optional[_Union[Continuity, _Mapping]] = ...) -> None: ...

class RemovePlayerRequest(_message.Message):
    __slots__ = ("character_id", "reason", "kick")
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    KICK_FIELD_NUMBER: _ClassVar[int]
    character_id: int
    reason: str
    kick: str
    def __init__(self, character_id: _Optional[int] = ..., reason: _Optional[str] = ..., kick: _Optional[str] = ...) -> None: ...

class RemovePlayerReply(_message.Message):
    __slots__ = ("state_json",)
    STATE_JSON_FIELD_NUMBER: _ClassVar[int]
    state_json: bytes
    def __init__(self, state_json: _Optional[bytes] = ...) -> None: ...

class ExtractPlayerRequest(_message.Message):
    __slots__ = ("character_id", "reason")
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    character_id: int
    reason: str
    def __init__(self, character_id: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class Extracted(_message.Message):
    __slots__ = ("join", "saved")
    JOIN_FIELD_NUMBER: _ClassVar[int]
    SAVED_FIELD_NUMBER: _ClassVar[int]
    join: PlayerJoin
    saved: bool
    def __init__(self, join: _Optional[_Union[PlayerJoin, _Mapping]] = ..., saved: _Optional[bool] = ...) -> None: ...

class ExtractPlayerReply(_message.Message):
    __slots__ = ("extracted",)
    EXTRACTED_FIELD_NUMBER: _ClassVar[int]
    extracted: Extracted
    def __init__(self, extracted: _Optional[_Union[Extracted, _Mapping]] = ...) -> None: ...

class InputBatch(_message.Message):
    __slots__ = ("character_id", "command")
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    character_id: int
    command: bytes
    def __init__(self, character_id: _Optional[int] = ..., command: _Optional[bytes] = ...) -> None: ...

class InputColumns(_message.Message):
    __slots__ = ("characters", "counts", "acks", "frames")
    CHARACTERS_FIELD_NUMBER: _ClassVar[int]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    ACKS_FIELD_NUMBER: _ClassVar[int]
    FRAMES_FIELD_NUMBER: _ClassVar[int]
    characters: _containers.RepeatedScalarFieldContainer[int]
    counts: _containers.RepeatedScalarFieldContainer[int]
    acks: _containers.RepeatedScalarFieldContainer[int]
    frames: bytes
    def __init__(self, characters: _Optional[_Iterable[int]] = ..., counts: _Optional[_Iterable[int]] = ..., acks: _Optional[_Iterable[int]] = ..., frames: _Optional[bytes] = ...) -> None: ...

class LinkUp(_message.Message):
    __slots__ = ("inputs", "moves")
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    MOVES_FIELD_NUMBER: _ClassVar[int]
    inputs: _containers.RepeatedCompositeFieldContainer[InputBatch]
    moves: InputColumns
    def __init__(self, inputs: _Optional[_Iterable[_Union[InputBatch, _Mapping]]] = ..., moves: _Optional[_Union[InputColumns, _Mapping]] = ...) -> None: ...

class Delivery(_message.Message):
    __slots__ = ("conn_id", "payload")
    CONN_ID_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    conn_id: int
    payload: bytes
    def __init__(self, conn_id: _Optional[int] = ..., payload: _Optional[bytes] = ...) -> None: ...

class KickNotice(_message.Message):
    __slots__ = ("conn_id", "reason")
    CONN_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    conn_id: int
    reason: str
    def __init__(self, conn_id: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class LinkDown(_message.Message):
    __slots__ = ("deliveries", "kicks")
    DELIVERIES_FIELD_NUMBER: _ClassVar[int]
    KICKS_FIELD_NUMBER: _ClassVar[int]
    deliveries: _containers.RepeatedCompositeFieldContainer[Delivery]
    kicks: _containers.RepeatedCompositeFieldContainer[KickNotice]
    def __init__(self, deliveries: _Optional[_Iterable[_Union[Delivery, _Mapping]]] = ..., kicks: _Optional[_Iterable[_Union[KickNotice, _Mapping]]] = ...) -> None: ...

class NoticeRequest(_message.Message):
    __slots__ = ("character_id", "kind", "body_json")
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    BODY_JSON_FIELD_NUMBER: _ClassVar[int]
    character_id: int
    kind: str
    body_json: str
    def __init__(self, character_id: _Optional[int] = ..., kind: _Optional[str] = ..., body_json: _Optional[str] = ...) -> None: ...

class NoticeReply(_message.Message):
    __slots__ = ("delivered",)
    DELIVERED_FIELD_NUMBER: _ClassVar[int]
    delivered: bool
    def __init__(self, delivered: _Optional[bool] = ...) -> None: ...

class ConnRef(_message.Message):
    __slots__ = ("conn_id",)
    CONN_ID_FIELD_NUMBER: _ClassVar[int]
    conn_id: int
    def __init__(self, conn_id: _Optional[int] = ...) -> None: ...

class RerouteRequest(_message.Message):
    __slots__ = ("conn_id", "placement")
    CONN_ID_FIELD_NUMBER: _ClassVar[int]
    PLACEMENT_FIELD_NUMBER: _ClassVar[int]
    conn_id: int
    placement: Placement
    def __init__(self, conn_id: _Optional[int] = ..., placement: _Optional[_Union[Placement, _Mapping]] = ...) -> None: ...
