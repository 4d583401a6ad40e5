"""`realm serve rwam`: the realm-wide actions manager on PostgreSQL, over gRPC.

The RWAM is the only role that writes characters' rows outside a session, so it opens the
durable store (and migrates it: start it first). It serves characters, and, with the hot
store (`REALM_REDIS_URL`), the realm-wide actions (chat, friends, mail, auctions, party,
guild): the RCMs forward clients' requests and presence to it (`Rwam.Handle`,
`Rwam.CharacterEntered/Left`); it reaches players through the RCM named in their route
(`Rcm.Notify`) and runs gold/item transactions of online characters on the region server
named there (`Region.Economy`). Presence and parties live in this process's memory: run
one RWAM per realm.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from gameserver.config import RealmSettings
from gameserver.roles.runtime import Running, require, world_map
from gameserver.rpc.actions import RemoteWorld, RouteNotifier
from gameserver.rpc.rwam import add_rwam
from gameserver.rpc.transport import start_server
from gameserver.rwam.actions import RealmActions
from gameserver.rwam.service import RwamService
from gameserver.storage.factory import open_database, open_hot_state
from gameserver.storage.interfaces import HotState

log = logging.getLogger(__name__)


async def start(s: RealmSettings) -> Running:
    require(s, "rwam", "postgres_url")
    world = world_map(s)
    db = await open_database(s.postgres_url, s.data_dir, realm=s.name)
    hot: HotState | None = None
    actions: RealmActions | None = None
    notifier: RouteNotifier | None = None
    remote: RemoteWorld | None = None
    try:
        service = RwamService(db, world)
        if s.redis_url:
            hot = await open_hot_state(s.redis_url, realm=s.name)
            notifier = RouteNotifier(hot, timeout_s=s.rpc_timeout_s)
            remote = RemoteWorld(hot, s.name, timeout_s=s.rpc_timeout_s)
            actions = RealmActions(db, hot, remote, notifier, realm=s.name)
            presence = actions.presence

            def account_of(character_id: int) -> int | None:
                who = presence.get(character_id)
                return who.account_id if who is not None else None

            notifier.account_of = remote.account_of = account_of
        else:
            log.warning("no REALM_REDIS_URL: realm-wide actions are off in this RWAM")
        server, port = await start_server(
            lambda g: add_rwam(g, service, actions), s.host, s.grpc_port
        )
    except BaseException:
        if hot is not None:
            await hot.close()
        await db.close()
        raise
    stop_event = asyncio.Event()
    timers = (
        asyncio.create_task(actions.run_timers(stop_event), name="rwam-timers")
        if actions is not None
        else None
    )

    async def stop() -> None:
        await server.stop(grace=5)
        stop_event.set()
        if timers is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await timers
        if notifier is not None:
            await notifier.close()
        if remote is not None:
            await remote.close()
        if hot is not None:
            await hot.close()
        await db.close()

    return Running("rwam", {"grpc": port}, stop)
