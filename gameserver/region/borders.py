"""Seeing across region borders.

A player near the edge of a region must see what stands on the other side, though another
server simulates it. Each server publishes the entities in a band along its edges (as
packed EntityState records, the snapshot format) to the hot store; the servers of the
neighbouring regions read those feeds and keep **ghosts**: entities in their own world
that mirror the neighbour's, replicated to clients like any other, but never simulated
here (AI and combat select on the real kinds only). Entity ids come from per-server blocks,
so a ghost keeps the id the neighbour gave it and never collides with a local entity.

The feeds are refreshed a few times per tick interval by an async loop beside the tick;
the tick itself only applies the newest feed it has (no I/O on the tick's path).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from gameserver.region.world import KIND_GHOST, KIND_MASK, World
from gameserver.wire.structs import ENTITY_STATE_DTYPE
from gameserver.world.map import Bounds, RegionDef, WorldMap


def _near(a: Bounds, b: Bounds, margin: float) -> bool:
    return not (
        a.max_x + margin < b.min_x
        or b.max_x + margin < a.min_x
        or a.max_y + margin < b.min_y
        or b.max_y + margin < a.min_y
    )


class BorderView:
    def __init__(self, region: RegionDef, world_map: WorldMap, server_id: str) -> None:
        self.region = region
        self.server_id = server_id
        self.margin = region.aoi_radius
        self.neighbours = [
            r.name
            for r in world_map.regions
            if r.name != region.name
            and r.kind == region.kind
            and _near(r.bounds, region.bounds, self.margin)
        ]
        self.ghosts: dict[int, int] = {}  # eid -> slot
        self._feed: npt.NDArray[np.void] = np.zeros(0, dtype=ENTITY_STATE_DTYPE)

    def outgoing(self, world: World) -> bytes:
        """Own (non-ghost) entities within the band along this region's edges."""
        b = self.region.bounds
        m = self.margin
        own = world.active & ((world.kind & KIND_GHOST) == 0)
        x, y = world.x, world.y
        band = own & (
            (x < b.min_x + m) | (x >= b.max_x - m) | (y < b.min_y + m) | (y >= b.max_y - m)
        )
        return bytes(world.states()[np.flatnonzero(band)].tobytes())

    def receive(self, feeds: list[tuple[str, bytes]]) -> None:
        """Keep the newest feeds of other servers (called off the tick's path)."""
        parts = [
            np.frombuffer(p, dtype=ENTITY_STATE_DTYPE)
            for sid, p in feeds
            if sid != self.server_id and len(p) % ENTITY_STATE_DTYPE.itemsize == 0
        ]
        self._feed = np.concatenate(parts) if parts else np.zeros(0, dtype=ENTITY_STATE_DTYPE)

    def apply(self, world: World) -> None:
        """Make the world's ghosts match the newest feed: move, add, remove. Entities of
        this server (ids it owns) are never overwritten."""
        seen: set[int] = set()
        for row in self._feed:
            eid = int(row["id"])
            if eid in seen:
                continue
            seen.add(eid)
            slot = self.ghosts.get(eid)
            if slot is None:
                if eid in world:  # our own entity (e.g. just handed over to us)
                    continue
                kind = (int(row["kind"]) & KIND_MASK) | KIND_GHOST
                slot = world.adopt(
                    eid,
                    kind,
                    float(row["x"]),
                    float(row["y"]),
                    float(row["facing"]),
                    int(row["level"]),
                )
                self.ghosts[eid] = slot
            world.x[slot] = row["x"]
            world.y[slot] = row["y"]
            world.facing[slot] = row["facing"]
            world.flags[slot] = row["flags"]
            world.health_pct[slot] = row["health_pct"]
        for eid in [e for e in self.ghosts if e not in seen]:
            del self.ghosts[eid]
            world.despawn(eid)
