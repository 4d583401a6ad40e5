"""What the RCM and region servers ask of the objects exchange manager."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from gameserver.api.region import JoinResult


class OemError(Exception):
    """A refusal the player sees (code + message), not a transport failure."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a character now lives: the RCM routes its inputs to `server_id` at
    `address` (empty in-process) and tells the client its entity id there."""

    server_id: str
    address: str
    region: str
    join: JoinResult
    max_speed: float


class OemApi(Protocol):
    async def enter_world(
        self, account_id: int, character_id: int, conn_id: int, rcm: str
    ) -> Placement: ...

    async def leave_world(
        self, account_id: int, reason: str = "logout", kick: str | None = None
    ) -> bool: ...

    async def handoff(
        self, character_id: int, account_id: int, to_region: str | None, reason: str
    ) -> bool:
        """Move a player to a server of `to_region` (a border crossing), or to another
        shard of its own region when None (a drain). True if it moved."""
        ...

    async def enter_instance(
        self, character_id: int, account_id: int, template: str, back: tuple[str, float, float]
    ) -> bool:
        """Through a portal into the character's instance of a dungeon (lockout, party's,
        or new); `back` is the (region, x, y) leaving returns to."""
        ...

    async def leave_instance(self, character_id: int, account_id: int, to_region: str) -> bool: ...
