"""The objects exchange manager: who owns which character, and on which region server it
lives.

Entering the world takes the character's lease (one live copy, ever), loads its newest
saved state, picks a region server shard with room for the character's region, and records
the route the RCM uses. Leaving saves through the region server, which then releases the
lease. A second login of an account that is already in the world takes over: the first
session is saved and closed before the new one enters (see docs/architecture.md, "One live
copy").

A **handoff** is the one mechanism for every move between servers: a border crossing, a
drain, entering or leaving an instance. The RCM first holds the player's inputs; the source
server saves the player and lets go of it (the lease moves, it is not released); the target
takes it with its movement continuity (last input acked, queued frames); the route is
rewritten; and the RCM switches to the target and replays what it held. No input is lost
and at no moment do two servers simulate the character.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Protocol

from gameserver import metrics
from gameserver.api.oem import OemError, Placement
from gameserver.api.rcm import RcmApi
from gameserver.api.region import JoinResult, PlayerJoin, RegionServerApi
from gameserver.api.rwam import RwamApi
from gameserver.oem.instances import InstanceError, InstanceManager
from gameserver.storage.interfaces import HotState, StorageError
from gameserver.storage.models import CharacterState, Route
from gameserver.world.map import WorldMap

log = logging.getLogger(__name__)

__all__ = ["LocalRegionDirectory", "OemError", "OemService", "Placement", "RegionDirectory"]


class PlaceableServer(RegionServerApi, Protocol):
    """A region server as the directory sees it: the API plus its load."""

    address: str
    capacity: int

    @property
    def players(self) -> int: ...

    @property
    def max_speed(self) -> float: ...

    def has_room(self) -> bool: ...


class RegionDirectory(Protocol):
    """The region servers the OEM can place characters on."""

    def pick(self, region: str, exclude: Iterable[str] = ()) -> PlaceableServer | None: ...

    def get(self, server_id: str) -> PlaceableServer | None: ...


class LocalRegionDirectory:
    """The region servers of this process (the embedded realm, the local supervisor)."""

    def __init__(self, servers: Iterable[PlaceableServer] = ()) -> None:
        self._servers: dict[str, PlaceableServer] = {s.server_id: s for s in servers}

    def add(self, server: PlaceableServer) -> None:
        self._servers[server.server_id] = server

    def remove(self, server_id: str) -> None:
        self._servers.pop(server_id, None)

    def all(self) -> list[PlaceableServer]:
        return list(self._servers.values())

    def get(self, server_id: str) -> PlaceableServer | None:
        return self._servers.get(server_id)

    def pick(self, region: str, exclude: Iterable[str] = ()) -> PlaceableServer | None:
        """The least loaded Ready shard of `region` with room (fill evenly; the scaler adds
        shards before they fill)."""
        skip = set(exclude)
        candidates = [
            s
            for s in self._servers.values()
            if s.region_name == region and s.server_id not in skip and s.has_room()
        ]
        return min(candidates, key=lambda s: s.players / max(1, s.capacity), default=None)


class RcmDirectory(Protocol):
    def get(self, rcm_id: str) -> RcmApi | None: ...


@dataclass
class LocalRcmDirectory:
    rcms: dict[str, RcmApi]

    def get(self, rcm_id: str) -> RcmApi | None:
        return self.rcms.get(rcm_id)


class OemService:
    def __init__(
        self,
        *,
        rwam: RwamApi,
        hot: HotState,
        directory: RegionDirectory,
        rcms: RcmDirectory | None = None,
        world: WorldMap | None = None,
        realm: str = "home",
        lease_ttl_ms: int = 30_000,
        instances: InstanceManager | None = None,
    ) -> None:
        self.instances = instances
        if world is not None:  # series at 0 from the start, so rate() sees the first handoff
            for r in world.regions:
                for why in ("border", "drain", "instance", "recovery"):
                    metrics.HANDOFFS.labels(realm, r.name, why)
                metrics.HANDOFF_DURATION.labels(realm, r.name)
        self.rwam = rwam
        self.hot = hot
        self.directory = directory
        self.rcms = rcms if rcms is not None else LocalRcmDirectory({})
        self.world = world
        self.realm = realm
        self.lease_ttl_ms = lease_ttl_ms
        self._moving: set[int] = set()  # characters with a handoff in progress
        self.handoff_seconds: deque[float] = deque(maxlen=10_000)  # recent, for benchmarks
        # Characters refused for want of room, by region: demand the scalers must see
        # (they are on no server yet), forgotten once placed or after a minute.
        self._unplaced: dict[str, dict[int, float]] = {}

    @staticmethod
    def lease_key(character_id: int) -> str:
        return f"character:{character_id}"

    async def enter_world(
        self, account_id: int, character_id: int, conn_id: int, rcm: str
    ) -> Placement:
        await self.rwam.owned_character(account_id, character_id)
        # Take over: an account plays one character at a time; its previous session (this
        # character or another) is saved and closed first, and only then is the character
        # loaded, so the new session starts from that save.
        route = await self.hot.get_route(account_id)
        if route is not None:
            await self.leave_world(
                account_id, reason="takeover", kick="your account logged in from another session"
            )
        character = await self.rwam.owned_character(account_id, character_id)
        lease = await self.hot.acquire(
            self.lease_key(character_id), f"{rcm}/{conn_id}", self.lease_ttl_ms
        )
        if lease is None:
            raise OemError(
                "already_online",
                "this character is still in the world from another session; "
                f"try again within {self.lease_ttl_ms // 1000} s",
            )
        try:
            state = character.state
            checkpoint = await self.hot.get_checkpoint(character_id)
            if checkpoint is not None and checkpoint[1] >= character.save_fence:
                state = checkpoint[0]
            server = self._resume(state)
            if state.instance is not None and server is None:
                # its instance is gone (unloaded, or the realm restarted): back outside
                state = state.model_copy(
                    update={
                        "region": state.return_region or state.region,
                        "x": state.return_x,
                        "y": state.return_y,
                        "instance": None,
                        "return_region": None,
                    }
                )
            if server is None:
                server = self.directory.pick(state.region)
            if server is None:
                self._unplaced.setdefault(state.region, {})[character_id] = time.monotonic()
                raise OemError(
                    "no_capacity", f"no region server for {state.region} has room; try again soon"
                )
            join = await server.add_player(PlayerJoin(character, state, lease, conn_id, rcm))
            self._unplaced.get(state.region, {}).pop(character_id, None)
            await self.hot.set_route(
                Route(
                    account_id=account_id,
                    character_id=character_id,
                    conn_id=conn_id,
                    rcm=rcm,
                    server_id=server.server_id,
                    region=state.region,
                )
            )
        except BaseException:
            await self.hot.release(lease)
            raise
        return self._placement(server, join, state.region)

    def _resume(self, state: CharacterState) -> PlaceableServer | None:
        """The server of the instance a character logged out in, if it is still loaded."""
        if state.instance is None or self.instances is None:
            return None
        found = self.instances.server_of(state.instance)
        server = self.directory.get(found.server_id) if found is not None else None
        return server if server is not None and server.has_room() else None

    def unplaced(self, region: str, within_s: float = 60.0) -> int:
        """Characters recently refused entry to `region` for want of room."""
        now = time.monotonic()
        waiting = self._unplaced.get(region, {})
        for cid in [c for c, t in waiting.items() if now - t > within_s]:
            del waiting[cid]
        return len(waiting)

    @staticmethod
    def _placement(server: PlaceableServer, join: JoinResult, region: str) -> Placement:
        return Placement(server.server_id, server.address, region, join, server.max_speed)

    async def leave_world(
        self, account_id: int, reason: str = "logout", kick: str | None = None
    ) -> bool:
        """Save and remove the account's character from the world. True if it was saved."""
        route = await self.hot.get_route(account_id)
        if route is None:
            return False
        await self.hot.clear_route(account_id)
        server = self.directory.get(route.server_id)
        if server is None:
            return False
        saved = await server.remove_player(route.character_id, reason=reason, kick=kick)
        return saved is not None

    async def handoff(
        self, character_id: int, account_id: int, to_region: str | None, reason: str
    ) -> bool:
        """Move a player to a server of `to_region` (None: another shard of its region)."""
        if character_id in self._moving:
            return False
        self._moving.add(character_id)
        started = time.perf_counter()
        try:
            return await self._handoff(character_id, account_id, to_region, reason, started)
        finally:
            self._moving.discard(character_id)

    async def _handoff(
        self, character_id: int, account_id: int, to_region: str | None, reason: str, started: float
    ) -> bool:
        route = await self.hot.get_route(account_id)
        if route is None or route.character_id != character_id:
            return False
        region = to_region or route.region
        target = self.directory.pick(region, exclude=(route.server_id,))
        if target is None:
            log.info("handoff of %s to %s: no target with room", character_id, region)
            return False
        return await self._move(route, target, region, reason, started)

    async def _move(
        self,
        route: Route,
        target: PlaceableServer,
        region: str,
        reason: str,
        started: float,
        reshape: Callable[[CharacterState], CharacterState] | None = None,
    ) -> bool:
        """The handoff itself: hold inputs, extract from the source (saved, lease kept),
        admit on the target (`reshape` may move the character, e.g. into a dungeon),
        rewrite the route, switch the RCM. If the target refuses, the player goes back."""
        character_id = route.character_id
        source = self.directory.get(route.server_id)
        if source is None:
            return False
        rcm = self.rcms.get(route.rcm)
        if rcm is not None:
            rcm.hold(route.conn_id)
        try:
            extracted = await source.extract_player(character_id, reason)
        except BaseException:
            if rcm is not None:
                rcm.reroute(route.conn_id, None)
            raise
        if extracted is None:
            if rcm is not None:
                rcm.reroute(route.conn_id, None)
            return False
        join = extracted.join
        moved = join if reshape is None else replace(join, state=reshape(join.state))
        try:
            result = await target.add_player(moved)
            moved_to, moved_region = target, region
        except Exception:
            log.exception(
                "handoff of %s: %s refused it; putting it back", character_id, target.server_id
            )
            result = await source.add_player(join)
            moved_to, moved_region = source, route.region
        await self.hot.set_route(
            route.model_copy(update={"server_id": moved_to.server_id, "region": moved_region})
        )
        if rcm is not None:
            rcm.reroute(join.conn_id, self._placement(moved_to, result, moved_region))
        if moved_to is source:
            return False
        took = time.perf_counter() - started
        metrics.HANDOFFS.labels(self.realm, region, reason).inc()
        metrics.HANDOFF_DURATION.labels(self.realm, region).observe(took)
        self.handoff_seconds.append(took)
        return True

    # --- a region server that died ----------------------------------------------------------
    async def watch_servers(self, stop: asyncio.Event, interval_s: float = 1.0) -> None:
        """Recover the players of region servers whose heartbeat expired (a crash, a pod
        killed): each comes back from its last checkpoint on another server."""
        seen: set[str] = set()
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=interval_s)
            except TimeoutError:
                pass
            try:
                alive = {b.server_id for b in await self.hot.servers(self.realm)}
            except StorageError as e:
                log.warning("server registry unavailable: %s", e)
                continue
            for gone in sorted(seen - alive):
                try:
                    await self.recover_server(gone)
                except Exception:
                    log.exception("recovering the players of %s failed", gone)
            seen = alive

    async def recover_server(self, server_id: str) -> int:
        """Re-place every player routed to `server_id` (which is gone); returns how many."""
        routes = await self.hot.routes_on(server_id)
        recovered = 0
        for route in routes:
            if await self._recover(route, server_id):
                recovered += 1
        if routes:
            log.warning("%s is gone: %d of %d players recovered", server_id, recovered, len(routes))
        return recovered

    async def _recover(self, route: Route, dead: str) -> bool:
        key = self.lease_key(route.character_id)
        # Its holder is gone; if it is not (a partition), the fence stops its saves.
        await self.hot.break_lease(key)
        rcm = self.rcms.get(route.rcm)
        lease = await self.hot.acquire(key, f"{route.rcm}/{route.conn_id}", self.lease_ttl_ms)
        if lease is None:
            return False
        try:
            character = await self.rwam.owned_character(route.account_id, route.character_id)
            state = character.state
            checkpoint = await self.hot.get_checkpoint(route.character_id)
            if checkpoint is not None and checkpoint[1] >= character.save_fence:
                state = checkpoint[0]
            server = self._resume(state) or self.directory.pick(state.region, exclude=(dead,))
            if server is None:
                raise OemError("no_capacity", f"no region server for {state.region} has room")
            join = await server.add_player(
                PlayerJoin(character, state, lease, route.conn_id, route.rcm)
            )
        except Exception as e:
            await self.hot.release(lease)
            await self.hot.clear_route(route.account_id)
            if rcm is not None:
                rcm.kick(route.conn_id, f"your region server went down; log in again ({e})")
            return False
        await self.hot.set_route(
            route.model_copy(update={"server_id": server.server_id, "region": state.region})
        )
        if rcm is not None:
            rcm.reroute(route.conn_id, self._placement(server, join, state.region))
        metrics.HANDOFFS.labels(self.realm, state.region, "recovery").inc()
        return True

    # --- instances -------------------------------------------------------------------------
    async def enter_instance(
        self, character_id: int, account_id: int, template: str, back: tuple[str, float, float]
    ) -> bool:
        """Take a character through a portal into its instance of `template` (its lockout's,
        its party's, or a new one); `back` is where leaving returns it (region, x, y)."""
        if self.instances is None or self.world is None or character_id in self._moving:
            return False
        route = await self.hot.get_route(account_id)
        if route is None or route.character_id != character_id:
            return False
        spec = self.world.region(template)
        if spec.entry is None:
            return False
        self._moving.add(character_id)
        started = time.perf_counter()
        try:
            try:
                instance_id, server = await self.instances.instance_for(character_id, spec)
            except InstanceError as e:
                log.info("character %s cannot enter %s: %s", character_id, template, e)
                return False
            target = self.directory.get(server.server_id)
            if target is None:
                return False
            entry = spec.entry

            def inside(st: CharacterState) -> CharacterState:
                return st.model_copy(
                    update={
                        "region": template,
                        "x": entry.x,
                        "y": entry.y,
                        "instance": instance_id,
                        "return_region": back[0],
                        "return_x": back[1],
                        "return_y": back[2],
                    }
                )

            moved = await self._move(route, target, template, "instance", started, inside)
            if moved:
                self.instances.entered(character_id, instance_id)
            return moved
        finally:
            self._moving.discard(character_id)

    async def leave_instance(self, character_id: int, account_id: int, to_region: str) -> bool:
        """Back out through the instance's exit, to where the character came in (its saved
        return point in `to_region`)."""
        if self.instances is None or character_id in self._moving:
            return False
        route = await self.hot.get_route(account_id)
        if route is None or route.character_id != character_id:
            return False
        region = to_region
        target = self.directory.pick(region)
        if target is None:
            return False
        self._moving.add(character_id)
        try:

            def outside(st: CharacterState) -> CharacterState:
                r, x, y = (st.return_region or region), st.return_x, st.return_y
                return st.model_copy(
                    update={"region": r, "x": x, "y": y, "instance": None, "return_region": None}
                )

            moved = await self._move(
                route, target, region, "instance", time.perf_counter(), outside
            )
            if moved:
                self.instances.left(character_id)
            return moved
        finally:
            self._moving.discard(character_id)
