"""The objects exchange manager: who owns which character, and on which region server it
lives.

Entering the world takes the character's lease (one live copy, ever), loads its newest
saved state, picks a region server shard with room for the character's region, and records
the route the RCM uses. Leaving saves through the region server, which then releases the
lease. A second login of an account that is already in the world takes over: the first
session is saved and closed before the new one enters (the documented choice; see
docs/architecture.md, "One live copy").
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from gameserver.region.server import JoinResult, PlayerJoin, RegionServer
from gameserver.rwam.service import RwamService
from gameserver.storage.interfaces import HotState
from gameserver.storage.models import Route

log = logging.getLogger(__name__)


class OemError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class RegionHandle(Protocol):
    """What the RCM needs of the server that simulates a player."""

    server_id: str

    def submit_inputs(self, character_id: int, frames: npt.NDArray[np.void]) -> None: ...


@dataclass(frozen=True, slots=True)
class Placement:
    server: RegionServer
    join: JoinResult
    region: str


class RegionDirectory:
    """The region servers the OEM can place characters on."""

    def __init__(self, servers: Iterable[RegionServer] = ()) -> None:
        self._servers: dict[str, RegionServer] = {s.server_id: s for s in servers}

    def add(self, server: RegionServer) -> None:
        self._servers[server.server_id] = server

    def remove(self, server_id: str) -> None:
        self._servers.pop(server_id, None)

    def all(self) -> list[RegionServer]:
        return list(self._servers.values())

    def pick(self, region: str) -> RegionServer | None:
        """The least loaded Ready shard of `region` with room (fill evenly; the scaler adds
        shards before they fill)."""
        candidates = [s for s in self._servers.values() if s.region.name == region and s.has_room()]
        return min(candidates, key=lambda s: s.players / s.capacity, default=None)

    def holding(self, character_id: int) -> RegionServer | None:
        for s in self._servers.values():
            if s.holds(character_id):
                return s
        return None


class OemService:
    def __init__(
        self,
        *,
        rwam: RwamService,
        hot: HotState,
        directory: RegionDirectory,
        lease_ttl_ms: int = 30_000,
    ) -> None:
        self.rwam = rwam
        self.hot = hot
        self.directory = directory
        self.lease_ttl_ms = lease_ttl_ms

    @staticmethod
    def lease_key(character_id: int) -> str:
        return f"character:{character_id}"

    async def enter_world(
        self, account_id: int, character_id: int, conn_id: int, rcm: str
    ) -> Placement:
        await self.rwam.owned_character(account_id, character_id)
        # Take over: an account plays one character at a time; its previous session (this
        # character or another) is saved and closed first, and only then is the character
        # loaded, so the new session starts from that save.
        route = await self.hot.get_route(account_id)
        if route is not None:
            await self.leave_world(
                account_id, reason="takeover", kick="your account logged in from another session"
            )
        character = await self.rwam.owned_character(account_id, character_id)
        lease = await self.hot.acquire(
            self.lease_key(character_id), f"{rcm}/{conn_id}", self.lease_ttl_ms
        )
        if lease is None:
            raise OemError(
                "already_online",
                "this character is still in the world from another session; "
                f"try again within {self.lease_ttl_ms // 1000} s",
            )
        try:
            state = character.state
            checkpoint = await self.hot.get_checkpoint(character_id)
            if checkpoint is not None and checkpoint[1] >= character.save_fence:
                state = checkpoint[0]
            server = self.directory.pick(state.region)
            if server is None:
                raise OemError(
                    "no_capacity", f"no region server for {state.region} has room; try again soon"
                )
            join = server.add_player(PlayerJoin(character, state, lease, conn_id))
            await self.hot.set_route(
                Route(
                    account_id=account_id,
                    character_id=character_id,
                    rcm=rcm,
                    server_id=server.server_id,
                    region=state.region,
                )
            )
        except BaseException:
            await self.hot.release(lease)
            raise
        return Placement(server, join, state.region)

    async def leave_world(
        self, account_id: int, reason: str = "logout", kick: str | None = None
    ) -> bool:
        """Save and remove the account's character from the world. True if it was saved."""
        route = await self.hot.get_route(account_id)
        if route is None:
            return False
        await self.hot.clear_route(account_id)
        server = self.directory.holding(route.character_id)
        if server is None:
            return False
        return await server.remove_player(route.character_id, reason=reason, kick=kick) is not None
