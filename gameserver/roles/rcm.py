"""`realm serve rcm`: the clients' UDP endpoint, routing to region servers over gRPC.

The RCM's id is its gRPC address (`<pod ip>:<REALM_GRPC_PORT>`): it goes into every route
and lease holder it creates, and the OEM calls it back there (hold/reroute in handoffs)
without a registry. Inputs go to region servers over one `Link` stream per server
(`RegionPool`), which also brings their snapshots and kicks back.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket

from gameserver.config import RealmSettings
from gameserver.gateway.login_queue import SeatKeeper
from gameserver.rcm.server import RcmServer
from gameserver.roles.runtime import Running, advertise_host, require, token_key
from gameserver.rpc.oem import OemClient
from gameserver.rpc.rcm import add_rcm
from gameserver.rpc.region import RegionClient, RegionPool
from gameserver.rpc.rwam import RwamClient
from gameserver.rpc.transport import bind_server
from gameserver.storage.factory import open_hot_state
from gameserver.wire.token import TokenSealer


async def start(s: RealmSettings) -> Running:
    require(s, "rcm", "redis_url", "oem_address", "rwam_address")
    sealer = TokenSealer(token_key(s, "rcm"))
    hot = await open_hot_state(s.redis_url, realm=s.name)
    rwam = RwamClient(s.rwam_address, timeout_s=s.rpc_timeout_s)
    oem = OemClient(s.oem_address, timeout_s=max(s.rpc_timeout_s, 15.0))
    grpc_server, grpc_port = bind_server(s.host, s.grpc_port)
    rcm_id = f"{advertise_host(s)}:{grpc_port}"
    pool: RegionPool | None = None

    def sinks(server_id: str, address: str) -> RegionClient:
        assert pool is not None
        return pool(server_id, address)

    rcm = RcmServer(
        realm=s.name,
        server_id=rcm_id,
        sealer=sealer,
        rwam=rwam,
        oem=oem,
        sinks=sinks,
        tick_rate=s.tick_rate,
        admission=SeatKeeper(s.name, hot, grace_s=s.login_grace_s),
        actions=rwam,  # realm-wide actions and presence go to the RWAM over gRPC
    )
    pool = RegionPool(rcm, rcm_id, timeout_s=s.rpc_timeout_s)
    add_rcm(grpc_server, rcm, rcm)  # the RWAM's notices come back through Rcm.Notify
    await grpc_server.start()
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: rcm, local_addr=(s.host, s.udp_port), family=socket.AF_INET
    )
    udp_port = int(transport.get_extra_info("sockname")[1])
    stop_event = asyncio.Event()
    timers = asyncio.create_task(rcm.run_timers(stop_event), name="rcm-timers")

    async def stop() -> None:
        await rcm.close()  # tell every client, leave the world for each (servers save)
        stop_event.set()
        with contextlib.suppress(asyncio.CancelledError):
            await timers
        transport.close()
        assert pool is not None
        await pool.close()
        await grpc_server.stop(grace=2)
        await oem.close()
        await rwam.close()
        await hot.close()

    return Running("rcm", {"grpc": grpc_port, "udp": udp_port}, stop, info={"rcm_id": rcm_id})
