"""The tick: one pure simulation step of a region shard.

`step(shard, now_ms)` runs fixed phases in order and never reads the wall clock, sleeps or
does I/O; the driver (driver.py) owns time and sockets. Randomness comes only from the
shard's seeded generator. Given the same shard state, inputs and `now_ms`, it produces the
same state and the same snapshots (tests/region/test_determinism.py).

Phases:
  1. spawns    - NPCs whose respawn timer is up appear; old corpses go
  2. commands  - each player's queued combat commands (casts, auto-attack, respawn, acks)
  3. movement  - every player's input frames through the movement checks at once; casts of
                 players who moved are interrupted; anti-cheat escalates (correct, kick)
  4. forced    - server-driven displacement (knockbacks)
  5. interest  - rebuild the area-of-interest grid and the living-player grid
  6. AI        - the NPC state machine, then encounter scripts
  7. combat    - casts that finish, swings whose timer is up, deaths and rewards
  8. status    - replicated flags, regeneration
  9. replicate - events to their players, one delta snapshot per player within its budget
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gameserver.region import anticheat as ac
from gameserver.region import combat, npc, snapshots
from gameserver.region.movement import (
    DEAD,
    FORCED,
    FREE,
    ROOTED,
    STUNNED,
    MoverState,
    MoveRules,
    apply_batch,
)
from gameserver.region.shard import PlayerLink, Shard, SnapshotConfig
from gameserver.region.world import NEVER
from gameserver.wire.messages import Message, SnapshotAck
from gameserver.wire.structs import FLAG_DEAD, INPUT_FRAME_DTYPE

log = logging.getLogger(__name__)

MAX_DT_MS = 250
MAX_COMMANDS = 16  # per player per tick; more is a flood and is dropped


@dataclass(frozen=True, slots=True)
class StepResult:
    snapshots: list[tuple[int, bytes]]  # (conn_id, encoded envelope)
    detections: list[tuple[int, str]]  # (character_id, kind)
    kicks: list[tuple[int, str]]  # (character_id, reason): the server removes these players


def step(shard: Shard, now_ms: int) -> StepResult:
    dt_ms = 50 if shard.last_now_ms is None else min(MAX_DT_MS, max(0, now_ms - shard.last_now_ms))
    shard.last_now_ms = now_ms
    shard.tick += 1
    w = shard.world

    # 1. spawns
    combat.spawn_npcs(shard, now_ms)

    # 2. commands
    for link in shard.players.values():
        if link.ack_pending:
            combat.ack(link, link.ack_pending, shard.tick)
            link.ack_pending = 0
        if link.commands:
            cmds, link.commands = link.commands[:MAX_COMMANDS], []
            for msg in cmds:
                combat.handle_command(shard, link, msg, now_ms)

    # 3. movement
    detections = _movement(shard, now_ms)
    kicks: list[tuple[int, str]] = []
    by_link: dict[int, list[str]] = {}
    for cid, kind in detections:
        by_link.setdefault(cid, []).append(kind)
    for link in shard.players.values():
        kinds = by_link.get(link.character_id, [])
        if not kinds and link.cheat.score == 0.0:
            continue  # assess would only move the drain clock of a zero score
        verdict = ac.assess(link.cheat, kinds, now_ms, shard.policy)
        if verdict is ac.Verdict.KICK and link.kick is None:
            link.kick = f"kicked by anti-cheat ({', '.join(sorted(set(kinds)))})"
            kicks.append((link.character_id, link.kick))

    # 4. forced movement
    combat.forced_movement(shard, now_ms, dt_ms)

    # 5. interest
    active = w.active_slots()
    shard.grid.build(active, w.x, w.y)
    npc.build_player_grid(shard)

    # 6. AI
    npc.run_ai(shard, now_ms, dt_ms)
    combat.run_scripts(shard, now_ms)

    # 7. combat
    combat.finish_casts(shard, now_ms)
    combat.auto_attacks(shard, now_ms)

    # 8. status
    combat.refresh_flags(shard, now_ms)
    combat.regenerate(shard, now_ms)

    # 9. replicate
    snapshots.queue_events(shard)
    every = max(1, shard.snapshots.every)
    links = [link for link in shard.players.values() if (link.eid + shard.tick) % every == 0]
    slots = np.fromiter((w.slot(link.eid) for link in links), dtype=np.intp, count=len(links))
    out = snapshots.build(shard, now_ms, links, slots, w.states())
    return StepResult(out, detections, kicks)


def _movement(shard: Shard, now_ms: int) -> list[tuple[int, str]]:
    w = shard.world
    movers = [link for link in shard.players.values() if link.pending]
    if not movers:
        return []
    # Concatenate through bytes: np.concatenate of many small structured arrays spends
    # most of its time promoting field descriptions.
    counts = [sum([len(p) for p in link.pending]) for link in movers]
    frames = np.frombuffer(
        b"".join([p.tobytes() for link in movers for p in link.pending]), dtype=INPUT_FRAME_DTYPE
    )
    for link in movers:
        link.pending.clear()
    owner = np.repeat(np.arange(len(movers), dtype=np.intp), counts)
    slots = np.fromiter((w.slot(link.eid) for link in movers), dtype=np.intp, count=len(movers))
    grace = shard.rules.immobile_grace_ms
    dead = (w.flags[slots] & FLAG_DEAD) != 0
    forced = w.kb_until[slots] != NEVER
    stunned = w.stun_until[slots] > now_ms
    rooted = w.root_until[slots] > now_ms
    blocker = np.select(
        [dead, forced, stunned, rooted], [DEAD, FORCED, STUNNED, ROOTED], default=FREE
    ).astype(np.uint8)
    since = np.select(
        [dead, stunned, rooted], [w.dead_at[slots], w.stun_from[slots], w.root_from[slots]], now_ms
    )
    count_blocked = now_ms - since >= grace
    res = apply_batch(
        frames,
        owner,
        w.x[slots].astype(np.float64),
        w.y[slots].astype(np.float64),
        w.facing[slots].astype(np.float64),
        np.fromiter((link.mover.last_seq for link in movers), np.int64, len(movers)),
        np.fromiter((link.mover.client_ms for link in movers), np.int64, len(movers)),
        np.fromiter((link.mover.joined_at_ms for link in movers), np.int64, len(movers)),
        blocker,
        count_blocked,
        shard.rules,
        shard.move_bounds or shard.region.bounds,
        now_ms,
        shard.walls,
    )
    w.x[slots] = res.x
    w.y[slots] = res.y
    w.facing[slots] = res.facing
    for link, seq, cms in zip(movers, res.last_seq.tolist(), res.client_ms.tolist(), strict=True):
        link.mover.last_seq = seq
        link.mover.client_ms = cms
    if res.moved.any():
        combat.interrupt_moved(shard, slots[res.moved], now_ms)
    out: list[tuple[int, str]] = []
    for o, kind in res.detections:
        link = movers[o]
        link.corrected = True
        link.mover.detections[kind] = link.mover.detections.get(kind, 0) + 1
        out.append((link.character_id, kind))
    return out


def queue_inputs(link: PlayerLink, frames: npt.NDArray[np.void], max_pending: int = 16) -> None:
    """Buffer frames for the next tick. Beyond `max_pending` batches the oldest batch is
    dropped: each batch repeats the previous frames, so the newest ones cover it, and a
    server that fell behind does not drown in a backlog of redundant frames."""
    if len(frames):
        link.pending.append(frames)
        if len(link.pending) > max_pending:
            del link.pending[0]


def queue_ack(link: PlayerLink, tick: int) -> None:
    """Only the newest acknowledged tick matters (one per datagram would otherwise crowd
    the queue), and acks never move backwards."""
    if tick > link.ack_pending:
        link.ack_pending = tick


def queue_command(link: PlayerLink, msg: Message, max_pending: int = 64) -> None:
    """Buffer a combat command (CastAbility, SetAutoAttack, Respawn, SnapshotAck)."""
    if isinstance(msg, SnapshotAck):
        queue_ack(link, msg.tick)
    elif len(link.commands) < max_pending:
        link.commands.append(msg)


__all__ = [
    "MoveRules",
    "MoverState",
    "PlayerLink",
    "Shard",
    "SnapshotConfig",
    "StepResult",
    "queue_ack",
    "queue_command",
    "queue_inputs",
    "step",
]
