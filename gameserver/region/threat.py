"""Threat tables: who an NPC in combat attacks.

Only NPCs in combat have a table (a few dozen at a time, not thousands), so tables are
small dicts keyed by the NPC's slot, with a reverse index from each player to the NPCs
that hate it (healing a player spreads threat to exactly those NPCs). The rules are the
classic ones: damage adds threat (times the ability's multiplier), healing adds half the
amount split over the NPCs engaged with the healed player, the highest threat is the
target, but a new target must exceed the current one by 10% to pull it (so targets do not
flicker), and a taunt sets the taunter to the top threat and forces the NPC onto it for a
few seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

PULL_FACTOR = 1.10
HEAL_THREAT = 0.5
TAUNT_MS = 3000


@dataclass(slots=True)
class ThreatTables:
    tables: dict[int, dict[int, float]] = field(default_factory=dict)  # npc slot -> eid -> threat
    engaged: dict[int, set[int]] = field(default_factory=dict)  # player eid -> npc slots
    taunted: dict[int, tuple[int, int]] = field(default_factory=dict)  # npc slot -> (eid, until)
    # NPCs whose table changed since the AI last chose their targets, and what it chose
    # (entity id by slot): an unchanged table gives the same choice again (`settled`).
    dirty: set[int] = field(default_factory=set)
    chosen: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))

    def add(self, npc: int, eid: int, amount: float) -> None:
        self.dirty.add(npc)
        table = self.tables.setdefault(npc, {})
        table[eid] = table.get(eid, 0.0) + max(0.0, amount)
        self.engaged.setdefault(eid, set()).add(npc)

    def healing(self, healer: int, healed: int, amount: float) -> None:
        """`healer` healed `healed` for `amount`: every NPC fighting `healed` notices."""
        npcs = sorted(self.engaged.get(healed, ()))
        if not npcs:
            return
        share = amount * HEAL_THREAT / len(npcs)
        for npc in npcs:
            self.add(npc, healer, share)

    def taunt(self, npc: int, eid: int, now_ms: int) -> None:
        self.dirty.add(npc)
        table = self.tables.setdefault(npc, {})
        top = max(table.values(), default=0.0)
        table[eid] = max(table.get(eid, 0.0), top)
        self.engaged.setdefault(eid, set()).add(npc)
        self.taunted[npc] = (eid, now_ms + TAUNT_MS)

    def has(self, npc: int) -> bool:
        return bool(self.tables.get(npc))

    def threat(self, npc: int, eid: int) -> float:
        return self.tables.get(npc, {}).get(eid, 0.0)

    def clear(self, npc: int) -> None:
        self.dirty.add(npc)
        for eid in self.tables.pop(npc, {}):
            s = self.engaged.get(eid)
            if s is not None:
                s.discard(npc)
                if not s:
                    del self.engaged[eid]
        self.taunted.pop(npc, None)

    def forget(self, eid: int) -> None:
        """A player died or left: it is off every table."""
        for npc in self.engaged.pop(eid, set()):
            self.dirty.add(npc)
            table = self.tables.get(npc)
            if table is not None:
                table.pop(eid, None)
        for npc, (t, _) in list(self.taunted.items()):
            if t == eid:
                del self.taunted[npc]

    def settled(
        self, npcs: npt.NDArray[np.intp], current: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.bool_]:
        """Which of `npcs` (attacking `current`) would `choose` `current` again: their
        table is unchanged since the last `remember`, they are not taunted, and `current`
        is what was chosen then (`choose` of an unchanged table is idempotent)."""
        if len(self.chosen) == 0:
            return np.zeros(len(npcs), dtype=bool)
        known = npcs < len(self.chosen)
        ok: npt.NDArray[np.bool_] = known & (self.chosen[np.where(known, npcs, 0)] == current)
        unsettled = self.dirty | self.taunted.keys()
        if unsettled:
            ok &= ~np.isin(npcs, np.fromiter(unsettled, np.int64, len(unsettled)))
        return ok

    def remember(self, npcs: npt.NDArray[np.intp], chosen: npt.NDArray[np.int64]) -> None:
        """The targets the AI settled on for `npcs` this tick; tables are clean again."""
        if len(npcs) and int(npcs.max()) >= len(self.chosen):
            grown = np.zeros(max(int(npcs.max()) + 1, 2 * len(self.chosen)), np.int64)
            grown[: len(self.chosen)] = self.chosen
            self.chosen = grown
        self.chosen[npcs] = chosen
        self.dirty.clear()

    def choose(self, npc: int, current: int, now_ms: int) -> int:
        """The entity id the NPC should attack (0 if its table is empty)."""
        forced = self.taunted.get(npc)
        if forced is not None:
            if now_ms < forced[1] and forced[0] in self.tables.get(npc, {}):
                return forced[0]
            del self.taunted[npc]
        table = self.tables.get(npc)
        if not table:
            return 0
        # Highest threat; ties go to the lower id so the choice is deterministic.
        best = min(table.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        if current in table and best != current:
            if table[best] <= table[current] * PULL_FACTOR:
                return current
        return best
