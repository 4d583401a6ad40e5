"""A region server: one shard's simulation plus everything around it that is not the tick.

It admits players the OEM assigns to it (each with a character lease), feeds their inputs
to the tick, hands the snapshots to the RCM through an `Outbox`, and keeps their characters
safe: checkpoints every `checkpoint_interval_s` (the most play a crash can lose), a save on
logout and on shutdown, lease renewals, and a load heartbeat for the scalers.

Saves carry the lease's fencing token: if another holder has since taken the character
(this server was partitioned away and its lease expired), storage refuses the save and this
server drops the player instead of overwriting newer progress.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from gameserver import metrics
from gameserver.clock import now_ms
from gameserver.region.movement import MoverState, MoveRules
from gameserver.region.tick import PlayerLink, Shard, queue_inputs, step
from gameserver.region.world import KIND_PLAYER
from gameserver.storage.interfaces import CharacterStore, HotState, StaleFence, StorageError
from gameserver.storage.models import (
    Character,
    CharacterState,
    Lease,
    ServerHeartbeat,
    ServerKind,
    ServerState,
)
from gameserver.world.map import RegionDef

log = logging.getLogger(__name__)


class Outbox(Protocol):
    """Where a region server sends what it has for a player: the RCM holding the player's
    connection (in-process in the embedded realm, over the network otherwise)."""

    def deliver(self, conn_id: int, payload: bytes) -> None: ...
    def kick(self, conn_id: int, reason: str) -> None: ...


@dataclass(frozen=True, slots=True)
class PlayerJoin:
    character: Character
    state: CharacterState
    lease: Lease
    conn_id: int


@dataclass(frozen=True, slots=True)
class JoinResult:
    entity_id: int
    x: float
    y: float
    facing: float


@dataclass(slots=True)
class _Live:
    link: PlayerLink
    character: Character
    base: CharacterState  # the loaded state; position is taken from the world at save time
    lease: Lease


class RegionServer:
    def __init__(
        self,
        *,
        realm: str,
        region: RegionDef,
        server_id: str,
        db: CharacterStore,
        hot: HotState,
        outbox: Outbox,
        tick_rate: int = 20,
        capacity: int = 200,
        checkpoint_interval_s: float = 10.0,
        lease_ttl_ms: int = 30_000,
        address: str = "",
    ) -> None:
        self.realm = realm
        self.region = region
        self.server_id = server_id
        self.db = db
        self.hot = hot
        self.outbox = outbox
        self.tick_rate = tick_rate
        self.capacity = capacity
        self.checkpoint_interval_s = checkpoint_interval_s
        self.lease_ttl_ms = lease_ttl_ms
        self.address = address
        self.state = ServerState.STARTING
        self.shard = Shard(region=region, rules=MoveRules(max_speed=region.max_speed))
        self._live: dict[int, _Live] = {}  # by character id
        self.tick_durations: deque[float] = deque(maxlen=400)
        self.ticks = 0
        self.saves = 0
        self.saved_ids: set[int] = set()
        self.achieved_hz = 0.0
        self._labels = (realm, region.name, server_id)
        metrics.TICK_TARGET.labels(*self._labels).set(tick_rate)
        metrics.SERVER_CAPACITY.labels(*self._labels).set(capacity)
        # Series exist from the start (at 0), so dashboards and rate()-based alerts see an
        # idle server and count its first overrun.
        metrics.PLAYERS.labels(*self._labels).set(0)
        metrics.TICK_OVERRUNS.labels(*self._labels)

    # --- players -----------------------------------------------------------------------
    @property
    def players(self) -> int:
        return len(self._live)

    def has_room(self) -> bool:
        return self.state is ServerState.READY and self.players < self.capacity

    def holds(self, character_id: int) -> bool:
        return character_id in self._live

    def add_player(self, join: PlayerJoin) -> JoinResult:
        cid = join.character.id
        if cid in self._live:
            raise RuntimeError(f"character {cid} is already on {self.server_id}")
        st = join.state
        x, y = self.region.bounds.clamp(st.x, st.y)
        eid = self.shard.world.spawn(KIND_PLAYER, x, y, st.facing, st.level)
        link = PlayerLink(cid, join.conn_id, eid, MoverState(joined_at_ms=now_ms()))
        self.shard.players[eid] = link
        self._live[cid] = _Live(link, join.character, st, join.lease)
        metrics.PLAYERS.labels(*self._labels).set(self.players)
        return JoinResult(eid, x, y, st.facing)

    def submit_inputs(self, character_id: int, frames: npt.NDArray[np.void]) -> None:
        live = self._live.get(character_id)
        if live is not None:
            queue_inputs(live.link, frames)

    def current_state(self, character_id: int) -> CharacterState:
        live = self._live[character_id]
        x, y = self.shard.world.position(live.link.eid)
        s = self.shard.world.slot(live.link.eid)
        return live.base.model_copy(
            update={
                "region": self.region.name,
                "x": x,
                "y": y,
                "facing": float(self.shard.world.facing[s]),
            }
        )

    async def remove_player(
        self, character_id: int, reason: str = "logout", kick: str | None = None
    ) -> CharacterState | None:
        """Save the character, release its lease and take it out of the world. Returns the
        saved state, or None if the player was not here or the save was refused. With
        `kick`, the player's connection is closed with that message (a takeover)."""
        live = self._live.get(character_id)
        if live is None:
            return None
        if kick is not None:
            self.outbox.kick(live.link.conn_id, kick)
        state = self.current_state(character_id)
        del self._live[character_id]
        self.shard.players.pop(live.link.eid, None)
        self.shard.world.despawn(live.link.eid)
        metrics.PLAYERS.labels(*self._labels).set(self.players)
        saved = await self._save(live, state, reason)
        try:
            await self.hot.release(live.lease)
        except StorageError:
            log.warning("could not release the lease of character %s; it will expire", character_id)
        return state if saved else None

    async def _save(self, live: _Live, state: CharacterState, reason: str) -> bool:
        cid = live.character.id
        try:
            await self.db.save_character(cid, state, live.lease.fence)
        except StaleFence:
            log.warning(
                "save of character %s refused: its lease moved on (fence %s)", cid, live.lease.fence
            )
            return False
        except StorageError as e:
            log.error("save of character %s failed (%s); keeping a hot checkpoint", cid, e)
            try:
                await self.hot.put_checkpoint(cid, state, live.lease.fence)
            except StorageError:
                return False
            return False
        self.saves += 1
        self.saved_ids.add(cid)
        metrics.CHARACTER_SAVES.labels(self.realm, reason).inc()
        return True

    async def checkpoint(self, reason: str = "checkpoint") -> int:
        """Save every player now. A player whose save is refused has lost its lease to a
        newer holder and is dropped from this server without another save."""
        saved = 0
        for cid in list(self._live):
            live = self._live.get(cid)
            if live is None:
                continue
            state = self.current_state(cid)
            live.base = state
            if await self._save(live, state, reason):
                saved += 1
            elif cid in self._live and await self._lease_lost(live):
                await self._drop(cid, "character taken over by another session")
        return saved

    async def _lease_lost(self, live: _Live) -> bool:
        try:
            current = await self.hot.get(live.lease.key)
        except StorageError:
            return False
        return current is None or current.fence != live.lease.fence

    async def _drop(self, character_id: int, reason: str) -> None:
        live = self._live.pop(character_id, None)
        if live is None:
            return
        self.shard.players.pop(live.link.eid, None)
        self.shard.world.despawn(live.link.eid)
        metrics.PLAYERS.labels(*self._labels).set(self.players)
        self.outbox.kick(live.link.conn_id, reason)

    async def renew_leases(self) -> None:
        for cid, live in list(self._live.items()):
            try:
                renewed = await self.hot.renew(live.lease, self.lease_ttl_ms)
            except StorageError:
                continue  # try again next round; the lease has slack for one failure
            if renewed is None:
                await self._drop(cid, "character lock lost")
            else:
                live.lease = renewed

    async def shutdown(self) -> int:
        """Save and release everyone (a clean stop); returns how many were saved."""
        self.state = ServerState.DRAINING
        saved = 0
        for cid in list(self._live):
            live = self._live[cid]
            if await self.remove_player(cid, reason="shutdown") is not None:
                saved += 1
            self.outbox.kick(live.link.conn_id, "server shutting down")
        return saved

    # --- the tick ---------------------------------------------------------------------------
    def tick(self, now: int) -> None:
        started = time.perf_counter()
        result = step(self.shard, now)
        for conn_id, payload in result.snapshots:
            self.outbox.deliver(conn_id, payload)
        for _cid, kind in result.detections:
            metrics.ANTICHEAT_DETECTIONS.labels(*self._labels, kind).inc()
        elapsed = time.perf_counter() - started
        self.ticks += 1
        self.tick_durations.append(elapsed)
        metrics.TICK_DURATION.labels(*self._labels).observe(elapsed)
        metrics.TICKS.labels(*self._labels).inc()
        metrics.ENTITIES.labels(*self._labels).set(len(self.shard.world))
        if elapsed > 1.0 / self.tick_rate:
            metrics.TICK_OVERRUNS.labels(*self._labels).inc()

    def tick_percentile_ms(self, q: float) -> float:
        if not self.tick_durations:
            return 0.0
        return float(np.percentile(np.fromiter(self.tick_durations, float), q) * 1000.0)

    def heartbeat(self) -> ServerHeartbeat:
        return ServerHeartbeat(
            server_id=self.server_id,
            realm=self.realm,
            region=self.region.name,
            kind=ServerKind(self.region.kind),
            address=self.address,
            state=self.state,
            players=self.players,
            capacity=self.capacity,
            tick_p50_ms=self.tick_percentile_ms(50),
            tick_p99_ms=self.tick_percentile_ms(99),
            tick_rate_hz=self.achieved_hz,
            sent_at_ms=int(time.time() * 1000),
        )

    async def maintain(self, stop: asyncio.Event, heartbeat_s: float = 1.0) -> None:
        """Checkpoints, lease renewals and heartbeats, off the tick's path."""
        last_checkpoint = last_renew = time.monotonic()
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=heartbeat_s)
            except TimeoutError:
                pass
            now = time.monotonic()
            try:
                await self.hot.heartbeat(self.heartbeat(), ttl_ms=int(heartbeat_s * 5000))
            except StorageError as e:
                log.warning("heartbeat failed: %s", e)
            if now - last_renew >= self.lease_ttl_ms / 3000.0:
                last_renew = now
                await self.renew_leases()
            if now - last_checkpoint >= self.checkpoint_interval_s:
                last_checkpoint = now
                await self.checkpoint()
