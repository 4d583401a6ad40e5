"""The embedded realm's region servers as a `Fleet` for the local supervisor: a started
server is a new shard in this process (its own tick task), a drain is requested through the
hot store as the operator would, and a stop removes a shard the policy cleared."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gameserver.scaling.policy import ServerView

if TYPE_CHECKING:
    from gameserver.embedded.realm import EmbeddedRealm


class EmbeddedFleet:
    def __init__(self, realm: EmbeddedRealm) -> None:
        self.realm = realm

    async def servers(self, region: str) -> list[ServerView]:
        out = []
        for s in self.realm.regions:
            if s.region.name != region:
                continue
            beat = s.heartbeat()
            out.append(
                ServerView(
                    server_id=s.server_id,
                    state=beat.state,
                    players=beat.players,
                    capacity=beat.capacity,
                    saved=beat.saved,
                )
            )
        return out

    async def start(self, region: str) -> str:
        return self.realm.add_region_server(self.realm.world.region(region)).server_id

    async def drain(self, region: str, server_id: str) -> None:
        assert self.realm.hot is not None
        await self.realm.hot.request_drain(self.realm.settings.name, server_id)

    async def stop(self, region: str, server_id: str) -> None:
        for s in self.realm.regions:
            if s.server_id == server_id:
                await self.realm.remove_region_server(s)
                return
