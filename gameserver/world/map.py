"""The world's geography: which regions exist, where their borders are, and where new
characters start.

A region is a rectangle of the continent simulated by one or more region server shards
(or, for kind `instance`, a dungeon template). The map is data, not code: a studio
replaces `DEFAULT_MAP` with its own (a later issue loads it from a file / the Region CRD).
"""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gameserver.storage.models import ServerKind


class Bounds(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    min_x: float
    min_y: float
    max_x: float
    max_y: float

    @model_validator(mode="after")
    def _ordered(self) -> Bounds:
        if not (self.min_x < self.max_x and self.min_y < self.max_y):
            raise ValueError("bounds: min must be below max on both axes")
        return self

    def contains(self, x: float, y: float) -> bool:
        return self.min_x <= x < self.max_x and self.min_y <= y < self.max_y

    def clamp(self, x: float, y: float) -> tuple[float, float]:
        # Keep a hair inside the max edge so `contains` stays true after clamping.
        eps = 1e-3
        return (
            min(max(x, self.min_x), self.max_x - eps),
            min(max(y, self.min_y), self.max_y - eps),
        )


class Point(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    x: float
    y: float


class Portal(BaseModel):
    """A doorway in a world region into an instance (a dungeon): stepping within `radius`
    of it takes the player (and, by the lockout and party rules, its group) inside."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    region: str
    x: float
    y: float
    radius: float = Field(3.0, gt=0)
    instance: str


class RegionDef(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9-]{1,40}$")
    bounds: Bounds
    kind: ServerKind = ServerKind.WORLD
    max_speed: float = Field(7.0, gt=0, description="Run speed in metres per second (WoW: 7).")
    aoi_radius: float = Field(100.0, gt=0, description="Entities nearer than this are replicated.")
    # Instances only: where players appear, and the doorway that takes them back out.
    entry: Point | None = None
    exit: Point | None = None


class StartPoint(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    region: str
    x: float
    y: float
    facing: float = 0.0


class WorldMap(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    regions: tuple[RegionDef, ...]
    starts: dict[str, StartPoint]  # faction -> where its new characters appear
    portals: tuple[Portal, ...] = ()

    @model_validator(mode="after")
    def _starts_inside(self) -> WorldMap:
        by_name = {r.name: r for r in self.regions}
        for faction, sp in self.starts.items():
            region = by_name.get(sp.region)
            if region is None:
                raise ValueError(f"starts.{faction}.region: no region named {sp.region!r}")
            if not region.bounds.contains(sp.x, sp.y):
                raise ValueError(f"starts.{faction}: ({sp.x}, {sp.y}) is outside {sp.region}")
        for i, portal in enumerate(self.portals):
            target = by_name.get(portal.instance)
            if target is None or target.kind is not ServerKind.INSTANCE:
                raise ValueError(f"portals.{i}.instance: no instance region {portal.instance!r}")
            if target.entry is None or target.exit is None:
                raise ValueError(f"regions.{portal.instance}: an instance needs entry and exit")
            if portal.region not in by_name:
                raise ValueError(f"portals.{i}.region: no region named {portal.region!r}")
        return self

    def region(self, name: str) -> RegionDef:
        for r in self.regions:
            if r.name == name:
                return r
        raise KeyError(name)

    def continent_bounds(self) -> Bounds:
        """The box around every world region: how far movement may go before the region
        servers hand a player across a border (gaps between regions are clamped back)."""
        world = [r.bounds for r in self.regions if r.kind is ServerKind.WORLD]
        return Bounds(
            min_x=min(b.min_x for b in world),
            min_y=min(b.min_y for b in world),
            max_x=max(b.max_x for b in world),
            max_y=max(b.max_y for b in world),
        )

    def region_at(self, x: float, y: float) -> RegionDef | None:
        for r in self.regions:
            if r.kind is ServerKind.WORLD and r.bounds.contains(x, y):
                return r
        return None


DEFAULT_MAP = WorldMap(
    regions=(
        RegionDef(name="elwynn", bounds=Bounds(min_x=0, min_y=0, max_x=1000, max_y=1000)),
        RegionDef(name="westfall", bounds=Bounds(min_x=-1000, min_y=0, max_x=0, max_y=1000)),
        RegionDef(
            name="deadmines",
            kind=ServerKind.INSTANCE,
            bounds=Bounds(min_x=0, min_y=0, max_x=300, max_y=300),
            entry=Point(x=20.0, y=150.0),
            exit=Point(x=10.0, y=150.0),
        ),
    ),
    portals=(Portal(region="westfall", x=-500.0, y=320.0, radius=3.0, instance="deadmines"),),
    starts={
        # Both near the Elwynn/Westfall border (x = 0): new players meet across it.
        "alliance": StartPoint(region="elwynn", x=20.0, y=500.0, facing=0.0),
        "horde": StartPoint(region="elwynn", x=30.0, y=520.0, facing=math.pi),
    },
)
