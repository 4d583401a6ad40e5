"""The state of one region shard that the pure tick (tick.py) advances.

`Shard` gathers the numpy columns (`World`), the interest grids, the per-player links, the
threat tables, encounter scripts, spawn points, the collision map, the anti-cheat policy,
the delta-snapshot history and one seeded random generator. Everything the step reads or
writes is here, so two shards built with the same seed and fed the same inputs stay equal
(tests/region/test_determinism.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from gameserver.region.anticheat import AntiCheatPolicy, CheatScore
from gameserver.region.aoi import Grid
from gameserver.region.collision import CollisionMap
from gameserver.region.content import RegionContent, SpawnPoint, content_for
from gameserver.region.encounters import Script
from gameserver.region.movement import MoverState, MoveRules
from gameserver.region.threat import ThreatTables
from gameserver.region.world import World
from gameserver.wire.messages import Message
from gameserver.world.map import Bounds, RegionDef

#: An event before it is numbered per player: kind, ability, info, source, target, amount.
EventRow = tuple[int, int, int, int, int, int]


@dataclass(slots=True)
class PlayerLink:
    """What the shard keeps per player besides its columns in the world."""

    character_id: int
    conn_id: int
    eid: int
    mover: MoverState
    pending: list[npt.NDArray[np.void]] = field(default_factory=list)
    corrected: bool = False
    commands: list[Message] = field(default_factory=list)
    acked_tick: int = 0
    ack_pending: int = 0  # newest ack received since the last tick
    xp: int = 0
    loot: list[tuple[int, int]] = field(default_factory=list)  # (item id, count) not yet saved
    cooldowns: dict[int, int] = field(default_factory=dict)  # ability id -> ready at ms
    cheat: CheatScore = field(default_factory=CheatScore)
    kick: str | None = None  # set by the tick: the server kicks and removes the player
    # Events for this player, numbered, kept until a snapshot carrying them is acked.
    events: list[tuple[int, int, int, int, int, int, int]] = field(default_factory=list)
    next_event_seq: int = 1
    event_hi: dict[int, int] = field(default_factory=dict)  # tick -> newest seq it carried


@dataclass(slots=True)
class SpawnState:
    point: SpawnPoint
    eid: int = 0  # the living (or corpse) NPC, 0 if none
    respawn_at: int = 0


@dataclass(frozen=True, slots=True)
class SnapshotConfig:
    """Delta snapshots: bytes a client may receive per tick (datagram included), most
    entities one client tracks, how many ticks of history serve as baselines, and how often
    (every Nth tick, staggered over the clients) each client gets a snapshot. A snapshot may
    take `budget_bytes * every`, so the bandwidth stays the same at a lower rate and the
    fixed ~140 bytes per snapshot are spread over more entity updates. every=2 (the
    default) costs ~35% less tick CPU than every=1 and sends ~4x the entity updates per
    second at the same bandwidth (docs/performance.md). A realm sets both from
    `RealmSettings.snapshot_every` and `snapshot_budget_bytes`."""

    budget_bytes: int = 200  # 4,000 B/s at 20 Hz
    max_view: int = 64
    history: int = 10  # 500 ms of acks at 20 Hz; an older ack gets a full snapshot
    every: int = 2


@dataclass(slots=True)
class Shard:
    region: RegionDef
    rules: MoveRules
    world: World = field(default_factory=World)
    grid: Grid = field(init=False)
    pgrid: Grid = field(init=False)  # alive players only, for aggro scans
    players: dict[int, PlayerLink] = field(default_factory=dict)  # by eid
    tick: int = 0
    seed: int = 0
    content: RegionContent | None = None
    walls: CollisionMap = field(init=False)
    policy: AntiCheatPolicy = field(default_factory=AntiCheatPolicy)
    snapshots: SnapshotConfig = field(default_factory=SnapshotConfig)
    rng: np.random.Generator = field(init=False)
    threat: ThreatTables = field(default_factory=ThreatTables)
    scripts: dict[int, Script] = field(default_factory=dict)  # npc slot -> script
    spawns: list[SpawnState] = field(default_factory=list)
    events: list[tuple[EventRow, tuple[int, ...]]] = field(default_factory=list)
    history: object = None  # snapshots.History, created on first use
    last_now_ms: int | None = None
    # Where movement may take a player: the region's own bounds, or (on a continent with
    # neighbouring regions) the whole continent, so a player can walk across a border and
    # be handed off to the neighbour's server (see RegionServer.tick).
    move_bounds: Bounds | None = None

    def __post_init__(self) -> None:
        self.grid = Grid(self.region.aoi_radius)
        self.pgrid = Grid(20.0)
        self.rng = np.random.default_rng(self.seed)
        if self.content is None:
            self.content = content_for(self.region.name)
        b = self.region.bounds
        self.walls = self.content.collision(b.min_x, b.min_y, b.max_x, b.max_y)
        self.spawns = [SpawnState(p) for p in self.content.spawns]

    def emit(
        self,
        kind: int,
        ability: int,
        info: int,
        source: int,
        target: int,
        amount: int,
        audience: tuple[int, ...],
    ) -> None:
        """Queue a combat event for the players (entity ids) in `audience`."""
        self.events.append(((kind, ability, info, source, target, amount), audience))
