"""The RWAM's view of the region servers, in one process.

`RealmActions` needs three things from wherever characters are simulated: the server
holding a character's live inventory (economy transactions run there), who stands near a
speaker (say and yell), and where a party member is (the party map). In the embedded
realm the region servers are objects in this process, so this adapter asks them
directly; a distributed realm implements the same `World` protocol with the route in hot
state and gRPC calls to the region server named there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from gameserver.region.server import RegionServer


class RegionWorld:
    def __init__(self, servers: Callable[[], Iterable[RegionServer]]) -> None:
        self._servers = servers

    def _holding(self, character_id: int) -> RegionServer | None:
        for server in self._servers():
            if server.holds(character_id):
                return server
        return None

    def holder(self, character_id: int) -> RegionServer | None:
        return self._holding(character_id)

    def nearby(self, character_id: int, radius: float) -> list[int]:
        server = self._holding(character_id)
        return server.characters_near(character_id, radius) if server is not None else []

    def locate(self, character_id: int) -> tuple[str, float, float] | None:
        server = self._holding(character_id)
        if server is None:
            return None
        pos = server.position_of(character_id)
        return (server.region.name, pos[0], pos[1]) if pos is not None else None
