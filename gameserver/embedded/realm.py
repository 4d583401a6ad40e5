"""The embedded realm: every service in one process, wired with in-process calls.

This is the composition root: the only place that decides which storage backend and which
transport each service gets. Services see interfaces (storage protocols, the region
`Outbox`, `RegionHandle`) and never ask which mode they run in. The only open ports are the
client-facing ones: HTTP (gateway), UDP (RCM) and the metrics endpoint.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import socket
from dataclasses import dataclass, field

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gameserver import metrics
from gameserver.config import RealmSettings
from gameserver.gateway.accounts import AccountService
from gameserver.gateway.http import RealmInfo, build_app
from gameserver.gateway.patch import build_manifest
from gameserver.oem.service import OemService, RegionDirectory
from gameserver.rcm.server import RcmServer
from gameserver.region.driver import run_ticks
from gameserver.region.server import RegionServer
from gameserver.rwam.service import RwamService
from gameserver.storage.factory import open_storage
from gameserver.storage.interfaces import HotState, RealmDatabase
from gameserver.storage.models import ServerKind
from gameserver.wire.token import TokenSealer
from gameserver.world.map import DEFAULT_MAP, WorldMap

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Addresses:
    http: str
    udp: str
    metrics: str


@dataclass
class EmbeddedRealm:
    settings: RealmSettings
    world: WorldMap = DEFAULT_MAP
    db: RealmDatabase | None = None
    hot: HotState | None = None
    regions: list[RegionServer] = field(default_factory=list)
    rcm: RcmServer | None = None
    addresses: Addresses | None = None
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _runners: list[web.AppRunner] = field(default_factory=list)
    _udp: asyncio.DatagramTransport | None = None
    characters_saved: int = 0

    async def start(self) -> Addresses:
        s = self.settings
        self.db, self.hot = await open_storage(
            s.postgres_url, s.redis_url, s.data_dir, realm=s.name
        )
        key = bytes.fromhex(s.token_key) if s.token_key else secrets.token_bytes(32)
        sealer = TokenSealer(key)
        rwam = RwamService(self.db, self.world)
        directory = RegionDirectory()
        oem = OemService(rwam=rwam, hot=self.hot, directory=directory)
        rcm = self.rcm = RcmServer(
            realm=s.name,
            server_id="rcm-0",
            sealer=sealer,
            rwam=rwam,
            oem=oem,
            tick_rate=s.tick_rate,
        )
        for region in self.world.regions:
            if region.kind is not ServerKind.WORLD:
                continue
            server = RegionServer(
                realm=s.name,
                region=region,
                server_id=f"{region.name}-0",
                db=self.db,
                hot=self.hot,
                outbox=self.rcm,
                tick_rate=s.tick_rate,
                capacity=s.players_per_server,
                checkpoint_interval_s=s.checkpoint_interval_s,
            )
            self.regions.append(server)
            directory.add(server)

        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: rcm, local_addr=(s.host, s.udp_port), family=socket.AF_INET
        )
        self._udp = transport
        udp_port = transport.get_extra_info("sockname")[1]
        public = s.public_host or s.host

        accounts = AccountService(
            s.name,
            self.db,
            sealer,
            token_ttl_ms=int(s.token_ttl_s * 1000),
            time_cost=s.argon2_time_cost,
            memory_kib=s.argon2_memory_kib,
        )

        def realm_info() -> RealmInfo:
            return RealmInfo(
                name=s.name,
                rcm_host=public,
                rcm_port=udp_port,
                online=sum(r.players for r in self.regions),
                capacity=min(s.max_players, sum(r.capacity for r in self.regions)),
            )

        app = build_app(accounts, realm_info, build_manifest(s.patch_dir), s.patch_dir)
        http_port = await self._serve(app, s.host, s.http_port)
        metrics_port = await self._serve(self._metrics_app(), s.host, s.metrics_port)

        for server in self.regions:
            self._tasks.append(
                asyncio.create_task(run_ticks(server, self._stop), name=f"tick-{server.server_id}")
            )
            self._tasks.append(
                asyncio.create_task(server.maintain(self._stop), name=f"maint-{server.server_id}")
            )
        self._tasks.append(asyncio.create_task(self.rcm.run_timers(self._stop), name="rcm-timers"))
        self.addresses = Addresses(
            http=f"http://{public}:{http_port}",
            udp=f"{public}:{udp_port}",
            metrics=f"http://{public}:{metrics_port}/metrics",
        )
        metrics.REALM_CAPACITY.labels(s.name).set(realm_info().capacity)
        return self.addresses

    async def _serve(self, app: web.Application, host: str, port: int) -> int:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        self._runners.append(runner)
        return int(runner.addresses[-1][1])

    def _metrics_app(self) -> web.Application:
        app = web.Application()

        async def scrape(_: web.Request) -> web.Response:
            online = sum(r.players for r in self.regions)
            metrics.ONLINE_PLAYERS.labels(self.settings.name).set(online)
            return web.Response(
                body=generate_latest(metrics.REGISTRY),
                headers={"Content-Type": CONTENT_TYPE_LATEST},
            )

        async def healthz(_: web.Request) -> web.Response:
            return web.json_response({"ok": True})

        app.router.add_get("/metrics", scrape)
        app.router.add_get("/healthz", healthz)
        return app

    @property
    def players(self) -> int:
        return sum(r.players for r in self.regions)

    async def stop(self) -> int:
        """Clean shutdown: disconnect clients, save every character, close storage.
        Returns the number of characters saved by the shutdown."""
        saved_before = sum(r.saves for r in self.regions)
        if self.rcm is not None:
            await self.rcm.close()
        for server in self.regions:
            await server.shutdown()
        self._stop.set()
        for t in self._tasks:
            try:
                await asyncio.wait_for(t, timeout=5)
            except (TimeoutError, asyncio.CancelledError):
                t.cancel()
        if self._udp is not None:
            self._udp.close()
        for runner in self._runners:
            await runner.cleanup()
        if self.hot is not None:
            await self.hot.close()
        if self.db is not None:
            await self.db.close()
        self.characters_saved = sum(r.saves for r in self.regions) - saved_before
        return self.characters_saved
