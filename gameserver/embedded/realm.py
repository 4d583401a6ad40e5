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
from typing import cast

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gameserver import metrics
from gameserver.api.region import InputSink
from gameserver.config import RealmSettings
from gameserver.embedded.fleet import EmbeddedFleet
from gameserver.embedded.instances import EmbeddedInstanceHosts
from gameserver.embedded.world import RegionWorld
from gameserver.gateway.accounts import AccountService
from gameserver.gateway.http import RealmInfo, build_app
from gameserver.gateway.login_queue import AdmissionRate, LoginQueue, QueueSettings, SeatKeeper
from gameserver.gateway.patch import build_manifest
from gameserver.oem.instances import InstanceManager
from gameserver.oem.service import LocalRcmDirectory, LocalRegionDirectory, OemService
from gameserver.rcm.server import RcmServer
from gameserver.region.driver import run_ticks
from gameserver.region.server import RegionServer
from gameserver.region.shard import SnapshotConfig
from gameserver.rwam.actions import RealmActions
from gameserver.rwam.service import RwamService
from gameserver.scaling.policy import ScalingSpec
from gameserver.scaling.supervisor import Supervisor
from gameserver.storage.factory import open_storage
from gameserver.storage.interfaces import HotState, RealmDatabase
from gameserver.storage.models import ServerKind
from gameserver.wire.token import TokenSealer
from gameserver.world.map import DEFAULT_MAP, RegionDef, WorldMap

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
    _server_stops: dict[str, asyncio.Event] = field(default_factory=dict)
    directory: LocalRegionDirectory = field(default_factory=LocalRegionDirectory)
    oem: OemService | None = None
    supervisor: Supervisor | None = None
    _next_id_block: int = 1
    actions: RealmActions | None = None
    login_queue: LoginQueue | None = None
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
        directory = self.directory = LocalRegionDirectory()
        rcms = LocalRcmDirectory({})
        oem = self.oem = OemService(
            rwam=rwam,
            hot=self.hot,
            directory=directory,
            rcms=rcms,
            world=self.world,
            realm=s.name,
            lease_ttl_ms=int(s.lease_ttl_s * 1000),
            instances=InstanceManager(
                realm=s.name,
                hosts=EmbeddedInstanceHosts(self, s.instance_hosts, s.players_per_server),
                hot=self.hot,
                party_members=self._party_members,
                lockout_s=s.instance_lockout_s,
                unload_delay_s=s.instance_unload_delay_s,
            ),
        )

        def sink(server_id: str, address: str) -> InputSink:
            server = directory.get(server_id)
            if server is None:
                raise LookupError(f"no region server {server_id} in this process")
            return cast(InputSink, server)

        rcm = self.rcm = RcmServer(
            realm=s.name,
            server_id="rcm-0",
            sealer=sealer,
            rwam=rwam,
            oem=oem,
            sinks=sink,
            tick_rate=s.tick_rate,
        )
        rcms.rcms[rcm.rcm_id] = rcm
        # Realm-wide actions: the RCM delivers their notices, the region servers hold the
        # inventories of online characters (see gameserver/rwam/economy.py).
        self.actions = RealmActions(
            self.db, self.hot, RegionWorld(lambda: list(self.regions)), rcm, realm=s.name
        )
        rcm.actions = self.actions
        rcm.admission = SeatKeeper(s.name, self.hot, grace_s=s.login_grace_s)
        for region in self.world.regions:
            if region.kind is ServerKind.WORLD:
                self.add_region_server(region)

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

        # Seats follow the Ready capacity the region servers heartbeat into the hot state.
        self.login_queue = LoginQueue(
            s.name,
            self.hot,
            self.hot,
            QueueSettings(
                max_players=s.max_players,
                rate=AdmissionRate(s.login_rate_per_s, s.login_burst),
                grace_s=s.login_grace_s,
                pending_ttl_s=s.token_ttl_s + 30.0,
            ),
            ticket_key=key,
        )
        app = build_app(
            accounts,
            realm_info,
            build_manifest(s.patch_dir),
            s.patch_dir,
            login_queue=self.login_queue,
        )
        http_port = await self._serve(app, s.host, s.http_port)
        metrics_port = await self._serve(self._metrics_app(), s.host, s.metrics_port)

        for server in self.regions:
            self._start_region_tasks(server)
        self._tasks.append(asyncio.create_task(self.rcm.run_timers(self._stop), name="rcm-timers"))
        # Region servers turn Ready on their first tick; report that now instead of at their
        # first heartbeat a second later, so the login queue starts with the real capacity.
        await asyncio.sleep(0)
        for server in self.regions:
            await self.hot.heartbeat(server.heartbeat(), ttl_ms=5000)
        await self.login_queue.refresh_capacity()
        self._tasks.append(
            asyncio.create_task(self.login_queue.run(self._stop), name="login-queue")
        )
        self._tasks.append(
            asyncio.create_task(self.actions.run_timers(self._stop), name="rwam-timers")
        )
        self._tasks.append(asyncio.create_task(self._reap_instances(self._stop), name="instances"))
        self._tasks.append(asyncio.create_task(oem.watch_servers(self._stop), name="recovery"))
        if s.autoscale:
            self.supervisor = self._supervisor()
            self._tasks.append(
                asyncio.create_task(self.supervisor.run(self._stop), name="supervisor")
            )
        self.addresses = Addresses(
            http=f"http://{public}:{http_port}",
            udp=f"{public}:{udp_port}",
            metrics=f"http://{public}:{metrics_port}/metrics",
        )
        metrics.REALM_CAPACITY.labels(s.name).set(realm_info().capacity)
        return self.addresses

    def _party_members(self, character_id: int) -> tuple[int, ...]:
        view = self.actions.party_of(character_id) if self.actions is not None else None
        return tuple(view.members) if view is not None else ()

    async def _reap_instances(self, stop: asyncio.Event) -> None:
        """Unload dungeon instances that have stood empty past their unload delay."""
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=1.0)
            except TimeoutError:
                pass
            if self.oem is not None and self.oem.instances is not None:
                await self.oem.instances.reap()

    def _supervisor(self) -> Supervisor:
        s = self.settings
        hot = self.hot
        assert hot is not None
        specs = {
            r.name: ScalingSpec(
                players_per_server=s.players_per_server,
                target_utilisation=s.target_utilisation,
                min_servers=1,
                max_servers=s.max_servers_per_region,
                scale_down_window_s=s.scale_down_window_s,
                drain_timeout_s=s.drain_timeout_s,
            )
            for r in self.world.regions
            if r.kind is ServerKind.WORLD
        }

        async def queued() -> int:
            return self.login_queue.length if self.login_queue is not None else 0

        oem = self.oem
        assert oem is not None
        return Supervisor(
            EmbeddedFleet(self),
            specs,
            realm=s.name,
            max_players=s.max_players,
            queue_length=queued,
            unplaced=oem.unplaced,
        )

    def add_region_server(
        self, region: RegionDef, index: int | None = None, server_id: str | None = None
    ) -> RegionServer:
        """Create a region server shard in this process and make it placeable. Its tick
        and maintenance tasks start with the realm (or at once, if it is running)."""
        s = self.settings
        assert self.db is not None and self.hot is not None and self.rcm is not None
        n = index if index is not None else sum(r.region.name == region.name for r in self.regions)
        server = RegionServer(
            realm=s.name,
            region=region,
            server_id=server_id or f"{region.name}-{n}",
            db=self.db,
            hot=self.hot,
            outbox=self.rcm,
            tick_rate=s.tick_rate,
            capacity=s.players_per_server,
            checkpoint_interval_s=s.checkpoint_interval_s,
            hot_checkpoint_interval_s=s.hot_checkpoint_interval_s,
            lease_ttl_ms=int(s.lease_ttl_s * 1000),
            id_block=self._next_id_block,
            snapshots=SnapshotConfig(every=s.snapshot_every, budget_bytes=s.snapshot_budget_bytes),
        )
        self._next_id_block += 1
        assert self.oem is not None
        server.connect(self.oem, self.world)
        self.regions.append(server)
        self.directory.add(server)
        if self.addresses is not None:  # already running: start its loops now
            self._start_region_tasks(server)
        return server

    def _start_region_tasks(self, server: RegionServer) -> None:
        stop = self._server_stops.setdefault(server.server_id, asyncio.Event())
        if self._stop.is_set():
            stop.set()
        self._tasks.append(
            asyncio.create_task(run_ticks(server, stop), name=f"tick-{server.server_id}")
        )
        self._tasks.append(
            asyncio.create_task(server.maintain(stop), name=f"maint-{server.server_id}")
        )
        self._tasks.append(
            asyncio.create_task(server.run_borders(stop), name=f"borders-{server.server_id}")
        )

    async def remove_region_server(self, server: RegionServer) -> None:
        """Stop a shard that has drained (or save and kick what is left on it)."""
        self.directory.remove(server.server_id)
        await server.shutdown()
        self._server_stops.setdefault(server.server_id, asyncio.Event()).set()
        if server in self.regions:
            self.regions.remove(server)
        assert self.hot is not None
        await self.hot.remove(self.settings.name, server.server_id)

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
            if self.login_queue is None:  # else the queue reports seats taken
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
        for ev in self._server_stops.values():
            ev.set()
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
