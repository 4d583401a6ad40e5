"""What the OEM and region servers ask of the realm connection manager."""

from __future__ import annotations

from typing import Protocol

from gameserver.api.oem import Placement


class RcmApi(Protocol):
    rcm_id: str

    def hold(self, conn_id: int) -> None:
        """Buffer the player's inputs instead of routing them (a handoff is starting)."""
        ...

    def reroute(self, conn_id: int, placement: Placement | None) -> None:
        """Switch the player's route atomically and replay the held inputs to the new
        server; with None, release the hold back to the current route (handoff failed)."""
        ...

    def deliver(self, conn_id: int, payload: bytes) -> None:
        """An encoded, unreliable envelope (a snapshot) for the player's client."""
        ...

    def kick(self, conn_id: int, reason: str) -> None: ...
