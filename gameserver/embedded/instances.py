"""The embedded realm's instance hosts: dungeon instances run as shards in this process,
grouped into hosts of a fixed player capacity so the packing policy has something to pack
(a distributed realm runs them on instance server processes)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gameserver.oem.instances import HostView
from gameserver.region.server import RegionServer
from gameserver.world.map import RegionDef

if TYPE_CHECKING:
    from gameserver.embedded.realm import EmbeddedRealm


class EmbeddedInstanceHosts:
    def __init__(self, realm: EmbeddedRealm, hosts: int, capacity: int) -> None:
        self.realm = realm
        self.capacity = capacity
        self.host_ids = [f"instances-{i}" for i in range(hosts)]
        self.placed: dict[str, str] = {}  # server id -> host id

    def hosts(self) -> list[HostView]:
        load = dict.fromkeys(self.host_ids, 0)
        for s in self.realm.regions:
            host = self.placed.get(s.server_id)
            if host is not None:
                load[host] += s.players
        return [HostView(h, self.capacity, load[h]) for h in self.host_ids]

    async def create(self, host_id: str, template: RegionDef, instance_id: str) -> RegionServer:
        server = self.realm.add_region_server(template, server_id=instance_id)
        self.placed[server.server_id] = host_id
        return server

    async def unload(self, server_id: str) -> None:
        self.placed.pop(server_id, None)
        for s in self.realm.regions:
            if s.server_id == server_id:
                await self.realm.remove_region_server(s)
                return
