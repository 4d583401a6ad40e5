"""Abilities: what a player can cast, and the pure rules that say whether it may.

An ability is data (range, facing, cooldown, whether it triggers the global cooldown,
cast time, effect). `check_cast` is a pure function of the caster's and target's facts
that returns the first reason the cast is refused, in the order a player would expect to
hear them; the tick calls it when a CastAbility arrives, and again (range only) when a
cast with a cast time completes. Movement interrupts a cast with a cast time (movement.py
reports who moved; the tick interrupts).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

GCD_MS = 1500


class CastError(enum.IntEnum):
    OK = 0
    DEAD = 1
    STUNNED = 2
    ALREADY_CASTING = 3
    GCD = 4
    COOLDOWN = 5
    NO_TARGET = 6
    BAD_TARGET = 7  # e.g. healing an NPC, attacking a friend, or a dead target
    OUT_OF_RANGE = 8
    NOT_FACING = 9
    NO_MANA = 10
    UNKNOWN_ABILITY = 11


class Effect(enum.Enum):
    DAMAGE = "damage"
    HEAL = "heal"
    TAUNT = "taunt"


@dataclass(frozen=True, slots=True)
class Ability:
    id: int
    name: str
    effect: Effect
    range: float
    amount: int = 0
    cast_ms: int = 0
    cooldown_ms: int = 0
    gcd: bool = True
    needs_facing: bool = True  # target within the front half-circle
    mana: int = 0
    threat_mult: float = 1.0
    friendly: bool = False  # targets players (self if no target)


STRIKE = Ability(1, "Strike", Effect.DAMAGE, range=5.0, amount=25, cooldown_ms=3000, mana=0)
FIREBALL = Ability(2, "Fireball", Effect.DAMAGE, range=30.0, amount=45, cast_ms=1500, mana=15)
HEAL = Ability(
    3,
    "Heal",
    Effect.HEAL,
    range=30.0,
    amount=40,
    cast_ms=1000,
    mana=20,
    needs_facing=False,
    friendly=True,
)
TAUNT = Ability(
    4, "Taunt", Effect.TAUNT, range=20.0, cooldown_ms=8000, needs_facing=False, threat_mult=0.0
)

ABILITIES: dict[int, Ability] = {a.id: a for a in (STRIKE, FIREBALL, HEAL, TAUNT)}


def facing_ok(facing: float, from_x: float, from_y: float, to_x: float, to_y: float) -> bool:
    """Is the target in the front half-circle (within 90 degrees of facing)? A target on
    top of the caster always is."""
    dx, dy = to_x - from_x, to_y - from_y
    if dx * dx + dy * dy < 1e-6:
        return True
    return math.cos(facing) * dx + math.sin(facing) * dy >= 0.0


@dataclass(frozen=True, slots=True)
class CastContext:
    """The facts `check_cast` needs, gathered from the columns by the caller."""

    now_ms: int
    dead: bool
    stunned: bool
    casting: bool
    gcd_until: int
    cooldown_until: int
    mana: int
    x: float
    y: float
    facing: float
    has_target: bool
    target_is_player: bool
    target_dead: bool
    tx: float
    ty: float


def check_cast(a: Ability, c: CastContext) -> CastError:
    if c.dead:
        return CastError.DEAD
    if c.stunned:
        return CastError.STUNNED
    if c.casting:
        return CastError.ALREADY_CASTING
    if a.gcd and c.now_ms < c.gcd_until:
        return CastError.GCD
    if c.now_ms < c.cooldown_until:
        return CastError.COOLDOWN
    if not c.has_target:
        return CastError.NO_TARGET
    if c.target_dead or c.target_is_player != a.friendly:
        return CastError.BAD_TARGET
    if math.hypot(c.tx - c.x, c.ty - c.y) > a.range:
        return CastError.OUT_OF_RANGE
    if a.needs_facing and not facing_ok(c.facing, c.x, c.y, c.tx, c.ty):
        return CastError.NOT_FACING
    if c.mana < a.mana:
        return CastError.NO_MANA
    return CastError.OK
