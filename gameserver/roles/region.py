"""`realm serve region`: one region server shard, its tick loop and its gRPC endpoint.

The server registers itself by heartbeating its gRPC address (`REALM_PUBLIC_HOST` or the
pod IP, and `REALM_GRPC_PORT`) with its region, state and load; the OEM places players on
it from that registry. RCMs open a `Link` stream to it; `LinkHub` is its outbox.

Stopping (SIGTERM) saves every character and kicks its players (the kicks reach the RCMs
over the still-open links), then drops out of the registry, so no OEM places anyone on
a server that is going away.

For an instance region of the map (a dungeon) the process is an instance host instead
(`gameserver/roles/instance_host.py`): no shard of its own, one per instance the OEM asks
for, all behind the same gRPC endpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import zlib

from gameserver.config import RealmSettings
from gameserver.region.driver import run_ticks
from gameserver.region.server import RegionServer
from gameserver.region.shard import SnapshotConfig
from gameserver.roles.instance_host import InstanceHost
from gameserver.roles.runtime import (
    RoleConfigError,
    Running,
    advertise_host,
    require,
    world_map,
)
from gameserver.rpc.oem import OemClient
from gameserver.rpc.region import LinkHub, add_region, add_region_shards
from gameserver.rpc.transport import bind_server
from gameserver.storage.factory import open_storage
from gameserver.storage.models import ServerKind, ServerState
from gameserver.world.map import RegionDef, WorldMap

log = logging.getLogger(__name__)


def id_block_of(server_id: str) -> int:
    """A stable entity id block (1..4095) from the server id, so ids stay unique across
    servers without coordination (set REALM_ID_BLOCK to choose one explicitly)."""
    return zlib.crc32(server_id.encode()) % 4095 + 1


async def start(s: RealmSettings) -> Running:
    require(s, "region", "postgres_url", "redis_url", "region", "oem_address")
    world = world_map(s)
    try:
        region = world.region(s.region)
    except KeyError as e:
        names = ", ".join(r.name for r in world.regions)
        raise RoleConfigError(
            f"REALM_REGION={s.region!r} is not a region of the map ({names})"
        ) from e
    if region.kind is ServerKind.INSTANCE:
        return await start_instance_host(s, world, region)
    server_id = s.server_id or f"{region.name}-{os.getpid()}"
    db, hot = await open_storage(s.postgres_url, s.redis_url, s.data_dir, realm=s.name)
    oem = OemClient(s.oem_address, timeout_s=s.rpc_timeout_s)
    hub = LinkHub()
    grpc_server, port = bind_server(s.host, s.grpc_port)
    server = RegionServer(
        realm=s.name,
        region=region,
        server_id=server_id,
        db=db,
        hot=hot,
        outbox=hub,
        tick_rate=s.tick_rate,
        capacity=s.players_per_server,
        checkpoint_interval_s=s.checkpoint_interval_s,
        hot_checkpoint_interval_s=s.hot_checkpoint_interval_s,
        lease_ttl_ms=int(s.lease_ttl_s * 1000),
        address=f"{advertise_host(s)}:{port}",
        id_block=s.id_block or id_block_of(server_id),
        snapshots=SnapshotConfig(every=s.snapshot_every, budget_bytes=s.snapshot_budget_bytes),
    )
    server.connect(oem, world)  # border crossings, portals, ghosts across borders
    add_region(grpc_server, server, hub)
    await grpc_server.start()
    stop_event = asyncio.Event()
    tasks = [
        asyncio.create_task(run_ticks(server, stop_event), name=f"tick-{server_id}"),
        asyncio.create_task(server.maintain(stop_event), name=f"maint-{server_id}"),
        asyncio.create_task(server.run_borders(stop_event), name=f"borders-{server_id}"),
    ]
    await asyncio.sleep(0)  # the first tick makes it Ready; say so now, not in a second
    with contextlib.suppress(Exception):
        await hot.heartbeat(server.heartbeat(), ttl_ms=5000)

    async def stop() -> None:
        saved = await server.shutdown()
        log.info("%s: saved %d characters on shutdown", server_id, saved)
        with contextlib.suppress(Exception):
            await hot.remove(s.name, server_id)
        hub.close()  # the kicks go out over the links, then the links end
        stop_event.set()
        for t in tasks:
            try:
                await asyncio.wait_for(t, timeout=5)
            except (TimeoutError, asyncio.CancelledError):
                t.cancel()
        with contextlib.suppress(Exception):
            await hot.remove(s.name, server_id)  # a heartbeat may have raced the first
        await grpc_server.stop(grace=2)
        await oem.close()
        await hot.close()
        await db.close()

    return Running(
        "region",
        {"grpc": port},
        stop,
        healthy=lambda: server.state is ServerState.READY,
        finished=server.drained,  # drained and empty: the process exits (nothing to save)
        info={"server_id": server_id, "region": region.name, "address": server.address},
    )


async def start_instance_host(s: RealmSettings, world: WorldMap, template: RegionDef) -> Running:
    host_id = s.server_id or f"{template.name}-host-{os.getpid()}"
    db, hot = await open_storage(s.postgres_url, s.redis_url, s.data_dir, realm=s.name)
    oem = OemClient(s.oem_address, timeout_s=s.rpc_timeout_s)
    hub = LinkHub()
    grpc_server, port = bind_server(s.host, s.grpc_port)
    host = InstanceHost(
        settings=s,
        world=world,
        template=template,
        host_id=host_id,
        address=f"{advertise_host(s)}:{port}",
        db=db,
        hot=hot,
        oem=oem,
        hub=hub,
        id_block_of=id_block_of,
    )
    add_region_shards(grpc_server, host, hub)
    await grpc_server.start()
    host.state = ServerState.READY
    await host.beat()  # placeable now, not in a second
    stop_event = asyncio.Event()
    beats = asyncio.create_task(host.run(stop_event), name=f"host-{host_id}")

    async def stop() -> None:
        stop_event.set()
        with contextlib.suppress(asyncio.CancelledError):
            await beats
        saved = await host.shutdown()
        log.info("%s: saved %d characters on shutdown", host_id, saved)
        hub.close()  # the kicks go out over the links, then the links end
        with contextlib.suppress(Exception):
            await hot.remove(s.name, host_id)  # a heartbeat may have raced the first
        await grpc_server.stop(grace=2)
        await oem.close()
        await hot.close()
        await db.close()

    return Running(
        "region",
        {"grpc": port},
        stop,
        healthy=lambda: host.state is ServerState.READY,
        finished=host.drained,  # drained and its last instance unloaded: the process exits
        info={"server_id": host_id, "region": template.name, "address": host.address},
    )
