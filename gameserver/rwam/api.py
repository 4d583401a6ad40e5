"""What the RCM asks of the realm-wide actions (beyond characters): one entry point for
a client's `RwamRequest`, and the presence hooks. `RealmActions` implements it in
process; a gRPC client implements it for a distributed realm."""

from __future__ import annotations

from typing import Protocol


class ActionsApi(Protocol):
    async def handle(self, character_id: int, op: str, body: str) -> tuple[bool, str, str, str]:
        """(ok, code, message, JSON body) for the action `op` of `character_id`."""
        ...

    async def character_entered(self, character_id: int, account_id: int) -> None: ...
    async def character_left(self, character_id: int) -> None: ...
