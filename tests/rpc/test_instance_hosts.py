"""Several region server shards behind one gRPC endpoint (an instance host): calls reach
the shard they name, the one `Link` per RCM routes each input to the shard holding that
character, `CreateInstance`/`UnloadInstance` round trips, and the OEM's side of it: the
directory keeps hosts apart from placeable servers and knows a new shard at once, and
`RemoteInstanceHosts` packs onto hosts from their heartbeats."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from gameserver.oem.instances import InstanceError
from gameserver.rpc.directory import HeartbeatDirectory
from gameserver.rpc.instances import RemoteInstanceHosts
from gameserver.rpc.region import (
    HostedRegion,
    LinkHub,
    RegionClient,
    RegionPool,
    add_region,
    add_region_shards,
)
from gameserver.storage.memory import MemoryHotState
from gameserver.storage.models import ServerHeartbeat, ServerKind, ServerState
from gameserver.wire.messages import Respawn
from gameserver.world.map import DEFAULT_MAP
from tests.rpc.test_transport import (
    Collect,
    FakeRegion,
    _until,
    frames,
    player_join,
)

pytestmark = pytest.mark.timeout(20)

DUNGEON = DEFAULT_MAP.region("deadmines")


class FakeHost:
    """A `ShardSet` of fake shards, as an instance host's servicer sees it."""

    def __init__(self, address: str = "") -> None:
        self.address = address
        self.shards: dict[str, FakeRegion] = {}
        self.unloaded: list[str] = []
        self.full = False

    def shard(self, server_id: str) -> HostedRegion | None:
        if not server_id:
            return next(iter(self.shards.values())) if len(self.shards) == 1 else None
        return self.shards.get(server_id)

    async def create_instance(self, template: str, instance_id: str) -> ServerHeartbeat:
        if template != DUNGEON.name:
            raise LookupError(f"not {template}")
        if self.full:
            raise InstanceError("no_capacity", "host is draining")
        self.shards.setdefault(instance_id, FakeRegion(instance_id))
        return ServerHeartbeat(
            server_id=instance_id,
            realm="test",
            region=template,
            kind=ServerKind.INSTANCE,
            address=self.address,
            state=ServerState.READY,
            capacity=5,
            sent_at_ms=1,
        )

    async def unload_instance(self, instance_id: str) -> int:
        self.unloaded.append(instance_id)
        return 1 if self.shards.pop(instance_id, None) is not None else 0


async def test_calls_reach_the_shard_they_name(serve: Any) -> None:
    host = FakeHost()
    address = await serve(lambda s: add_region_shards(s, host, LinkHub()))
    await host.create_instance(DUNGEON.name, "d-1")
    await host.create_instance(DUNGEON.name, "d-2")
    one = RegionClient(address, server_id="d-1", region_name=DUNGEON.name)
    two = RegionClient(address, server_id="d-2", region_name=DUNGEON.name)
    nobody = RegionClient(address, server_id="d-9", region_name=DUNGEON.name)
    try:
        await two.add_player(player_join())
        assert [j.character.id for j in host.shards["d-2"].joined] == [1]
        assert host.shards["d-1"].joined == []
        with pytest.raises(LookupError, match="d-9"):
            await nobody.add_player(player_join())
        assert await one.extract_player(1, "instance") is not None  # the fake says yes
    finally:
        for c in (one, two, nobody):
            await c.close()


async def test_a_single_server_refuses_calls_meant_for_another(serve: Any) -> None:
    fake = FakeRegion("elwynn-0")
    address = await serve(lambda s: add_region(s, fake, LinkHub()))
    right = RegionClient(address, server_id="elwynn-0", region_name="elwynn")
    stale = RegionClient(address, server_id="elwynn-7", region_name="elwynn")
    unnamed = RegionClient(address, server_id="", region_name="elwynn")
    try:
        await right.add_player(player_join())
        with pytest.raises(LookupError, match="elwynn-7"):  # e.g. a reused pod address
            await stale.remove_player(1)
        assert await unnamed.extract_player(1, "border") is not None
        with pytest.raises(LookupError, match="not an instance host"):
            await right.create_instance(DUNGEON.name, "d-1")
    finally:
        for c in (right, stale, unnamed):
            await c.close()


async def test_one_link_per_host_routes_inputs_to_each_characters_shard(serve: Any) -> None:
    host, hub = FakeHost(), LinkHub()
    address = await serve(lambda s: add_region_shards(s, host, hub))
    for iid in ("d-1", "d-2"):
        await host.create_instance(DUNGEON.name, iid)
    rcm = Collect()
    pool = RegionPool(rcm, "rcm-a")
    try:
        a, b = pool("d-1", address), pool("d-2", address)
        assert a is not b and len(pool.links) == 1  # two shards, one link
        j1 = player_join()
        j2 = player_join()
        j2 = type(j2)(j2.character.model_copy(update={"id": 2}), j2.state, j2.lease, 6, "rcm-a")
        await a.add_player(j1)
        await b.add_player(j2)
        await asyncio.wait_for(a.link_up.wait(), 3)
        await _until(lambda: hub.links == 1)
        a.submit_inputs(1, frames(2))
        b.submit_inputs(2, frames(1, seq0=9))
        b.submit_command(2, Respawn())
        await _until(lambda: host.shards["d-2"].commands != [])
        await _until(lambda: host.shards["d-1"].inputs != [] and host.shards["d-2"].inputs != [])
        assert host.shards["d-1"].inputs == [(1, frames(2).tobytes())]
        assert host.shards["d-2"].inputs == [(2, frames(1, 9).tobytes())]
        assert host.shards["d-1"].commands == []
        # snapshots of both shards come back over the same link
        hub.deliver(6, b"from-d-2")
        await _until(lambda: rcm.delivered == [(6, b"from-d-2")])
    finally:
        await pool.close()


async def test_create_and_unload_instances_over_grpc(serve: Any) -> None:
    host = FakeHost()
    address = await serve(lambda s: add_region_shards(s, host, LinkHub()))
    host.address = address
    client = RegionClient(address, server_id="", region_name=DUNGEON.name)
    try:
        beat = await client.create_instance(DUNGEON.name, "d-1")
        assert beat.server_id == "d-1" and beat.address == address
        assert beat.state is ServerState.READY
        with pytest.raises(LookupError):
            await client.create_instance("elwynn", "e-1")
        host.full = True
        with pytest.raises(InstanceError) as e:  # the domain error crosses as itself
            await client.create_instance(DUNGEON.name, "d-2")
        assert e.value.code == "no_capacity"
        assert await client.unload_instance("d-1") == 1
        assert await client.unload_instance("d-1") == 0  # idempotent
        assert host.unloaded == ["d-1", "d-1"]
    finally:
        await client.close()


def _host_beat(address: str, players: int = 0, state: ServerState = ServerState.READY) -> Any:
    return ServerHeartbeat(
        server_id="dm-host",
        realm="test",
        region=DUNGEON.name,
        kind=ServerKind.INSTANCE,
        address=address,
        state=state,
        players=players,
        capacity=10,
        sent_at_ms=1,
        host=True,
    )


async def test_remote_instance_hosts_create_register_and_unload(serve: Any) -> None:
    clock = [1_000_000]
    hot = MemoryHotState(lambda: clock[0], realm="test")
    host = FakeHost()
    address = await serve(lambda s: add_region_shards(s, host, LinkHub()))
    host.address = address
    directory = HeartbeatDirectory(hot, "test", DEFAULT_MAP)
    hosts = RemoteInstanceHosts(directory)
    try:
        await hot.heartbeat(_host_beat(address, players=3), ttl_ms=5000)
        await directory.refresh()
        # a host is never placed on, nor found as a server
        assert directory.get("dm-host") is None and directory.pick(DUNGEON.name) is None
        (view,) = hosts.hosts()
        assert (view.host_id, view.capacity, view.players) == ("dm-host", 10, 3)
        assert view.templates == frozenset({DUNGEON.name})

        inst = await hosts.create("dm-host", DUNGEON, "deadmines-1")
        assert "deadmines-1" in host.shards
        server = directory.get("deadmines-1")  # known at once, before any heartbeat
        assert server is not None and server.has_room() and server.address == address
        assert directory.pick(DUNGEON.name) is None  # an instance is only reached by id
        await directory.refresh()  # no heartbeat yet: kept through the grace period
        assert directory.get("deadmines-1") is server
        await server.add_player(player_join())
        assert inst.players == 1

        await hosts.unload("deadmines-1")
        assert host.unloaded == ["deadmines-1"] and directory.get("deadmines-1") is None
        assert inst.players == 0

        await hot.heartbeat(_host_beat(address, state=ServerState.DRAINING), ttl_ms=5000)
        await directory.refresh()
        assert hosts.hosts()[0].capacity == 0  # a draining host takes no new instance
        with pytest.raises(InstanceError):
            await hosts.create("gone-host", DUNGEON, "deadmines-2")
    finally:
        await hosts.close()
        await directory.close()


async def test_an_unreachable_host_fails_the_entry_not_the_oem() -> None:
    hot = MemoryHotState(realm="test")
    directory = HeartbeatDirectory(hot, "test", DEFAULT_MAP)
    hosts = RemoteInstanceHosts(directory, timeout_s=0.5)
    try:
        await hot.heartbeat(_host_beat("127.0.0.1:1"), ttl_ms=5000)
        await directory.refresh()
        with pytest.raises(InstanceError) as e:
            await hosts.create("dm-host", DUNGEON, "deadmines-1")
        assert e.value.code == "host_unavailable"
    finally:
        await hosts.close()
        await directory.close()
