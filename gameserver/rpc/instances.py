"""Dungeon instances on instance host processes: the OEM's `InstanceHosts` over gRPC.

An instance host (`realm serve region` for an instance region of the map) heartbeats
itself with `host=True`: its template, its capacity (players across all its instances)
and its load (the sum of its shards'). `RemoteInstanceHosts` offers those hosts to the
`InstanceManager`'s packing policy, asks the chosen one to start a shard
(`Region.CreateInstance`) and registers the shard in the OEM's `HeartbeatDirectory` from
the host's answer at once, so the handoff into it does not wait for the registry. An
instance's load is read from its shard's heartbeat (plus what the OEM placed since), which
is what the unload delay watches; unloading is `Region.UnloadInstance` on its host.

A host that does not answer fails the entry (`InstanceError`), never the OEM: the player
stays outside and may walk in again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from gameserver.api.errors import RemoteError, ServiceUnavailable
from gameserver.oem.instances import HostView, InstanceError
from gameserver.rpc.directory import HeartbeatDirectory
from gameserver.rpc.region import RegionClient
from gameserver.storage.models import ServerHeartbeat, ServerState
from gameserver.world.map import RegionDef

log = logging.getLogger(__name__)


@dataclass
class RemoteInstance:
    """An instance shard as the `InstanceManager` holds it; its load from the directory."""

    directory: HeartbeatDirectory
    server_id: str
    address: str
    host_id: str

    @property
    def players(self) -> int:
        server = self.directory.get(self.server_id)
        return server.players if server is not None else 0


@dataclass
class RemoteInstanceHosts:
    directory: HeartbeatDirectory
    timeout_s: float = 10.0
    _clients: dict[str, RegionClient] = field(default_factory=dict)  # by host address
    _placed: dict[str, RemoteInstance] = field(default_factory=dict)  # by instance id

    def hosts(self) -> list[HostView]:
        """Ready hosts, with room as their heartbeats say (a draining host takes none)."""
        return [
            HostView(
                b.server_id,
                b.capacity if b.state is ServerState.READY else 0,
                b.players,
                frozenset({b.region}),
            )
            for b in self.directory.hosts()
        ]

    def _client(self, beat: ServerHeartbeat) -> RegionClient:
        c = self._clients.get(beat.address)
        if c is None:
            c = self._clients[beat.address] = RegionClient(
                beat.address, server_id="", region_name=beat.region, timeout_s=self.timeout_s
            )
        return c

    async def create(self, host_id: str, template: RegionDef, instance_id: str) -> RemoteInstance:
        host = self.directory.host(host_id)
        if host is None:
            raise InstanceError("no_capacity", f"instance host {host_id} is gone; try again")
        try:
            beat = await self._client(host).create_instance(template.name, instance_id)
        except (ServiceUnavailable, RemoteError, LookupError) as e:
            log.warning("instance host %s could not start %s: %s", host_id, instance_id, e)
            raise InstanceError("host_unavailable", "the dungeon could not be opened") from e
        self.directory.register(beat)
        inst = self._placed[instance_id] = RemoteInstance(
            self.directory, beat.server_id, beat.address, host_id
        )
        return inst

    async def unload(self, server_id: str) -> None:
        inst = self._placed.pop(server_id, None)
        self.directory.forget(server_id)
        host = self.directory.host(inst.host_id) if inst is not None else None
        if host is None:
            log.info("unloading %s: its host is gone (nothing to stop)", server_id)
            return
        try:
            saved = await self._client(host).unload_instance(server_id)
        except (ServiceUnavailable, RemoteError, LookupError) as e:
            log.warning("instance host %s could not unload %s: %s", host.server_id, server_id, e)
            return
        if saved:
            log.warning("unloading %s saved %d characters still inside", server_id, saved)

    async def close(self) -> None:
        for c in self._clients.values():
            await c.close()
        self._clients.clear()
