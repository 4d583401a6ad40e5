"""Server-authoritative movement.

Clients send input frames that say how far they moved (dx, dy) over dt_ms. The server
applies each frame to *its* position of the character, after checking it, so a client can
never place itself: at worst it moves at the legal speed. Frames are deltas rather than
absolute positions so that frames already in flight when the server corrects a player still
apply cleanly to the corrected position (no cascade of false corrections), and so a
server-driven move (a knockback) needs no special case: the server moves the character, the
client's next frames apply from where the server put it.

Checks, each a detection kind of `anticheat.py`, each corrected by not applying the illegal
part of the move:

* distance against the frame's dt (speed hacks), with the ~5% tolerance the well-known
  emulators allow; a frame far beyond any speed is a teleport and is refused whole;
* the sum of all frames' dt against the server's own elapsed time plus a slack for jitter
  (time hacks: a client cannot claim more movement time than has passed). Jitter only
  bunches frames up; it never makes the total exceed the real elapsed time, so legal
  movement at max speed under jitter is never flagged (a test proves it);
* the collision map: a path into a wall stops at the wall;
* moving while dead, stunned or rooted: the move is dropped; it is counted only once the
  state is older than `immobile_grace_ms`, because frames sent before the client learnt
  it was stunned are still in flight (no false positive for honest lag);
* during a knockback the server drives the character and drops client moves silently.

`apply_batch` runs the checks for every player's frames of a tick as column operations;
only a player whose path touches a wall takes the exact per-frame path (`apply_frames`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from gameserver.region import anticheat as ac
from gameserver.region.collision import CollisionMap
from gameserver.world.map import Bounds

# Why a player may not move this tick (the `blocker` argument/column).
FREE = 0
DEAD = 1
STUNNED = 2
ROOTED = 3
FORCED = 4  # knockback: server-driven, client moves dropped without a detection

_BLOCKER_KIND = {
    DEAD: ac.MOVE_WHILE_DEAD,
    STUNNED: ac.MOVE_WHILE_STUNNED,
    ROOTED: ac.MOVE_WHILE_ROOTED,
}


@dataclass(frozen=True, slots=True)
class MoveRules:
    max_speed: float = 7.0
    tolerance: float = 1.05
    teleport_distance: float = 40.0  # one frame moving this far is a teleport, not lag
    clock_slack_ms: int = 600  # jitter a client's clock may run ahead of the server's
    max_frame_dt_ms: int = 250
    immobile_grace_ms: int = 500  # moves within this long after a stun/root/death are lag


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
    moved: bool = False


def apply_frames(
    x: float,
    y: float,
    facing: float,
    frames: npt.NDArray[np.void],
    mover: MoverState,
    rules: MoveRules,
    bounds: Bounds,
    now_ms: int,
    *,
    walls: CollisionMap | None = None,
    blocker: int = FREE,
    count_blocked: bool = True,
) -> MoveOutcome:
    """Apply a player's new input frames in sequence order; returns where the server says the
    player is. Frames at or below the last processed sequence are duplicates (clients resend
    recent frames in every datagram to survive loss) and are skipped."""
    detections: list[str] = []
    last_seq = mover.last_seq
    allowed_ms = now_ms - mover.joined_at_ms + rules.clock_slack_ms
    moved = False
    blocked_reported = False
    for frame in np.sort(frames, order="seq"):
        seq = int(frame["seq"])
        if seq <= last_seq:
            continue
        last_seq = seq
        dt_ms = min(int(frame["dt_ms"]), rules.max_frame_dt_ms)
        budget = allowed_ms - mover.client_ms
        if dt_ms > budget:
            detections.append(ac.CLOCK)
            dt_ms = max(0, budget)
        mover.client_ms += dt_ms
        dx, dy = float(frame["x"]), float(frame["y"])
        f = float(frame["facing"])
        if math.isfinite(f):
            facing = f
        if not (math.isfinite(dx) and math.isfinite(dy)):
            detections.append(ac.MALFORMED)
            continue
        dist = math.hypot(dx, dy)
        if dist == 0.0:
            continue
        if blocker != FREE:
            if blocker in _BLOCKER_KIND and count_blocked and not blocked_reported:
                detections.append(_BLOCKER_KIND[blocker])
                blocked_reported = True
            continue
        limit = rules.max_speed * dt_ms / 1000.0 * rules.tolerance + 1e-3
        if dist > rules.teleport_distance:
            detections.append(ac.TELEPORT)
            continue
        if dist > limit:
            detections.append(ac.SPEED)
            scale = limit / dist
            dx, dy = dx * scale, dy * scale
        nx, ny = bounds.clamp(x + dx, y + dy)
        if walls is not None:
            nx, ny, hit = walls.clip(x, y, nx, ny)
            if hit:
                detections.append(ac.WALL)
        moved = moved or (nx, ny) != (x, y)
        x, y = nx, ny
    mover.last_seq = last_seq
    for kind in detections:
        mover.detections[kind] = mover.detections.get(kind, 0) + 1
    return MoveOutcome(x, y, facing, last_seq, bool(detections), tuple(detections), moved)


# --------------------------------------------------------------------------- batch


@dataclass(slots=True)
class BatchOutcome:
    """Per owner (index into the arrays given to `apply_batch`)."""

    x: npt.NDArray[np.float64]
    y: npt.NDArray[np.float64]
    facing: npt.NDArray[np.float64]
    last_seq: npt.NDArray[np.int64]
    client_ms: npt.NDArray[np.int64]
    moved: npt.NDArray[np.bool_]
    detections: list[tuple[int, str]]


def _group_starts(owner: npt.NDArray[np.intp]) -> npt.NDArray[np.bool_]:
    first = np.ones(len(owner), dtype=bool)
    first[1:] = owner[1:] != owner[:-1]
    return first


def _group_cumsum(
    v: npt.NDArray[np.float64], first: npt.NDArray[np.bool_]
) -> npt.NDArray[np.float64]:
    """Cumulative sum restarting at each group start (rows sorted by group)."""
    cs = np.cumsum(v)
    start = np.maximum.accumulate(np.where(first, np.arange(len(v)), 0))
    out: npt.NDArray[np.float64] = cs - (cs - v)[start]
    return out


def apply_batch(
    frames: npt.NDArray[np.void],
    owner: npt.NDArray[np.intp],
    x0: npt.NDArray[np.float64],
    y0: npt.NDArray[np.float64],
    facing0: npt.NDArray[np.float64],
    last_seq: npt.NDArray[np.int64],
    client_ms: npt.NDArray[np.int64],
    joined_at: npt.NDArray[np.int64],
    blocker: npt.NDArray[np.uint8],
    count_blocked: npt.NDArray[np.bool_],
    rules: MoveRules,
    bounds: Bounds,
    now_ms: int,
    walls: CollisionMap | None = None,
) -> BatchOutcome:
    """The checks of `apply_frames` for many players at once. `frames[i]` belongs to owner
    `owner[i]`; the per-owner arrays describe each owner before this tick. Identical to
    running `apply_frames` per owner, except that the bounds clamp applies to the tick's
    end position rather than after each frame (the same unless a path leaves the region
    and comes back within one tick)."""
    n_own = len(x0)
    out_x = x0.astype(np.float64, copy=True)
    out_y = y0.astype(np.float64, copy=True)
    out_f = facing0.astype(np.float64, copy=True)
    out_seq = last_seq.astype(np.int64, copy=True)
    out_cms = client_ms.astype(np.int64, copy=True)
    moved = np.zeros(n_own, dtype=bool)
    detections: list[tuple[int, str]] = []
    if len(frames) == 0:
        return BatchOutcome(out_x, out_y, out_f, out_seq, out_cms, moved, detections)

    seq = frames["seq"].astype(np.int64)
    order = np.lexsort((seq, owner))
    fr, own, seq = frames[order], owner[order], seq[order]
    keep = seq > last_seq[own]
    dup = np.zeros(len(seq), dtype=bool)
    dup[1:] = (own[1:] == own[:-1]) & (seq[1:] == seq[:-1])
    keep &= ~dup
    fr, own, seq = fr[keep], own[keep], seq[keep]
    if len(fr) == 0:
        return BatchOutcome(out_x, out_y, out_f, out_seq, out_cms, moved, detections)
    first = _group_starts(own)
    last = np.ones(len(own), dtype=bool)
    last[:-1] = own[1:] != own[:-1]
    out_seq[own[last]] = seq[last]

    # Clock: c_k = min(c0 + S_k, max(c0, allowed)); dt_eff = c_k - c_{k-1}.
    dt = np.minimum(fr["dt_ms"].astype(np.int64), rules.max_frame_dt_ms)
    allowed = now_ms - joined_at + rules.clock_slack_ms
    c0 = client_ms[own]
    cap = np.maximum(c0, allowed[own])
    raw = c0 + _group_cumsum(dt.astype(np.float64), first).astype(np.int64)
    c = np.minimum(raw, cap)
    prev = np.where(first, c0, np.roll(c, 1))
    dt_eff = c - prev
    clock_bad = raw > allowed[own]
    clock_bad &= (prev + dt) > allowed[own]
    out_cms[own[last]] = c[last]

    fx = fr["facing"].astype(np.float64)
    fin = np.isfinite(fx)
    if fin.any():
        idx = np.flatnonzero(fin)
        lastf = np.ones(len(idx), dtype=bool)
        lastf[:-1] = own[idx][1:] != own[idx][:-1]
        out_f[own[idx[lastf]]] = fx[idx[lastf]]

    dx = fr["x"].astype(np.float64)
    dy = fr["y"].astype(np.float64)
    bad = ~(np.isfinite(dx) & np.isfinite(dy))
    dx[bad] = 0.0
    dy[bad] = 0.0
    dist = np.hypot(dx, dy)
    blk = blocker[own]
    blocked_move = (blk != FREE) & (dist > 0)
    dx[blocked_move] = 0.0
    dy[blocked_move] = 0.0
    dist[blocked_move] = 0.0
    tele = dist > rules.teleport_distance
    dx[tele] = 0.0
    dy[tele] = 0.0
    dist[tele] = 0.0
    limit = rules.max_speed * dt_eff / 1000.0 * rules.tolerance + 1e-3
    fast = dist > limit
    scale = np.where(fast, limit / np.where(dist > 0, dist, 1.0), 1.0)
    dx *= scale
    dy *= scale

    # Per-frame detections, in frame order per owner (as the scalar path reports them).
    if clock_bad.any() or bad.any() or tele.any() or fast.any() or blocked_move.any():
        reported_block: set[int] = set()
        for i in np.flatnonzero(clock_bad | bad | tele | fast | blocked_move).tolist():
            o = int(own[i])
            if clock_bad[i]:
                detections.append((o, ac.CLOCK))
            if bad[i]:
                detections.append((o, ac.MALFORMED))
            elif blocked_move[i]:
                b = int(blk[i])
                if b in _BLOCKER_KIND and bool(count_blocked[o]) and o not in reported_block:
                    detections.append((o, _BLOCKER_KIND[b]))
                    reported_block.add(o)
            elif tele[i]:
                detections.append((o, ac.TELEPORT))
            elif fast[i]:
                detections.append((o, ac.SPEED))

    px = x0[own] + _group_cumsum(dx, first)
    py = y0[own] + _group_cumsum(dy, first)
    slow: set[int] = set()
    if walls is not None and walls.any_walls:
        hit = walls.blocked_at(px, py) | walls.blocked_at(px - dx * 0.5, py - dy * 0.5)
        hit |= walls.blocked_at(px - dx * 0.25, py - dy * 0.25)
        hit |= walls.blocked_at(px - dx * 0.75, py - dy * 0.75)
        if hit.any():
            slow = set(np.unique(own[hit]).tolist())
    fx_end, fy_end = px[last], py[last]
    owners_end = own[last]
    fx_end = np.clip(fx_end, bounds.min_x, bounds.max_x - 1e-3)
    fy_end = np.clip(fy_end, bounds.min_y, bounds.max_y - 1e-3)
    moved_frames = np.zeros(n_own, dtype=bool)
    np.logical_or.at(moved_frames, own, dist > 0)
    out_x[owners_end] = fx_end
    out_y[owners_end] = fy_end
    moved |= moved_frames & ((out_x != x0) | (out_y != y0))

    if slow:
        # Exact per-frame walk for players touching a wall: redo them from the start.
        detections = [(o, k) for o, k in detections if o not in slow]
        for o in sorted(slow):
            sel = owner == o
            mover = MoverState(int(joined_at[o]), int(client_ms[o]), int(last_seq[o]))
            res = apply_frames(
                float(x0[o]),
                float(y0[o]),
                float(facing0[o]),
                frames[sel],
                mover,
                rules,
                bounds,
                now_ms,
                walls=walls,
                blocker=int(blocker[o]),
                count_blocked=bool(count_blocked[o]),
            )
            out_x[o], out_y[o], out_f[o] = res.x, res.y, res.facing
            out_seq[o], out_cms[o] = res.last_seq, mover.client_ms
            moved[o] = res.moved
            detections.extend((o, k) for k in res.detections)
    return BatchOutcome(out_x, out_y, out_f, out_seq, out_cms, moved, detections)
