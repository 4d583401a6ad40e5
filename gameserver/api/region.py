"""What the OEM and the RCM ask of a region server."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

from gameserver.storage.models import Character, CharacterState, Lease
from gameserver.wire.messages import Message


@dataclass(frozen=True, slots=True)
class Continuity:
    """Movement bookkeeping that travels with a player between servers (a handoff), so
    the target acks the same input sequence and applies the same clock checks, and the
    frames the source had queued but not simulated are not lost."""

    last_seq: int = 0
    client_ms: int = 0
    session_ms: int = 0  # server time the player has been in the world, for the clock check
    pending: tuple[bytes, ...] = ()  # raw InputFrame arrays not yet simulated


@dataclass(frozen=True, slots=True)
class PlayerJoin:
    character: Character
    state: CharacterState
    lease: Lease
    conn_id: int
    rcm: str = ""  # which RCM holds the player's connection (where snapshots go)
    continuity: Continuity = field(default_factory=Continuity)


@dataclass(frozen=True, slots=True)
class JoinResult:
    entity_id: int
    x: float
    y: float
    facing: float


@dataclass(frozen=True, slots=True)
class Extracted:
    """A player taken out of a server for a handoff: everything needed to continue
    elsewhere. The lease moves with it (it is not released)."""

    join: PlayerJoin
    saved: bool


class RegionServerApi(Protocol):
    server_id: str

    @property
    def region_name(self) -> str: ...

    async def add_player(self, join: PlayerJoin) -> JoinResult: ...

    async def remove_player(
        self, character_id: int, reason: str = "logout", kick: str | None = None
    ) -> CharacterState | None: ...

    async def extract_player(self, character_id: int, reason: str) -> Extracted | None:
        """Save the player (with its fence), take it out of the world without releasing
        its lease, and hand back what a target server needs; None if not here."""
        ...


class InputSink(Protocol):
    """Where the RCM sends a player's input frames and combat commands: the region server
    simulating it (in-process, or a gRPC link to it)."""

    server_id: str

    def submit_inputs(
        self, character_id: int, frames: npt.NDArray[np.void], ack_tick: int = 0
    ) -> None:
        """Frames from one datagram, with the snapshot tick it acknowledged (0: none):
        the ack rides with the frames so the hot path is one call per datagram."""
        ...

    def submit_command(self, character_id: int, msg: Message) -> None: ...
