"""`realm serve oem`: the objects exchange manager over gRPC.

Its state is all in the hot store (leases, routes, checkpoints), so any number of OEM
processes could serve one realm; region servers are found through their heartbeats
(`HeartbeatDirectory`), RCMs through the address that is their id (`RemoteRcmDirectory`),
and characters through the RWAM. A handoff's extraction waits until the RCM's hold is in
force (`before_extract=rcms.settle`), so no input is routed to a server that has let go.
"""

from __future__ import annotations

import asyncio
import contextlib

from gameserver.config import RealmSettings
from gameserver.oem.service import OemService
from gameserver.roles.runtime import Running, require
from gameserver.rpc.directory import HeartbeatDirectory
from gameserver.rpc.oem import add_oem
from gameserver.rpc.rcm import RemoteRcmDirectory
from gameserver.rpc.rwam import RwamClient
from gameserver.rpc.transport import start_server
from gameserver.storage.factory import open_hot_state
from gameserver.world.map import DEFAULT_MAP


async def start(s: RealmSettings) -> Running:
    require(s, "oem", "redis_url", "rwam_address")
    hot = await open_hot_state(s.redis_url, realm=s.name)
    rwam = RwamClient(s.rwam_address, timeout_s=s.rpc_timeout_s)
    rcms = RemoteRcmDirectory(timeout_s=min(3.0, s.rpc_timeout_s))
    directory = HeartbeatDirectory(
        hot, s.name, DEFAULT_MAP, timeout_s=s.rpc_timeout_s, before_extract=rcms.settle
    )
    stop_event = asyncio.Event()
    try:
        await directory.refresh()
        oem = OemService(
            rwam=rwam,
            hot=hot,
            directory=directory,
            rcms=rcms,
            world=DEFAULT_MAP,
            realm=s.name,
            lease_ttl_ms=int(s.lease_ttl_s * 1000),
        )
        server, port = await start_server(lambda g: add_oem(g, oem), s.host, s.grpc_port)
    except BaseException:
        await rwam.close()
        await hot.close()
        raise
    refresher = asyncio.create_task(directory.run(stop_event), name="oem-directory")

    async def stop() -> None:
        await server.stop(grace=5)
        stop_event.set()
        with contextlib.suppress(asyncio.CancelledError):
            await refresher
        await rcms.close()
        await directory.close()
        await rwam.close()
        await hot.close()

    return Running("oem", {"grpc": port}, stop)
