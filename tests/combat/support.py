"""A small shard to fight in: no content unless asked, players and NPCs placed by hand,
and helpers to step simulated time (50 ms ticks)."""

from __future__ import annotations

import numpy as np

from gameserver.region import combat
from gameserver.region.collision import Rect
from gameserver.region.content import TEMPLATES, NpcTemplate, RegionContent, SpawnPoint
from gameserver.region.shard import PlayerLink, Shard, SpawnState
from gameserver.region.tick import MoverState, MoveRules, StepResult, queue_command, step
from gameserver.region.world import KIND_PLAYER
from gameserver.wire.messages import Message
from gameserver.wire.structs import INPUT_FRAME_DTYPE
from gameserver.world.map import DEFAULT_MAP

REGION = DEFAULT_MAP.region("elwynn")
TICK_MS = 50


class Sim:
    def __init__(
        self,
        *,
        seed: int = 1,
        walls: tuple[Rect, ...] = (),
        graveyard: tuple[float, float] = (10, 10),
    ) -> None:
        content = RegionContent(templates=dict(TEMPLATES), walls=walls, graveyard=graveyard)
        self.shard = Shard(
            region=REGION, rules=MoveRules(max_speed=7.0), seed=seed, content=content
        )
        self.now = 0
        self.results: list[StepResult] = []
        self.seqs: dict[int, int] = {}

    # --- population -------------------------------------------------------------------
    def player(self, x: float, y: float, cid: int | None = None, facing: float = 0.0) -> PlayerLink:
        eid = self.shard.world.spawn(KIND_PLAYER, x, y, facing)
        cid = cid if cid is not None else 1000 + eid
        link = PlayerLink(cid, 5000 + eid, eid, MoverState(joined_at_ms=self.now))
        combat.init_player(self.shard, link, 1, 0, 0)
        self.shard.players[eid] = link
        return link

    def npc(self, template: str | NpcTemplate, x: float, y: float, respawn_ms: int = 30_000) -> int:
        """Spawn an NPC through a spawn point (as the content would); returns its slot."""
        t = template if isinstance(template, NpcTemplate) else TEMPLATES[template]
        assert self.shard.content is not None
        self.shard.content.templates[t.name] = t
        self.shard.spawns.append(SpawnState(SpawnPoint(t.name, x, y, respawn_ms)))
        combat.spawn_npcs(self.shard, self.now)
        return self.shard.world.slot(self.shard.spawns[-1].eid)

    # --- time ---------------------------------------------------------------------------
    def tick(self, n: int = 1) -> StepResult:
        for _ in range(n):
            self.now += TICK_MS
            self.results.append(step(self.shard, self.now))
        return self.results[-1]

    def command(self, link: PlayerLink, msg: Message) -> None:
        queue_command(link, msg)

    def move(
        self, link: PlayerLink, dx: float, dy: float, dt_ms: int = TICK_MS, facing: float = 0.0
    ) -> None:
        seq = self.seqs.get(link.eid, 0) + 1
        self.seqs[link.eid] = seq
        f = np.zeros(1, dtype=INPUT_FRAME_DTYPE)
        f[0] = (seq, dt_ms, 0, dx, dy, facing)
        link.pending.append(f)

    # --- reading ------------------------------------------------------------------------
    def events(self, link: PlayerLink, kind: int | None = None) -> list[tuple[int, ...]]:
        return [e for e in link.events if kind is None or e[1] == kind]

    def detections(self) -> list[tuple[int, str]]:
        return [d for r in self.results for d in r.detections]

    def pos(self, slot: int) -> tuple[float, float]:
        w = self.shard.world
        return float(w.x[slot]), float(w.y[slot])

    def slot(self, link: PlayerLink) -> int:
        return self.shard.world.slot(link.eid)
