"""`realm serve region` for an instance region of the map: an instance host.

The host starts with no shard. The OEM asks it to start one per dungeon instance
(`Region.CreateInstance`): a `RegionServer` whose region is the instance template and
whose server id is the instance id, with its own tick, maintenance (checkpoints, leases,
its own heartbeat, at the host's gRPC address) and connected to the OEM for the way out.
`Region.UnloadInstance` stops one (saving anyone still inside). One `LinkHub` serves
every shard: an RCM keeps one link to the host, and the servicer routes each input to the
shard holding that character.

The host heartbeats itself with `host=True`: capacity `players_per_server`
times `instance_host_slots`, players the sum over its shards, so the OEM can pack instances onto
the fullest host with room. A drain request for the host (the operator scaling down)
makes it take no new instance; once its last instance is unloaded the process exits.
Stopping it (SIGTERM) saves everyone in every instance.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from gameserver.api.oem import OemApi
from gameserver.config import RealmSettings
from gameserver.oem.instances import InstanceError
from gameserver.region.driver import run_ticks
from gameserver.region.server import RegionServer
from gameserver.region.shard import SnapshotConfig
from gameserver.rpc.region import HostedRegion, LinkHub
from gameserver.storage.interfaces import CharacterStore, HotState, StorageError
from gameserver.storage.models import ServerHeartbeat, ServerKind, ServerState
from gameserver.world.map import RegionDef, WorldMap

log = logging.getLogger(__name__)


@dataclass
class _Shard:
    server: RegionServer
    stop: asyncio.Event
    tasks: list[asyncio.Task[None]]


@dataclass
class InstanceHost:
    """The shards of one instance host process (a `ShardSet` for its gRPC servicer)."""

    settings: RealmSettings
    world: WorldMap
    template: RegionDef
    host_id: str
    address: str
    db: CharacterStore
    hot: HotState
    oem: OemApi
    hub: LinkHub
    id_block_of: Callable[[str], int]
    state: ServerState = ServerState.STARTING
    drained: asyncio.Event = field(default_factory=asyncio.Event)
    shards: dict[str, _Shard] = field(default_factory=dict)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def capacity(self) -> int:
        return self.settings.players_per_server * self.settings.instance_host_slots

    @property
    def players(self) -> int:
        return sum(sh.server.players for sh in self.shards.values())

    # --- ShardSet ------------------------------------------------------------------------
    def shard(self, server_id: str) -> HostedRegion | None:
        if not server_id:  # unnamed: the only shard, if there is exactly one
            only = list(self.shards.values())
            return only[0].server if len(only) == 1 else None
        found = self.shards.get(server_id)
        return found.server if found is not None else None

    async def create_instance(self, template: str, instance_id: str) -> ServerHeartbeat:
        if template != self.template.name:
            raise LookupError(f"this host runs {self.template.name}, not {template}")
        if not instance_id:
            raise LookupError("an instance needs an id")
        async with self._lock:
            existing = self.shards.get(instance_id)
            if existing is not None:  # a retried create: the same shard
                return existing.server.heartbeat()
            if self.state is not ServerState.READY:
                raise InstanceError("no_capacity", f"instance host {self.host_id} is draining")
            s = self.settings
            server = RegionServer(
                realm=s.name,
                region=self.template,
                server_id=instance_id,
                db=self.db,
                hot=self.hot,
                outbox=self.hub,
                tick_rate=s.tick_rate,
                capacity=s.players_per_server,
                checkpoint_interval_s=s.checkpoint_interval_s,
                hot_checkpoint_interval_s=s.hot_checkpoint_interval_s,
                lease_ttl_ms=int(s.lease_ttl_s * 1000),
                address=self.address,
                id_block=self.id_block_of(instance_id),
                snapshots=SnapshotConfig(
                    every=s.snapshot_every, budget_bytes=s.snapshot_budget_bytes
                ),
            )
            server.connect(self.oem, self.world)  # the exit, back through the OEM
            stop = asyncio.Event()
            tasks = [
                asyncio.create_task(run_ticks(server, stop), name=f"tick-{instance_id}"),
                asyncio.create_task(server.maintain(stop), name=f"maint-{instance_id}"),
            ]
            self.shards[instance_id] = _Shard(server, stop, tasks)
            await asyncio.sleep(0)  # its tick loop starts, which makes it Ready
            if server.state is ServerState.STARTING:
                server.state = ServerState.READY
            beat = server.heartbeat()
            with contextlib.suppress(StorageError):
                await self.hot.heartbeat(beat, ttl_ms=5000)
            log.info("instance %s of %s started", instance_id, template)
        await self.beat()
        return beat

    async def unload_instance(self, instance_id: str) -> int:
        async with self._lock:
            shard = self.shards.pop(instance_id, None)
            if shard is None:
                return 0  # already gone: unloading is idempotent
            saved = await self._stop_shard(instance_id, shard)
            log.info("instance %s unloaded (%d saved on the way out)", instance_id, saved)
        await self.beat()
        return saved

    async def _stop_shard(self, instance_id: str, shard: _Shard) -> int:
        saved = await shard.server.shutdown()
        shard.stop.set()
        for t in shard.tasks:
            try:
                await asyncio.wait_for(t, timeout=5)
            except (TimeoutError, asyncio.CancelledError):
                t.cancel()
        with contextlib.suppress(StorageError):
            await self.hot.remove(self.settings.name, instance_id)  # after its last beat
        return saved

    # --- the host's own heartbeat ----------------------------------------------------------
    def heartbeat(self) -> ServerHeartbeat:
        players = self.players
        return ServerHeartbeat(
            server_id=self.host_id,
            realm=self.settings.name,
            region=self.template.name,
            kind=ServerKind.INSTANCE,
            address=self.address,
            state=self.state,
            players=players,
            capacity=self.capacity,
            saved=players == 0,
            sent_at_ms=int(time.time() * 1000),
            host=True,
        )

    async def beat(self) -> None:
        try:
            await self.hot.heartbeat(self.heartbeat(), ttl_ms=5000)
        except StorageError as e:
            log.warning("host heartbeat failed: %s", e)

    async def run(self, stop: asyncio.Event, interval_s: float = 1.0) -> None:
        """Heartbeat the host; follow a drain request; say when drained and empty."""
        while not stop.is_set():
            try:
                if self.state is ServerState.READY and await self.hot.drain_requested(
                    self.settings.name, self.host_id
                ):
                    log.info("%s: draining (no new instances)", self.host_id)
                    self.state = ServerState.DRAINING
            except StorageError as e:
                log.warning("drain check failed: %s", e)
            await self.beat()
            if self.state is ServerState.DRAINING and not self.shards:
                self.drained.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval_s)

    async def shutdown(self) -> int:
        """Stop every instance (saving everyone inside); returns how many were saved."""
        self.state = ServerState.DRAINING
        saved = 0
        async with self._lock:
            for iid, shard in list(self.shards.items()):
                del self.shards[iid]
                saved += await self._stop_shard(iid, shard)
        with contextlib.suppress(StorageError):
            await self.hot.remove(self.settings.name, self.host_id)
        return saved
