"""Records that cross the storage boundary.

Both backends (SQLite + memory for the embedded realm, PostgreSQL + Redis for a
distributed one) take and return exactly these, so game logic never learns which one it
runs on. They are pydantic models because they are also what the gRPC transport and the
operator serialise: one definition, validated at every edge.
"""

from __future__ import annotations

import enum
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Account(Frozen):
    id: int
    username: str
    password_hash: str
    created_at: datetime
    banned: bool = False
    last_login_at: datetime | None = None  # schema version 2


class ItemStack(Frozen):
    """An item a character owns. `uid` is unique realm-wide, so an item can be followed
    through mail and auctions and a duplicate is detectable."""

    uid: str
    item_id: int
    count: int = Field(ge=1)
    slot: str | None = None  # equipment slot when worn


class CharacterState(Frozen):
    """What a save writes: the part of a character that changes while it plays."""

    region: str
    x: float
    y: float
    facing: float = 0.0
    level: int = 1
    xp: int = 0
    health: int = 100
    gold: int = 0
    items: tuple[ItemStack, ...] = ()
    # Inside a dungeon instance: which one, and where to return when leaving it.
    instance: str | None = None
    return_region: str | None = None
    return_x: float = 0.0
    return_y: float = 0.0


class Character(Frozen):
    id: int
    account_id: int
    name: str
    race: str
    char_class: str
    faction: str
    state: CharacterState
    created_at: datetime
    saved_at: datetime
    # The fencing token of the lease that wrote the last save; a save carrying a smaller
    # token comes from a holder whose lease has expired and is refused.
    save_fence: int = 0


class Lease(Frozen):
    """A time-limited, exclusive claim on a character ("one live copy, ever").

    `fence` increases with every grant, so storage can order writes from successive
    holders even when an old holder does not yet know its lease expired."""

    key: str
    holder: str
    fence: int
    expires_at_ms: int


class ServerState(enum.StrEnum):
    STARTING = "Starting"
    READY = "Ready"
    DRAINING = "Draining"


class ServerKind(enum.StrEnum):
    WORLD = "world"
    INSTANCE = "instance"


class ServerHeartbeat(Frozen):
    """A region server's load report. The operator and the local supervisor scale on it;
    a server whose heartbeat expires is considered gone."""

    server_id: str
    realm: str
    region: str
    kind: ServerKind = ServerKind.WORLD
    address: str = ""  # host:port of the server's game endpoint
    state: ServerState = ServerState.STARTING
    players: int = 0
    capacity: int = 0
    tick_p50_ms: float = 0.0
    tick_p99_ms: float = 0.0
    tick_rate_hz: float = 0.0
    # True when every character on the server has been saved since it last changed hands
    # (a draining server past its drain timeout may be deleted only if this holds).
    saved: bool = False
    sent_at_ms: int = 0
    # An instance host (not a shard): its load is the sum of its instance shards', which
    # heartbeat on their own; nobody places players on it, and load totals skip it.
    host: bool = False


class Route(Frozen):
    """Where a player's traffic goes: which RCM holds the connection and which region
    server simulates the character."""

    account_id: int
    character_id: int
    rcm: str
    server_id: str
    region: str
    conn_id: int = 0  # the player's connection on that RCM
