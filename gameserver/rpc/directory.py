"""The OEM's region servers in a distributed realm, from the registry in the hot store.

Every region server heartbeats `(server id, region, address, state, players, capacity)`
to `HotState` each second with a short expiry. `HeartbeatDirectory` reads that list on a
timer and keeps one `RemoteRegion` (a cached gRPC client plus the last heartbeat) per live
server, so the OEM's `pick`/`get` stay synchronous dictionary lookups, exactly as with the
in-process `LocalRegionDirectory`. A server whose heartbeat expired drops out: nothing new
is placed on it and `get` no longer finds it (its players are recovered from their
checkpoints when their leases expire).

Between two heartbeats the directory counts the players it placed itself, so a burst of
logins spreads over the shards instead of piling onto the one that looked emptiest.

Instance hosts heartbeat too (`host=True`): they are kept apart (`hosts()`, for packing
instances onto them) and never placed on; their instance shards heartbeat like any server.
A shard the OEM has just created is `register`ed from the host's answer at once, and kept
for a grace period even before its first heartbeat is read, so the handoff into it need
not wait for the registry.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable

from gameserver.api.region import Extracted, JoinResult, PlayerJoin
from gameserver.rpc.region import RegionClient
from gameserver.storage.interfaces import HotState, StorageError
from gameserver.storage.models import CharacterState, ServerHeartbeat, ServerKind, ServerState
from gameserver.world.map import WorldMap

log = logging.getLogger(__name__)

Barrier = Callable[[], Awaitable[None]]


class RemoteRegion:
    """One region server as the OEM sees it: placement calls over gRPC plus its load."""

    def __init__(
        self,
        beat: ServerHeartbeat,
        *,
        max_speed: float,
        timeout_s: float = 10.0,
        before_extract: Barrier | None = None,
    ) -> None:
        self.server_id = beat.server_id
        self.region_name = beat.region
        self.address = beat.address
        self.max_speed_value = max_speed
        self.client = RegionClient(
            beat.address, server_id=beat.server_id, region_name=beat.region, timeout_s=timeout_s
        )
        self.before_extract = before_extract
        self.beat = beat
        self.capacity = beat.capacity
        self.placed_since_beat = 0

    def update(self, beat: ServerHeartbeat) -> None:
        if beat.sent_at_ms != self.beat.sent_at_ms:
            self.placed_since_beat = 0
        self.beat = beat
        self.capacity = beat.capacity

    @property
    def players(self) -> int:
        return self.beat.players + self.placed_since_beat

    @property
    def max_speed(self) -> float:
        return self.max_speed_value

    @property
    def state(self) -> ServerState:
        return self.beat.state

    def has_room(self) -> bool:
        return self.beat.state is ServerState.READY and self.players < self.capacity

    async def add_player(self, join: PlayerJoin) -> JoinResult:
        result = await self.client.add_player(join)
        self.placed_since_beat += 1
        return result

    async def remove_player(
        self, character_id: int, reason: str = "logout", kick: str | None = None
    ) -> CharacterState | None:
        return await self.client.remove_player(character_id, reason, kick)

    async def extract_player(self, character_id: int, reason: str) -> Extracted | None:
        if self.before_extract is not None:
            await self.before_extract()  # the RCM's hold is in force before we let go
        return await self.client.extract_player(character_id, reason)

    async def close(self) -> None:
        await self.client.close()


class HeartbeatDirectory:
    """A `RegionDirectory` (gameserver/oem/service.py) over the hot store's registry."""

    def __init__(
        self,
        hot: HotState,
        realm: str,
        world: WorldMap,
        *,
        timeout_s: float = 10.0,
        before_extract: Barrier | None = None,
    ) -> None:
        self.hot = hot
        self.realm = realm
        self.world = world
        self.timeout_s = timeout_s
        self.before_extract = before_extract
        self._servers: dict[str, RemoteRegion] = {}
        self._hosts: dict[str, ServerHeartbeat] = {}
        self._registered: dict[str, float] = {}  # server id -> when, until its beat is seen
        self.register_grace_s = 10.0
        self._retired: list[RemoteRegion] = []

    def _max_speed(self, region: str) -> float:
        try:
            return self.world.region(region).max_speed
        except (KeyError, LookupError, ValueError):
            return 7.0

    async def refresh(self) -> None:
        """Re-read the registry: add new servers, update loads, drop expired ones."""
        beats = await self.hot.servers(self.realm)
        seen: set[str] = set()
        hosts: dict[str, ServerHeartbeat] = {}
        for beat in beats:
            if not beat.address:
                continue
            if beat.host:
                hosts[beat.server_id] = beat
                continue
            seen.add(beat.server_id)
            self._registered.pop(beat.server_id, None)
            self._upsert(beat)
        self._hosts = hosts
        now = time.monotonic()
        for sid in [s for s in self._servers if s not in seen]:
            registered = self._registered.get(sid)
            if registered is not None and now - registered < self.register_grace_s:
                continue  # created a moment ago: its first heartbeat is on its way
            log.info("region server %s stopped heartbeating; forgetting it", sid)
            self._registered.pop(sid, None)
            self._retired.append(self._servers.pop(sid))

    def _upsert(self, beat: ServerHeartbeat) -> RemoteRegion:
        known = self._servers.get(beat.server_id)
        if known is not None and known.address != beat.address:
            self._retired.append(known)  # the same id on a new address: a restart
            known = None
        if known is None:
            known = self._servers[beat.server_id] = RemoteRegion(
                beat,
                max_speed=self._max_speed(beat.region),
                timeout_s=self.timeout_s,
                before_extract=self.before_extract,
            )
        else:
            known.update(beat)
        return known

    def register(self, beat: ServerHeartbeat) -> RemoteRegion:
        """Know a server now, from a heartbeat handed over directly (an instance shard the
        OEM just had a host create), rather than at the next read of the registry."""
        self._registered[beat.server_id] = time.monotonic()
        return self._upsert(beat)

    def forget(self, server_id: str) -> None:
        """Drop a server that is gone (an unloaded instance) without waiting for its
        heartbeat to expire."""
        self._registered.pop(server_id, None)
        gone = self._servers.pop(server_id, None)
        if gone is not None:
            self._retired.append(gone)

    def hosts(self) -> list[ServerHeartbeat]:
        """The live instance hosts' own heartbeats (their load is their shards' sum)."""
        return list(self._hosts.values())

    def host(self, host_id: str) -> ServerHeartbeat | None:
        return self._hosts.get(host_id)

    async def run(self, stop: asyncio.Event, interval_s: float = 0.5) -> None:
        while not stop.is_set():
            try:
                await self.refresh()
            except StorageError as e:
                log.warning("cannot read the server registry: %s", e)
            await self._close_retired()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval_s)

    async def _close_retired(self) -> None:
        retired, self._retired = self._retired, []
        for r in retired:
            await r.close()

    # --- RegionDirectory ---------------------------------------------------------------------
    def get(self, server_id: str) -> RemoteRegion | None:
        return self._servers.get(server_id)

    def pick(self, region: str, exclude: Iterable[str] = ()) -> RemoteRegion | None:
        """The least loaded Ready shard of `region` with room. Never a dungeon instance:
        each is one group's copy, reached only by its id (`get`), so a drain or a recovery
        cannot move a player into another group's instance."""
        skip = set(exclude)
        candidates = [
            s
            for s in self._servers.values()
            if s.region_name == region
            and s.server_id not in skip
            and s.beat.kind is ServerKind.WORLD
            and s.has_room()
        ]
        return min(candidates, key=lambda s: s.players / max(1, s.capacity), default=None)

    def all(self) -> list[RemoteRegion]:
        return list(self._servers.values())

    async def close(self) -> None:
        self._retired.extend(self._servers.values())
        self._servers.clear()
        await self._close_retired()
