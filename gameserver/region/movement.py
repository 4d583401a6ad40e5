"""Server-authoritative movement.

Clients send input frames that say how far they moved (dx, dy) over dt_ms. The server
applies each frame to *its* position of the character, after checking it, so a client can
never place itself: at worst it moves at the legal speed. Frames are deltas rather than
absolute positions so that frames already in flight when the server corrects a player still
apply cleanly to the corrected position (no cascade of false corrections), and so a
server-driven move (a knockback) needs no special case.

Two clocks are checked: distance against the frame's dt (speed hacks), and the sum of all
frames' dt against the server's own elapsed time plus a slack for jitter (time hacks: a
client cannot claim more movement time than has passed). The tolerance mirrors what the
well-known emulators allow, about 5%.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from gameserver.world.map import Bounds


@dataclass(frozen=True, slots=True)
class MoveRules:
    max_speed: float = 7.0
    tolerance: float = 1.05
    teleport_distance: float = 40.0  # one frame moving this far is a teleport, not lag
    clock_slack_ms: int = 600  # jitter a client's clock may run ahead of the server's
    max_frame_dt_ms: int = 250


@dataclass(slots=True)
class MoverState:
    """Per-player movement bookkeeping the checks need between ticks."""

    joined_at_ms: int
    client_ms: int = 0
    last_seq: int = 0
    detections: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class MoveOutcome:
    x: float
    y: float
    facing: float
    last_seq: int
    corrected: bool
    detections: tuple[str, ...]


def apply_frames(
    x: float,
    y: float,
    facing: float,
    frames: npt.NDArray[np.void],
    mover: MoverState,
    rules: MoveRules,
    bounds: Bounds,
    now_ms: int,
) -> MoveOutcome:
    """Apply a player's new input frames in sequence order; returns where the server says the
    player is. Frames at or below the last processed sequence are duplicates (clients resend
    recent frames in every datagram to survive loss) and are skipped."""
    detections: list[str] = []
    last_seq = mover.last_seq
    allowed_ms = now_ms - mover.joined_at_ms + rules.clock_slack_ms
    for frame in np.sort(frames, order="seq"):
        seq = int(frame["seq"])
        if seq <= last_seq:
            continue
        last_seq = seq
        dt_ms = min(int(frame["dt_ms"]), rules.max_frame_dt_ms)
        budget = allowed_ms - mover.client_ms
        if dt_ms > budget:
            detections.append("clock")
            dt_ms = max(0, budget)
        mover.client_ms += dt_ms
        dx, dy = float(frame["x"]), float(frame["y"])
        f = float(frame["facing"])
        if math.isfinite(f):
            facing = f
        if not (math.isfinite(dx) and math.isfinite(dy)):
            detections.append("malformed")
            continue
        dist = math.hypot(dx, dy)
        if dist == 0.0:
            continue
        limit = rules.max_speed * dt_ms / 1000.0 * rules.tolerance + 1e-3
        if dist > rules.teleport_distance:
            detections.append("teleport")
            continue
        if dist > limit:
            detections.append("speed")
            scale = limit / dist
            dx, dy = dx * scale, dy * scale
        x, y = bounds.clamp(x + dx, y + dy)
    mover.last_seq = last_seq
    for kind in detections:
        mover.detections[kind] = mover.detections.get(kind, 0) + 1
    return MoveOutcome(x, y, facing, last_seq, bool(detections), tuple(detections))
