"""NPC AI: one state machine for every NPC, advanced as column operations.

    IDLE --timer--> WANDER --arrived--> IDLE
    IDLE/WANDER --player inside aggro radius, or hit--> CHASE
    CHASE --target in reach--> ATTACK --target out of reach--> CHASE
    CHASE/ATTACK --pulled beyond the leash radius from home, or nobody left to fight-->
        RETURN (evading: immune, runs home fast) --home--> IDLE with full health, threat
        cleared

Each transition is a boolean mask over the `ai` column; moves are one vectorised step
toward each NPC's destination. The aggro scan asks the player grid for every idle NPC at
once (`Grid.pairs`), and only NPCs already in combat (few) consult their threat tables in
Python to pick a target.
"""

from __future__ import annotations

import numpy as np

from gameserver.region.combat import EncounterCtx, engage
from gameserver.region.shard import Shard
from gameserver.region.world import (
    AI_ATTACK,
    AI_CHASE,
    AI_DEAD,
    AI_IDLE,
    AI_RETURN,
    AI_WANDER,
    KIND_NPC,
    KIND_PLAYER,
    NO_SLOT,
)
from gameserver.wire.structs import FLAG_DEAD

RETURN_SPEEDUP = 1.5
WANDER_SLOWDOWN = 0.4
HOME_EPSILON = 0.5
IDLE_MIN_MS, IDLE_MAX_MS = 3000, 9000


def run_ai(shard: Shard, now_ms: int, dt_ms: int) -> None:
    w = shard.world
    npc = w.active & (w.kind == KIND_NPC)
    if not npc.any():
        return
    stunned = w.stun_until > now_ms
    dt = dt_ms / 1000.0

    # 1. Aggro: idle and wandering NPCs notice the nearest living player in their radius.
    calm = np.flatnonzero(npc & ((w.ai == AI_IDLE) | (w.ai == AI_WANDER)) & (w.aggro_r > 0))
    if len(calm):
        qi, ps, _ = shard.pgrid.pairs(w.x[calm], w.y[calm], w.aggro_r[calm], max_per_query=1)
        for n, p in zip(calm[qi].tolist(), ps.tolist(), strict=True):
            engage(shard, n, p, now_ms)

    # 2. Fighting NPCs: leash, or pick the target from the threat table.
    fighting = np.flatnonzero(npc & ((w.ai == AI_CHASE) | (w.ai == AI_ATTACK)))
    if len(fighting):
        far = (w.x[fighting] - w.home_x[fighting]) ** 2 + (w.y[fighting] - w.home_y[fighting]) ** 2
        leashed = far > w.leash_r[fighting] ** 2
        # Most fighting NPCs keep their target: a living one, chosen from a table that has
        # not changed since. Only the others go through the threat table in Python.
        current = np.where(w.target[fighting] >= 0, w.target_eid[fighting], 0).astype(np.int64)
        keep = ~leashed & w.target_alive(fighting) & shard.threat.settled(fighting, current)
        redo = ~keep
        for n, pulled in zip(fighting[redo].tolist(), leashed[redo].tolist(), strict=True):
            cur = int(w.target_eid[n]) if w.target[n] >= 0 else 0
            choice = 0 if pulled else shard.threat.choose(n, cur, now_ms)
            t = w.slot_or_none(choice) if choice else None
            if t is None or w.flags[t] & FLAG_DEAD:
                start_return(shard, n, now_ms)
            elif choice != cur or w.target[n] != t:
                w.target[n], w.target_eid[n] = t, choice
        shard.threat.remember(fighting, w.target_eid[fighting].astype(np.int64))

    # 3. Idle NPCs whose timer is up pick a wander point around home.
    bored = np.flatnonzero(npc & (w.ai == AI_IDLE) & (w.next_act <= now_ms) & (w.wander_r > 0))
    if len(bored):
        ang = shard.rng.uniform(0, 2 * np.pi, len(bored))
        rad = shard.rng.uniform(0, 1, len(bored)) ** 0.5 * w.wander_r[bored]
        w.dest_x[bored] = w.home_x[bored] + rad * np.cos(ang)
        w.dest_y[bored] = w.home_y[bored] + rad * np.sin(ang)
        w.ai[bored] = AI_WANDER

    # 4. Move everyone with somewhere to go, one step each.
    chase = npc & (w.ai == AI_CHASE)
    chase_idx = np.flatnonzero(chase)
    if len(chase_idx):
        tc = w.target[chase_idx]
        w.dest_x[chase_idx] = w.x[tc]
        w.dest_y[chase_idx] = w.y[tc]
    moving = np.flatnonzero(
        npc
        & ~stunned
        & (w.root_until <= now_ms)
        & ((w.ai == AI_CHASE) | (w.ai == AI_RETURN) | (w.ai == AI_WANDER))
    )
    if len(moving):
        ai = w.ai[moving]
        speed = w.speed[moving] * np.where(
            ai == AI_RETURN, RETURN_SPEEDUP, np.where(ai == AI_WANDER, WANDER_SLOWDOWN, 1.0)
        )
        stop = np.where(ai == AI_CHASE, w.reach[moving] * 0.8, 0.0)
        dx = w.dest_x[moving] - w.x[moving]
        dy = w.dest_y[moving] - w.y[moving]
        dist = np.hypot(dx, dy)
        step = np.clip(np.minimum(speed * dt, dist - stop), 0.0, None)
        with np.errstate(invalid="ignore", divide="ignore"):
            ux = np.where(dist > 1e-6, dx / dist, 0.0)
            uy = np.where(dist > 1e-6, dy / dist, 0.0)
        nx = w.x[moving] + ux * step
        ny = w.y[moving] + uy * step
        if shard.walls.any_walls:
            wall = shard.walls.blocked_at(nx, ny)
            nx = np.where(wall, w.x[moving], nx)
            ny = np.where(wall, w.y[moving], ny)
        w.x[moving] = nx
        w.y[moving] = ny
        turned = dist > 1e-6
        w.facing[moving[turned]] = np.arctan2(uy[turned], ux[turned])
        arrived = dist - step <= HOME_EPSILON
        wander_done = moving[(ai == AI_WANDER) & arrived]
        w.ai[wander_done] = AI_IDLE
        w.next_act[wander_done] = now_ms + shard.rng.integers(
            IDLE_MIN_MS, IDLE_MAX_MS, len(wander_done)
        )
        home = moving[(ai == AI_RETURN) & arrived]
        if len(home):
            reset(shard, home, now_ms)

    # 5. Reach: chase <-> attack.
    fighting = np.flatnonzero(npc & ((w.ai == AI_CHASE) | (w.ai == AI_ATTACK)))
    if len(fighting):
        tf = w.target[fighting]
        dx = w.x[tf] - w.x[fighting]
        dy = w.y[tf] - w.y[fighting]
        d2 = dx * dx + dy * dy
        reach = w.reach[fighting]
        close = d2 <= reach * reach
        w.ai[fighting] = np.where(close, AI_ATTACK, AI_CHASE).astype(np.uint8)
        w.facing[fighting] = np.where(d2 > 1e-6, np.arctan2(dy, dx), w.facing[fighting])


def start_return(shard: Shard, npc: int, now_ms: int) -> None:
    """Leash: drop the fight, run home immune."""
    w = shard.world
    shard.threat.clear(npc)
    w.ai[npc] = AI_RETURN
    w.target[npc] = NO_SLOT
    w.target_eid[npc] = 0
    w.dest_x[npc], w.dest_y[npc] = w.home_x[npc], w.home_y[npc]


def reset(shard: Shard, npcs: np.ndarray, now_ms: int) -> None:
    """Home again: full health, no threat, calm."""
    w = shard.world
    w.ai[npcs] = AI_IDLE
    w.hp[npcs] = w.max_hp[npcs]
    w.refresh_health_pct(npcs)
    w.next_act[npcs] = now_ms + IDLE_MIN_MS
    ctx = EncounterCtx(shard, now_ms)
    for n in npcs.tolist():
        shard.threat.clear(n)
        script = shard.scripts.get(n)
        if script is not None:
            script.on_reset(ctx, n)


def build_player_grid(shard: Shard) -> None:
    w = shard.world
    alive = np.flatnonzero(w.active & (w.kind == KIND_PLAYER) & ((w.flags & FLAG_DEAD) == 0))
    shard.pgrid.build(alive, w.x, w.y)


__all__ = ["AI_DEAD", "build_player_grid", "reset", "run_ai", "start_return"]
