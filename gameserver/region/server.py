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
import contextlib
import logging
import math
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Protocol, TypeVar

import numpy as np
import numpy.typing as npt

from gameserver import metrics
from gameserver.api.oem import OemApi
from gameserver.api.region import Continuity, Extracted, JoinResult, PlayerJoin
from gameserver.clock import now_ms
from gameserver.region import combat as region_combat
from gameserver.region.borders import BorderView
from gameserver.region.movement import MoverState, MoveRules
from gameserver.region.shard import SnapshotConfig
from gameserver.region.tick import (
    PlayerLink,
    Shard,
    StepResult,
    queue_ack,
    queue_command,
    queue_inputs,
    step,
)
from gameserver.region.world import KIND_PLAYER
from gameserver.storage.interfaces import CharacterStore, HotState, StaleFence, StorageError
from gameserver.storage.models import (
    Character,
    CharacterState,
    ItemStack,
    Lease,
    ServerHeartbeat,
    ServerKind,
    ServerState,
)
from gameserver.wire.messages import Message
from gameserver.wire.structs import INPUT_FRAME_DTYPE
from gameserver.world.map import Point, RegionDef, WorldMap

log = logging.getLogger(__name__)

R = TypeVar("R")

#: Entity ids of one server come from its own block of 2**20 (see World.use_id_block).
ID_BLOCK_BITS = 20
_YIELD_EVERY = 128  # players per slice of a checkpoint between turns of the event loop


class Outbox(Protocol):
    """Where a region server sends what it has for a player: the RCM holding the player's
    connection (in-process in the embedded realm, over the network otherwise)."""

    def deliver(self, conn_id: int, payload: bytes) -> None: ...
    def kick(self, conn_id: int, reason: str) -> None: ...


@dataclass(slots=True)
class _Live:
    link: PlayerLink
    character: Character
    base: CharacterState  # the loaded state; position is taken from the world at save time
    lease: Lease
    rcm: str = ""
    # Serialises saves with the RWAM's economy transactions (mail, auctions) for this
    # character: `base.gold`/`base.items` change only under it, and a save writes them
    # as they are when it holds it (see `run_economy`).
    econ_lock: asyncio.Lock = field(default_factory=asyncio.Lock)


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
        hot_checkpoint_interval_s: float = 2.0,
        lease_ttl_ms: int = 30_000,
        address: str = "",
        drain_timeout_s: float = 300.0,
        id_block: int = 0,
        snapshots: SnapshotConfig | None = None,
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
        self.hot_checkpoint_interval_s = hot_checkpoint_interval_s
        self.lease_ttl_ms = lease_ttl_ms
        self.address = address
        self.state = ServerState.STARTING
        self.shard = Shard(
            region=region,
            rules=MoveRules(max_speed=region.max_speed),
            snapshots=snapshots if snapshots is not None else SnapshotConfig(),
        )
        self.shard.world.use_id_block(id_block << ID_BLOCK_BITS)
        self._live: dict[int, _Live] = {}  # by character id
        self.tick_durations: deque[float] = deque(maxlen=400)
        self._kick_tasks: set[asyncio.Task[CharacterState | None]] = set()
        self.ticks = 0
        self.saves = 0
        self.saved_ids: set[int] = set()
        self.achieved_hz = 0.0
        self._labels = (realm, region.name, server_id)
        # Moving players between servers (border crossings, drains) goes through the OEM;
        # the composition root sets these. Without them the region's edge is a wall.
        self.oem: OemApi | None = None
        self.world_map: WorldMap | None = None
        self.borders: BorderView | None = None
        self.drain_timeout_s = drain_timeout_s
        self.drained = asyncio.Event()
        self.all_saved = False
        self._drain_started: float | None = None
        self._moving: set[int] = set()
        self._move_retry_at: dict[int, float] = {}
        self._move_tasks: set[asyncio.Task[None]] = set()
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

    @property
    def region_name(self) -> str:
        return self.region.name

    @property
    def max_speed(self) -> float:
        return self.region.max_speed

    async def add_player(self, join: PlayerJoin) -> JoinResult:
        return self.admit(join)

    def admit(self, join: PlayerJoin) -> JoinResult:
        """Put a player in the world now (the tick sees it next step). A player arriving by
        handoff keeps its movement continuity: the same acked input sequence, the same
        clock budget, and the frames the source had queued."""
        cid = join.character.id
        if cid in self._live:
            raise RuntimeError(f"character {cid} is already on {self.server_id}")
        st = join.state
        x, y = self.region.bounds.clamp(st.x, st.y)
        eid = self.shard.world.spawn(KIND_PLAYER, x, y, st.facing, st.level)
        cont = join.continuity
        mover = MoverState(joined_at_ms=now_ms() - cont.session_ms)
        mover.last_seq, mover.client_ms = cont.last_seq, cont.client_ms
        link = PlayerLink(cid, join.conn_id, eid, mover)
        region_combat.init_player(self.shard, link, st.level, st.health, st.xp)
        for raw in cont.pending:
            queue_inputs(link, np.frombuffer(raw, dtype=INPUT_FRAME_DTYPE).copy())
        self.shard.players[eid] = link
        self._live[cid] = _Live(link, join.character, st, join.lease, join.rcm)
        self._count_players()
        return JoinResult(eid, x, y, st.facing)

    async def extract_player(self, character_id: int, reason: str) -> Extracted | None:
        """Save the player and take it out of the world for a handoff, keeping its lease
        (the target server continues with it)."""
        live = self._live.get(character_id)
        if live is None:
            return None
        link = live.link
        if link.loot:  # loot not yet handed to the items travels with the character
            async with live.econ_lock:
                new = tuple(
                    ItemStack(uid=uuid.uuid4().hex, item_id=item, count=count)
                    for item, count in link.loot
                )
                link.loot.clear()
                live.base = live.base.model_copy(update={"items": live.base.items + new})
            if self._live.get(character_id) is not live:
                return None
        state = self.current_state(character_id)
        if self.world_map is not None:  # saved where it stands: the region it walked into
            here = self.world_map.region_at(state.x, state.y)
            if here is not None:
                state = state.model_copy(update={"region": here.name})
        pending = tuple(bytes(f.tobytes()) for f in link.pending)
        cont = Continuity(
            last_seq=link.mover.last_seq,
            client_ms=link.mover.client_ms,
            session_ms=max(0, now_ms() - link.mover.joined_at_ms),
            pending=pending,
        )
        del self._live[character_id]
        self.shard.players.pop(link.eid, None)
        self.shard.world.despawn(link.eid)
        self._count_players()
        saved = await self._save(live, state, reason)
        state = state.model_copy(update={"gold": live.base.gold, "items": live.base.items})
        join = PlayerJoin(live.character, state, live.lease, link.conn_id, live.rcm, cont)
        return Extracted(join, saved)

    def submit_inputs(
        self, character_id: int, frames: npt.NDArray[np.void], ack_tick: int = 0
    ) -> None:
        live = self._live.get(character_id)
        if live is not None:
            queue_inputs(live.link, frames)
            if ack_tick:
                queue_ack(live.link, ack_tick)

    def submit_command(self, character_id: int, msg: Message) -> None:
        """A combat command or snapshot ack from the player (CastAbility, SetAutoAttack,
        Respawn, SnapshotAck), applied at the next tick."""
        live = self._live.get(character_id)
        if live is not None:
            queue_command(live.link, msg)

    def position_of(self, character_id: int) -> tuple[float, float] | None:
        """Where a character held here stands (party frames, map pins), or None."""
        live = self._live.get(character_id)
        if live is None:
            return None
        x, y = self.shard.world.position(live.link.eid)
        return float(x), float(y)

    def characters_near(self, character_id: int, radius: float) -> list[int]:
        """Characters on this server within `radius` of `character_id` (itself included):
        who hears a /say or /yell. Empty if the character is not here."""
        here = self.position_of(character_id)
        if here is None:
            return []
        near = []
        r2 = radius * radius
        for cid, live in self._live.items():
            x, y = self.shard.world.position(live.link.eid)
            if (float(x) - here[0]) ** 2 + (float(y) - here[1]) ** 2 <= r2:
                near.append(cid)
        return near

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
                **region_combat.progress(self.shard, live.link),
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
        self._count_players()
        saved = await self._save(live, state, reason)
        try:
            await self.hot.release(live.lease)
        except StorageError:
            log.warning("could not release the lease of character %s; it will expire", character_id)
        return state if saved else None

    async def _save(self, live: _Live, state: CharacterState, reason: str) -> bool:
        async with live.econ_lock:
            # Gold and items as the last committed economy transaction left them, even if
            # `state` was taken before it committed: a save never undoes a mail or a bid.
            state = state.model_copy(update={"gold": live.base.gold, "items": live.base.items})
            return await self._save_locked(live, state, reason)

    async def _save_locked(self, live: _Live, state: CharacterState, reason: str) -> bool:
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
        try:
            if reason == "checkpoint":
                await self.hot.put_checkpoint(cid, state, live.lease.fence)  # hot >= durable
            else:  # the session ends here: the durable save is the newest state
                await self.hot.delete_checkpoint(cid)
        except StorageError:
            pass  # a missing hot checkpoint only means recovery uses the durable save
        return True

    async def hot_checkpoint(self) -> int:
        """Write every player's state to the hot store (Redis in a distributed realm), the
        cheap, frequent checkpoint a restarted server recovers from; returns how many.

        One batch, one round trip; building the states yields to the loop every
        `_YIELD_EVERY` players, so a thousand of them never hold a tick back."""
        batch: list[tuple[int, CharacterState, int]] = []
        held: dict[int, _Live] = {}
        for i, (cid, live) in enumerate(list(self._live.items())):
            if i and i % _YIELD_EVERY == 0:
                await asyncio.sleep(0)
                if cid not in self._live:
                    continue
            state = self.current_state(cid).model_copy(
                update={"gold": live.base.gold, "items": live.base.items}
            )
            batch.append((cid, state, live.lease.fence))
            held[cid] = live
        try:
            refused = await self.hot.put_checkpoints(batch)
        except StorageError as e:
            log.warning("hot checkpoint of %d characters failed: %s", len(batch), e)
            return 0
        for cid, live in held.items():
            if self._live.get(cid) is not live:
                # It left (logout, handoff) while the batch was in flight: its session-end
                # save is durable and newer, and deleted the hot checkpoint, which this
                # batch may just have written back with an older state. Delete it again.
                with contextlib.suppress(StorageError):
                    await self.hot.delete_checkpoint(cid)
        for cid in refused:
            live = held[cid]
            if self._live.get(cid) is live and await self._lease_lost(live):
                await self._drop(cid, "character taken over by another session")
        return len(batch) - len(refused)

    async def run_economy(
        self,
        character_id: int,
        fn: Callable[[CharacterState, int], Awaitable[tuple[CharacterState, R]]],
    ) -> R:
        """Run an RWAM economy transaction on a character this server holds.

        While a character is online its gold and items live here and every save writes
        them, so the RWAM does not write them behind this server's back: it hands
        `fn(state, fence)` the live state and the lease's fence, `fn` commits one database
        transaction (the character with its new gold/items plus the mail or auction rows)
        and returns the state it wrote, which becomes the live state. Saves wait on the
        same lock, so none can write gold/items from before the transaction after it.
        `LookupError` if the character is not here (the RWAM routes again)."""
        live = self._live.get(character_id)
        if live is None:
            raise LookupError(f"character {character_id} is not on {self.server_id}")
        async with live.econ_lock:
            state = self.current_state(character_id) if character_id in self._live else live.base
            written, result = await fn(state, live.lease.fence)
            live.base = live.base.model_copy(update={"gold": written.gold, "items": written.items})
            return result

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

    async def evict_unsaved(self, character_id: int, reason: str) -> None:
        """Drop a character without saving it: its live gold/items may no longer match the
        database (an economy commit whose outcome is unknown). The lease expires."""
        await self._drop(character_id, reason)

    async def _drop(self, character_id: int, reason: str) -> None:
        live = self._live.pop(character_id, None)
        if live is None:
            return
        self.shard.players.pop(live.link.eid, None)
        self.shard.world.despawn(live.link.eid)
        self._count_players()
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
        self.oem = None  # stopping: nobody moves anywhere any more
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
        if self.borders is not None:
            self.borders.apply(self.shard.world)
        result = step(self.shard, now)
        for conn_id, payload in result.snapshots:
            self.outbox.deliver(conn_id, payload)
        for _cid, kind in result.detections:
            metrics.ANTICHEAT_DETECTIONS.labels(*self._labels, kind).inc()
        self._after_step(result)
        self._check_borders()
        self._check_doors()
        elapsed = time.perf_counter() - started
        self.ticks += 1
        self.tick_durations.append(elapsed)
        metrics.TICK_DURATION.labels(*self._labels).observe(elapsed)
        metrics.TICKS.labels(*self._labels).inc()
        metrics.ENTITIES.labels(*self._labels).set(len(self.shard.world))
        if elapsed > 1.0 / self.tick_rate:
            metrics.TICK_OVERRUNS.labels(*self._labels).inc()

    def _after_step(self, result: StepResult) -> None:
        """Anti-cheat answers and loot: log each detection with the character, kick past
        the policy's threshold, and hand new loot to the character's items (unless an
        economy transaction holds them right now; then at a later tick)."""
        for cid, kind in result.detections:
            log.info("anticheat: character %s: %s (corrected)", cid, kind)
        for cid, reason in result.kicks:
            log.warning("anticheat: character %s kicked: %s", cid, reason)
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                continue
            task = loop.create_task(self.remove_player(cid, reason="anticheat", kick=reason))
            self._kick_tasks.add(task)
            task.add_done_callback(self._kick_tasks.discard)
        for live in self._live.values():
            link = live.link
            if link.loot and not live.econ_lock.locked():
                new = tuple(
                    ItemStack(uid=uuid.uuid4().hex, item_id=item, count=count)
                    for item, count in link.loot
                )
                link.loot.clear()
                live.base = live.base.model_copy(update={"items": live.base.items + new})

    def _count_players(self) -> None:
        metrics.PLAYERS.labels(*self._labels).set(self.players)
        # Drained only once every move it started has finished: the process may exit then,
        # and must not take a handoff in flight down with it.
        if self.state is ServerState.DRAINING and not self._live and not self._moving:
            self.all_saved = True
            self.drained.set()

    # --- moving players to other servers ---------------------------------------------------
    def connect(self, oem: OemApi, world_map: WorldMap) -> None:
        """Join the realm's geography: players may walk across this region's edges into
        neighbouring regions (handed off through `oem`) and see across them (ghosts)."""
        self.oem = oem
        self.world_map = world_map
        if self.region.kind is ServerKind.WORLD:
            self.shard.move_bounds = world_map.continent_bounds()
            self.borders = BorderView(self.region, world_map, self.server_id)

    async def run_borders(self, stop: asyncio.Event, interval_s: float = 0.05) -> None:
        """Publish this server's border band and fetch the neighbours' (for ghosts)."""
        view = self.borders
        if view is None:
            return
        ttl_ms = max(1000, int(interval_s * 20_000))
        while not stop.is_set():
            try:
                await self.hot.publish_border(
                    self.realm,
                    self.region.name,
                    self.server_id,
                    view.outgoing(self.shard.world),
                    ttl_ms,
                )
                if view.neighbours:
                    view.receive(await self.hot.border_feeds(self.realm, view.neighbours))
            except StorageError as e:
                log.warning("border exchange failed: %s", e)
            try:
                await asyncio.wait_for(stop.wait(), timeout=interval_s)
            except TimeoutError:
                pass

    def _check_borders(self) -> None:
        """Players who walked past the region's edge into a neighbouring region are handed
        off to a server of that region (through the OEM, off the tick's path)."""
        if self.oem is None or self.world_map is None or not self._live:
            return
        if self.region.kind is not ServerKind.WORLD:
            return
        w = self.shard.world
        lives = list(self._live.items())
        slots = np.fromiter((w.slot(lv.link.eid) for _, lv in lives), np.intp, len(lives))
        b = self.region.bounds
        x, y = w.x[slots], w.y[slots]
        outside = (x < b.min_x) | (x >= b.max_x) | (y < b.min_y) | (y >= b.max_y)
        for i in np.flatnonzero(outside).tolist():
            cid, live = lives[i]
            target = self.world_map.region_at(float(x[i]), float(y[i]))
            if target is None or target.name == self.region.name:
                cx, cy = b.clamp(float(x[i]), float(y[i]))  # no region there: the edge holds
                w.x[slots[i]], w.y[slots[i]] = cx, cy
                live.link.corrected = True
                continue
            self._start_move(cid, live.character.account_id, target.name, "border")

    def _start_move(self, cid: int, account_id: int, to_region: str | None, reason: str) -> None:
        oem = self.oem
        if oem is not None:
            self._go(cid, reason, lambda: oem.handoff(cid, account_id, to_region, reason))

    def _go(self, cid: int, reason: str, move: Callable[[], Awaitable[bool]]) -> None:
        """Run one move through the OEM off the tick's path; one at a time per player, and
        after a failure not again for a second."""
        if cid in self._moving or time.monotonic() < self._move_retry_at.get(cid, 0.0):
            return
        self._moving.add(cid)

        async def run() -> None:
            try:
                moved = await move()
            except Exception:
                log.exception("moving character %s (%s) failed", cid, reason)
                moved = False
            finally:
                self._moving.discard(cid)
                self._count_players()
            if not moved and cid in self._live:
                self._move_retry_at[cid] = time.monotonic() + 1.0
                if reason == "border":  # nowhere to go yet: back inside our edge
                    live = self._live[cid]
                    s = self.shard.world.slot(live.link.eid)
                    w = self.shard.world
                    w.x[s], w.y[s] = self.region.bounds.clamp(float(w.x[s]), float(w.y[s]))
                    live.link.corrected = True

        task = asyncio.get_running_loop().create_task(run())
        self._move_tasks.add(task)
        task.add_done_callback(self._move_tasks.discard)

    def _check_doors(self) -> None:
        """Portals into dungeons (in world regions) and the way out (in instances)."""
        oem, world_map = self.oem, self.world_map
        if oem is None or world_map is None or not self._live:
            return
        doors: list[tuple[Point, float, str | None]]
        if self.region.kind is ServerKind.INSTANCE:
            doors = [(self.region.exit, 3.0, None)] if self.region.exit is not None else []
        else:
            doors = [
                (Point(x=p.x, y=p.y), p.radius, p.instance)
                for p in world_map.portals
                if p.region == self.region.name
            ]
        if not doors:
            return
        w = self.shard.world
        lives = list(self._live.items())
        slots = np.fromiter((w.slot(lv.link.eid) for _, lv in lives), np.intp, len(lives))
        xs, ys = w.x[slots].astype(np.float64), w.y[slots].astype(np.float64)
        for door, radius, instance in doors:
            inside = np.flatnonzero((xs - door.x) ** 2 + (ys - door.y) ** 2 <= radius * radius)
            for i in inside.tolist():
                cid, live = lives[i]
                acct = live.character.account_id
                if instance is None:  # the instance's exit
                    back_region = live.base.return_region
                    if back_region:
                        leave = partial(oem.leave_instance, cid, acct, back_region)
                        self._go(cid, "instance", leave)
                    continue
                # Come back out a little beyond the doorway, on the side the player came from.
                dx, dy = float(xs[i]) - door.x, float(ys[i]) - door.y
                d = math.hypot(dx, dy)
                ux, uy = (dx / d, dy / d) if d > 1e-6 else (1.0, 0.0)
                back = (self.region.name, door.x + ux * radius * 2.5, door.y + uy * radius * 2.5)
                self._go(cid, "instance", partial(oem.enter_instance, cid, acct, instance, back))

    async def drain(self) -> None:
        """Stop taking players and move every player to another shard of the region. The
        server is drained when empty; past `drain_timeout_s` it saves everyone and reports
        `saved`, so the scaler may stop it with nothing lost."""
        if self.state is not ServerState.DRAINING:
            log.info("%s: draining %d players", self.server_id, self.players)
            self.state = ServerState.DRAINING
            self._drain_started = time.monotonic()
        for cid, live in list(self._live.items()):
            self._start_move(cid, live.character.account_id, None, "drain")
        if not self._live and not self._moving:
            self.all_saved = True
            self.drained.set()
        elif (
            self._drain_started is not None
            and time.monotonic() - self._drain_started > self.drain_timeout_s
            and not self.all_saved
        ):
            self.all_saved = await self.checkpoint(reason="drain") == self.players

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
            saved=self.players == 0 or self.all_saved,
            sent_at_ms=int(time.time() * 1000),
        )

    async def maintain(self, stop: asyncio.Event, heartbeat_s: float = 1.0) -> None:
        """Drain checks and heartbeats (every `heartbeat_s`), lease renewals (three per
        lease lifetime) and checkpoints (durable every `checkpoint_interval_s`, hot every
        `hot_checkpoint_interval_s`), all off the tick's path. It wakes as often as the
        shortest of those intervals needs."""
        started = time.monotonic()
        due = {"beat": started, "renew": started + self.lease_ttl_ms / 3000.0}
        due["durable"] = started + self.checkpoint_interval_s
        due["hot"] = started + self.hot_checkpoint_interval_s
        wake_s = min(heartbeat_s, self.hot_checkpoint_interval_s, self.checkpoint_interval_s)
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=wake_s)
            except TimeoutError:
                pass
            now = time.monotonic()
            if now >= due["beat"]:
                due["beat"] = now + heartbeat_s
                await self._beat(heartbeat_s)
            if now >= due["renew"]:
                due["renew"] = now + self.lease_ttl_ms / 3000.0
                await self.renew_leases()
            if now >= due["durable"]:  # a durable checkpoint writes the hot one too
                due["durable"] = now + self.checkpoint_interval_s
                due["hot"] = now + self.hot_checkpoint_interval_s
                await self.checkpoint()
            elif now >= due["hot"]:
                due["hot"] = now + self.hot_checkpoint_interval_s
                await self.hot_checkpoint()

    async def _beat(self, heartbeat_s: float) -> None:
        try:
            if self.state is ServerState.DRAINING or await self.hot.drain_requested(
                self.realm, self.server_id
            ):
                await self.drain()
        except StorageError as e:
            log.warning("drain check failed: %s", e)
        try:
            await self.hot.heartbeat(self.heartbeat(), ttl_ms=int(heartbeat_s * 5000))
        except StorageError as e:
            log.warning("heartbeat failed: %s", e)
