"""Hogger: a three-phase boss.

Phase 1 (above 60% health): melee. Phase 2 (60% and below): Shockwave every 8 s, a blast
that knocks everyone within 12 m back at 30 m/s for 0.4 s (12 m) and hurts a little. Phase
3 (25% and below): enraged (swings twice as fast), Stomp stuns everyone within 8 m for 2 s
every 10 s, and Entangle roots the current target for 3 s.
"""

from __future__ import annotations

from gameserver.region.encounters import EncounterContext, Script

SHOCKWAVE = 101
STOMP = 102
ENTANGLE = 103

PHASE2_AT = 0.60
PHASE3_AT = 0.25
SHOCKWAVE_EVERY_MS = 8000
STOMP_EVERY_MS = 10_000
KNOCKBACK_SPEED = 30.0
KNOCKBACK_MS = 400


class Hogger(Script):
    def __init__(self) -> None:
        self.phase = 1
        self.next_shockwave = 0
        self.next_stomp = 0
        self.base_swing_ms = 2000

    def on_engage(self, ctx: EncounterContext, npc: int) -> None:
        self.phase = 1

    def on_tick(self, ctx: EncounterContext, npc: int) -> None:
        hp = ctx.health_fraction(npc)
        if self.phase == 1 and hp <= PHASE2_AT:
            self.phase = 2
            ctx.announce_phase(npc, 2)
            self.next_shockwave = ctx.now_ms  # opens the phase with a blast
        if self.phase == 2 and hp <= PHASE3_AT:
            self.phase = 3
            ctx.announce_phase(npc, 3)
            ctx.set_swing_ms(npc, self.base_swing_ms // 2)
            self.next_stomp = ctx.now_ms
            target = ctx.current_target(npc)
            if target is not None:
                ctx.root(npc, target, 3000, ENTANGLE)
        if self.phase >= 2 and ctx.now_ms >= self.next_shockwave:
            self.next_shockwave = ctx.now_ms + SHOCKWAVE_EVERY_MS
            for p in ctx.players_near(npc, 12.0):
                ctx.damage(npc, p, 8, SHOCKWAVE)
                ctx.knockback(npc, p, KNOCKBACK_SPEED, KNOCKBACK_MS, SHOCKWAVE)
        if self.phase >= 3 and ctx.now_ms >= self.next_stomp:
            self.next_stomp = ctx.now_ms + STOMP_EVERY_MS
            for p in ctx.players_near(npc, 8.0):
                ctx.stun(npc, p, 2000, STOMP)

    def on_reset(self, ctx: EncounterContext, npc: int) -> None:
        self.phase = 1
        ctx.set_swing_ms(npc, self.base_swing_ms)


def create() -> Script:
    return Hogger()
