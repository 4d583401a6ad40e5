"""`realm serve rwam`: the realm-wide actions manager (characters) on PostgreSQL, over gRPC.

The RWAM is the only role that writes characters' rows outside a session, so it opens the
durable store (and migrates it: start it first). It needs no hot state and no peers.
"""

from __future__ import annotations

from gameserver.config import RealmSettings
from gameserver.roles.runtime import Running, require, world_map
from gameserver.rpc.rwam import add_rwam
from gameserver.rpc.transport import start_server
from gameserver.rwam.service import RwamService
from gameserver.storage.factory import open_database


async def start(s: RealmSettings) -> Running:
    require(s, "rwam", "postgres_url")
    world = world_map(s)
    db = await open_database(s.postgres_url, s.data_dir, realm=s.name)
    try:
        service = RwamService(db, world)
        server, port = await start_server(lambda g: add_rwam(g, service), s.host, s.grpc_port)
    except BaseException:
        await db.close()
        raise

    async def stop() -> None:
        await server.stop(grace=5)
        await db.close()

    return Running("rwam", {"grpc": port}, stop)
