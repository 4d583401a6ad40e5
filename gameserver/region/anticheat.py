"""Anti-cheat policy: what a detection costs a player, and when the answer is a kick.

Detection happens where the facts are (movement.py checks speed, teleports, the clock,
walls and moving while dead, stunned or rooted); every detection is already *corrected*
there, because the server simply does not apply the illegal part of the move. This module
only decides the escalation, as a pure function of a small per-player score, so the
thresholds are configuration with unit tests rather than numbers buried in the tick.

The score is a leaky bucket: each detection adds its kind's weight, the score drains at
`decay_per_s`, and reaching `kick_score` kicks. One lag spike (a few speed or clock
detections) never kicks; a speed hack that keeps trying does, within seconds.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

# Detection kinds (the `kind` label of realm_anticheat_detections_total).
SPEED = "speed"
TELEPORT = "teleport"
CLOCK = "clock"
WALL = "wall"
MALFORMED = "malformed"
MOVE_WHILE_DEAD = "moving_while_dead"
MOVE_WHILE_STUNNED = "moving_while_stunned"
MOVE_WHILE_ROOTED = "moving_while_rooted"

ALL_KINDS = (
    SPEED,
    TELEPORT,
    CLOCK,
    WALL,
    MALFORMED,
    MOVE_WHILE_DEAD,
    MOVE_WHILE_STUNNED,
    MOVE_WHILE_ROOTED,
)


def _default_weights() -> dict[str, float]:
    return {
        SPEED: 1.0,
        CLOCK: 1.0,
        WALL: 2.0,
        MOVE_WHILE_DEAD: 2.0,
        MOVE_WHILE_STUNNED: 2.0,
        MOVE_WHILE_ROOTED: 2.0,
        TELEPORT: 5.0,
        MALFORMED: 5.0,
    }


@dataclass(frozen=True, slots=True)
class AntiCheatPolicy:
    kick_score: float = 30.0
    decay_per_s: float = 2.0
    weights: Mapping[str, float] = field(default_factory=_default_weights)
    enabled_kick: bool = True


class Verdict(enum.Enum):
    OK = "ok"
    CORRECT = "correct"  # the move was corrected; keep playing
    KICK = "kick"


@dataclass(slots=True)
class CheatScore:
    score: float = 0.0
    at_ms: int = 0
    total: int = 0


def assess(
    state: CheatScore, kinds: Iterable[str], now_ms: int, policy: AntiCheatPolicy
) -> Verdict:
    """Drain the score to `now_ms`, add this tick's detections, and decide."""
    elapsed = max(0, now_ms - state.at_ms)
    state.score = max(0.0, state.score - policy.decay_per_s * elapsed / 1000.0)
    state.at_ms = now_ms
    n = 0
    for k in kinds:
        state.score += policy.weights.get(k, 1.0)
        n += 1
    if n == 0:
        return Verdict.OK
    state.total += n
    if policy.enabled_kick and state.score >= policy.kick_score:
        return Verdict.KICK
    return Verdict.CORRECT
