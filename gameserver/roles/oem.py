"""`realm serve oem`: the objects exchange manager over gRPC.

Its state is all in the hot store (leases, routes, checkpoints), so any number of OEM
processes could serve one realm; region servers are found through their heartbeats
(`HeartbeatDirectory`), RCMs through the address that is their id (`RemoteRcmDirectory`),
and characters through the RWAM. A handoff's extraction waits until the RCM's hold is in
force (`before_extract=rcms.settle`), so no input is routed to a server that has let go.

Dungeon instances: the `InstanceManager` packs them onto the instance hosts that heartbeat
(`RemoteInstanceHosts`) and a loop here unloads the ones empty past their delay. Which
instances exist is this process's memory (lockouts are in the hot store): one OEM per
realm runs instances.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets

from gameserver.config import RealmSettings
from gameserver.oem.instances import InstanceManager
from gameserver.oem.service import OemService
from gameserver.roles.runtime import Running, require, world_map
from gameserver.rpc.directory import HeartbeatDirectory
from gameserver.rpc.instances import RemoteInstanceHosts
from gameserver.rpc.oem import add_oem
from gameserver.rpc.rcm import RemoteRcmDirectory
from gameserver.rpc.rwam import RwamClient
from gameserver.rpc.transport import start_server
from gameserver.storage.factory import open_hot_state
from gameserver.storage.interfaces import StorageError

log = logging.getLogger(__name__)


async def reap_instances(
    instances: InstanceManager, stop: asyncio.Event, interval_s: float = 1.0
) -> None:
    """Unload dungeon instances that have stood empty past their unload delay."""
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval_s)
        if stop.is_set():
            return
        try:
            await instances.reap()
        except StorageError as e:
            log.warning("instance reaping failed: %s", e)
        except Exception:
            log.exception("instance reaping failed")


async def start(s: RealmSettings) -> Running:
    require(s, "oem", "redis_url", "rwam_address")
    world = world_map(s)
    hot = await open_hot_state(s.redis_url, realm=s.name)
    rwam = RwamClient(s.rwam_address, timeout_s=s.rpc_timeout_s)
    rcms = RemoteRcmDirectory(timeout_s=min(3.0, s.rpc_timeout_s))
    directory = HeartbeatDirectory(
        hot, s.name, world, timeout_s=s.rpc_timeout_s, before_extract=rcms.settle
    )
    hosts = RemoteInstanceHosts(directory, timeout_s=s.rpc_timeout_s)
    instances = InstanceManager(
        realm=s.name,
        hosts=hosts,
        hot=hot,
        lockout_s=s.instance_lockout_s,
        unload_delay_s=s.instance_unload_delay_s,
        id_prefix=f"{secrets.token_hex(2)}-",
    )
    stop_event = asyncio.Event()
    try:
        await directory.refresh()
        oem = OemService(
            rwam=rwam,
            hot=hot,
            directory=directory,
            rcms=rcms,
            world=world,
            realm=s.name,
            lease_ttl_ms=int(s.lease_ttl_s * 1000),
            instances=instances,
        )
        server, port = await start_server(lambda g: add_oem(g, oem), s.host, s.grpc_port)
    except BaseException:
        await rwam.close()
        await hot.close()
        raise
    tasks = [
        asyncio.create_task(directory.run(stop_event), name="oem-directory"),
        asyncio.create_task(reap_instances(instances, stop_event), name="oem-instances"),
        asyncio.create_task(oem.watch_servers(stop_event), name="oem-recovery"),
    ]

    async def stop() -> None:
        await server.stop(grace=5)
        stop_event.set()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        await hosts.close()
        await rcms.close()
        await directory.close()
        await rwam.close()
        await hot.close()

    return Running("oem", {"grpc": port}, stop)
