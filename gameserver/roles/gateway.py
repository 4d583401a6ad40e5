"""`realm serve gateway`: accounts, login, the login queue, realm list and patch files.

The gateway needs only storage and the realm's token key: it seals login tokens the RCMs
open with the same key, and reads load and capacity from the region servers' heartbeats
in the hot store (the login queue admits up to the Ready capacity). It tells clients the
RCM's UDP address from `REALM_RCM_ADDRESS` (or `public_host`/`host` and `udp_port`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiohttp import web

from gameserver import metrics
from gameserver.config import RealmSettings
from gameserver.gateway.accounts import AccountService
from gameserver.gateway.http import RealmInfo, build_app
from gameserver.gateway.login_queue import AdmissionRate, LoginQueue, QueueSettings
from gameserver.gateway.patch import build_manifest
from gameserver.roles.runtime import RoleConfigError, Running, require, token_key
from gameserver.storage.factory import open_storage
from gameserver.storage.interfaces import StorageError
from gameserver.storage.models import ServerState
from gameserver.wire.token import TokenSealer

log = logging.getLogger(__name__)


def rcm_endpoint(s: RealmSettings) -> tuple[str, int]:
    if s.rcm_address:
        host, _, port = s.rcm_address.rpartition(":")
        if not host or not port.isdigit():
            raise RoleConfigError(f"REALM_RCM_ADDRESS={s.rcm_address!r} is not host:port")
        return host, int(port)
    return s.public_host or s.host, s.udp_port


async def start(s: RealmSettings) -> Running:
    require(s, "gateway", "postgres_url", "redis_url")
    key = token_key(s, "gateway")
    rcm_host, rcm_port = rcm_endpoint(s)
    db, hot = await open_storage(s.postgres_url, s.redis_url, s.data_dir, realm=s.name)
    accounts = AccountService(
        s.name,
        db,
        TokenSealer(key),
        token_ttl_ms=int(s.token_ttl_s * 1000),
        time_cost=s.argon2_time_cost,
        memory_kib=s.argon2_memory_kib,
    )
    load = {"online": 0, "capacity": 0}

    async def watch_load(stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                # instance hosts' load is their shards', which heartbeat on their own
                beats = [b for b in await hot.servers(s.name) if not b.host]
                load["online"] = sum(b.players for b in beats)
                load["capacity"] = sum(b.capacity for b in beats if b.state is ServerState.READY)
            except StorageError as e:
                log.warning("cannot read the server registry: %s", e)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=1.0)

    def realm_info() -> RealmInfo:
        return RealmInfo(
            name=s.name,
            rcm_host=rcm_host,
            rcm_port=rcm_port,
            online=load["online"],
            capacity=min(s.max_players, load["capacity"]),
        )

    login_queue = LoginQueue(
        s.name,
        hot,
        hot,
        QueueSettings(
            max_players=s.max_players,
            rate=AdmissionRate(s.login_rate_per_s, s.login_burst),
            grace_s=s.login_grace_s,
            pending_ttl_s=s.token_ttl_s + 30.0,
        ),
        ticket_key=key,
    )
    app = build_app(
        accounts, realm_info, build_manifest(s.patch_dir), s.patch_dir, login_queue=login_queue
    )
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, s.host, s.http_port).start()
    http_port = int(runner.addresses[-1][1])
    stop_event = asyncio.Event()
    await login_queue.refresh_capacity()
    tasks = [
        asyncio.create_task(watch_load(stop_event), name="gateway-load"),
        asyncio.create_task(login_queue.run(stop_event), name="login-queue"),
    ]
    metrics.REALM_CAPACITY.labels(s.name).set(s.max_players)

    async def stop() -> None:
        await runner.cleanup()  # no new logins
        stop_event.set()
        for t in tasks:
            try:
                await asyncio.wait_for(t, timeout=5)
            except (TimeoutError, asyncio.CancelledError):
                t.cancel()
        await hot.close()
        await db.close()

    return Running("gateway", {"http": http_port}, stop)
