"""The tick: one pure simulation step of a region shard.

`step(shard, now_ms)` runs fixed phases in order and never reads the wall clock, sleeps or
does I/O; the driver (driver.py) owns time and sockets. Given the same shard state, inputs
and `now_ms`, it produces the same state and the same snapshots.

Phases:
  1. movement  - apply each player's queued input frames through the movement checks
  2. interest  - rebuild the area-of-interest grid from the new positions
  3. replicate - one snapshot per player: itself, the inputs it has acked, nearby entities
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from gameserver.region.aoi import Grid
from gameserver.region.movement import MoveRules, MoverState, apply_frames
from gameserver.region.world import World
from gameserver.wire.messages import Envelope, Snapshot, encode
from gameserver.world.map import RegionDef

# A snapshot must fit one datagram (1200 bytes): 20 bytes per entity plus headers.
MAX_SNAPSHOT_ENTITIES = 48


@dataclass(slots=True)
class PlayerLink:
    """What the shard keeps per player besides its columns in the world."""

    character_id: int
    conn_id: int
    eid: int
    mover: MoverState
    pending: list[npt.NDArray[np.void]] = field(default_factory=list)
    corrected: bool = False


@dataclass(slots=True)
class Shard:
    region: RegionDef
    rules: MoveRules
    world: World = field(default_factory=World)
    grid: Grid = field(init=False)
    players: dict[int, PlayerLink] = field(default_factory=dict)  # by eid
    tick: int = 0

    def __post_init__(self) -> None:
        self.grid = Grid(self.region.aoi_radius)


@dataclass(frozen=True, slots=True)
class StepResult:
    snapshots: list[tuple[int, bytes]]  # (conn_id, encoded envelope)
    detections: list[tuple[int, str]]  # (character_id, kind)



def step(shard: Shard, now_ms: int) -> StepResult:
    shard.tick += 1
    world = shard.world
    detections: list[tuple[int, str]] = []

    # 1. movement
    for eid, link in shard.players.items():
        if not link.pending:
            continue
        frames = link.pending[0] if len(link.pending) == 1 else np.concatenate(link.pending)
        link.pending.clear()
        s = world.slot(eid)
        out = apply_frames(
            float(world.x[s]), float(world.y[s]), float(world.facing[s]),
            frames, link.mover, shard.rules, shard.region.bounds, now_ms,
        )
        world.x[s], world.y[s], world.facing[s] = out.x, out.y, out.facing
        if out.corrected:
            link.corrected = True
            detections.extend((link.character_id, k) for k in out.detections)

    # 2. interest
    active = world.active_slots()
    shard.grid.build(active, world.x, world.y)

    # 3. replicate
    states = world.states()
    radius = shard.region.aoi_radius
    snapshots: list[tuple[int, bytes]] = []
    for eid, link in shard.players.items():
        s = world.slot(eid)
        near = shard.grid.query(float(world.x[s]), float(world.y[s]), radius)
        near = near[near != s][:MAX_SNAPSHOT_ENTITIES]
        snap = Snapshot(
            tick=shard.tick,
            last_input_seq=link.mover.last_seq,
            server_time_ms=now_ms,
            corrected=link.corrected,
            you=states[s],
            entities=states[near],
        )
        link.corrected = False
        snapshots.append((link.conn_id, encode(Envelope(msg=snap))))
    return StepResult(snapshots, detections)


def queue_inputs(link: PlayerLink, frames: npt.NDArray[np.void], max_pending: int = 64) -> None:
    """Buffer frames for the next tick; a flood beyond `max_pending` batches is dropped
    (the newest frames resend the recent ones anyway)."""
    if len(link.pending) < max_pending and len(frames):
        link.pending.append(frames)


__all__ = ["MAX_SNAPSHOT_ENTITIES", "PlayerLink", "Shard", "StepResult", "queue_inputs", "step"]
