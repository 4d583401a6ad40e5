"""What lives in a region: NPC templates, spawn points, loot, walls, the graveyard.

Content is data a designer edits without touching the tick: a `RegionContent` per region
name (`CONTENT`), each NPC template optionally naming an encounter script (a plain module
under `gameserver/region/encounters/`). The collision map is drawn as wall rectangles;
`CollisionMap.from_text` loads a hand-drawn grid the same way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from gameserver.region.collision import CollisionMap, Rect


@dataclass(frozen=True, slots=True)
class LootEntry:
    item_id: int
    chance: float  # 0..1, rolled independently per kill
    count: int = 1


@dataclass(frozen=True, slots=True)
class NpcTemplate:
    name: str
    level: int = 1
    max_hp: int = 120
    dmg_min: int = 4
    dmg_max: int = 8
    swing_ms: int = 2000
    reach: float = 4.0
    aggro_radius: float = 12.0
    leash_radius: float = 40.0
    speed: float = 6.0
    wander_radius: float = 8.0
    xp: int = 40
    loot: tuple[LootEntry, ...] = ()
    script: str | None = None  # module name under gameserver.region.encounters


@dataclass(frozen=True, slots=True)
class SpawnPoint:
    template: str
    x: float
    y: float
    respawn_ms: int = 30_000


@dataclass(frozen=True, slots=True)
class RegionContent:
    templates: dict[str, NpcTemplate] = field(default_factory=dict)
    spawns: tuple[SpawnPoint, ...] = ()
    walls: tuple[Rect, ...] = ()
    wall_cell: float = 1.0
    graveyard: tuple[float, float] = (100.0, 500.0)
    corpse_ms: int = 20_000

    def collision(self, min_x: float, min_y: float, max_x: float, max_y: float) -> CollisionMap:
        if not self.walls:
            return CollisionMap.empty()
        return CollisionMap.from_rects(min_x, min_y, max_x, max_y, self.wall_cell, self.walls)


WOLF = NpcTemplate(
    "Forest Wolf",
    level=2,
    max_hp=120,
    xp=45,
    loot=(LootEntry(2001, 0.6), LootEntry(2002, 0.2)),
)
KOBOLD = NpcTemplate(
    "Kobold Miner",
    level=3,
    max_hp=150,
    dmg_min=5,
    dmg_max=10,
    xp=60,
    loot=(LootEntry(2003, 0.5, 2),),
)
HOGGER = NpcTemplate(
    "Hogger",
    level=11,
    max_hp=1500,
    dmg_min=10,
    dmg_max=18,
    swing_ms=2000,
    reach=5.0,
    aggro_radius=15.0,
    leash_radius=60.0,
    speed=6.5,
    wander_radius=0.0,
    xp=600,
    loot=(LootEntry(3001, 1.0), LootEntry(3002, 0.5)),
    script="hogger",
)

# Passive: never aggroes, only fights back (near the start, for new players and tests).
BOAR = NpcTemplate(
    "Docile Boar",
    level=1,
    max_hp=80,
    dmg_min=2,
    dmg_max=4,
    aggro_radius=0.0,
    wander_radius=0.0,
    xp=30,
    loot=(LootEntry(2010, 1.0),),
)

TEMPLATES = {"wolf": WOLF, "kobold": KOBOLD, "hogger": HOGGER, "boar": BOAR}


def _camp(template: str, cx: float, cy: float, n: int, r: float) -> tuple[SpawnPoint, ...]:
    return tuple(
        SpawnPoint(
            template, cx + r * math.cos(2 * math.pi * i / n), cy + r * math.sin(2 * math.pi * i / n)
        )
        for i in range(n)
    )


ELWYNN = RegionContent(
    templates=TEMPLATES,
    spawns=(
        _camp("wolf", 300.0, 500.0, 6, 15.0)
        + _camp("kobold", 450.0, 650.0, 8, 20.0)
        + (SpawnPoint("hogger", 700.0, 300.0, respawn_ms=120_000),)
        + (SpawnPoint("boar", 25.0, 480.0, respawn_ms=10_000),)
    ),
    # The Kobold mine's wall: a line of rock east of the start, with a gap.
    walls=(Rect(250.0, 400.0, 252.0, 480.0), Rect(250.0, 520.0, 252.0, 600.0)),
    graveyard=(10.0, 480.0),
)

CONTENT: dict[str, RegionContent] = {"elwynn": ELWYNN}


def content_for(region: str) -> RegionContent:
    """The region's content, or an empty world (no NPCs, no walls)."""
    return CONTENT.get(region, RegionContent(templates=TEMPLATES))
