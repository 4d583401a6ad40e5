"""Encounter scripts: boss fights as plain Python modules.

A designer adds `gameserver/region/encounters/<name>.py` defining `create() -> Script`
and names it in an NPC template (`content.NpcTemplate.script`); the tick never changes.
A script sees the fight only through `EncounterContext` (what the boss may do: read its
health, find players near it, damage, knock back, stun, root, announce a phase), so it
cannot break the tick's invariants, and it draws randomness from the shard's seeded RNG,
so a fight replays identically.
"""

from __future__ import annotations

import importlib
from typing import Protocol


class EncounterContext(Protocol):
    now_ms: int

    def health_fraction(self, npc: int) -> float: ...
    def players_near(self, npc: int, radius: float) -> list[int]: ...
    def damage(self, source: int, target: int, amount: int, ability: int) -> None: ...
    def knockback(
        self, source: int, target: int, speed: float, duration_ms: int, ability: int
    ) -> None: ...
    def stun(self, source: int, target: int, duration_ms: int, ability: int) -> None: ...
    def root(self, source: int, target: int, duration_ms: int, ability: int) -> None: ...
    def set_swing_ms(self, npc: int, swing_ms: int) -> None: ...
    def current_target(self, npc: int) -> int | None: ...
    def announce_phase(self, npc: int, phase: int) -> None: ...


class Script:
    """Base class: every hook is optional."""

    phase = 1

    def on_engage(self, ctx: EncounterContext, npc: int) -> None:
        """The boss entered combat."""

    def on_tick(self, ctx: EncounterContext, npc: int) -> None:
        """Each tick the boss is in combat."""

    def on_reset(self, ctx: EncounterContext, npc: int) -> None:
        """The boss leashed home (full health, threat cleared) or respawned."""


def load(name: str) -> Script:
    module = importlib.import_module(f"{__name__}.{name}")
    script: Script = module.create()
    return script
