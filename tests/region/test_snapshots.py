"""Delta snapshots: the client rebuilds exactly the server's view under packet loss, the
view matches the full area of interest when the budget allows, entities entering and
leaving are announced, and the budget holds with near entities favoured.

The tests read a snapshot per tick, so they pin `every=1` (the default sends a client one
every other tick; `test_every_other_tick_...` covers that)."""

from __future__ import annotations

import random

import numpy as np
import pytest
from realm_client.prediction import DeltaView

from gameserver.region.content import RegionContent
from gameserver.region.movement import MoverState, MoveRules
from gameserver.region.replication_kernels import fill_budget
from gameserver.region.shard import SnapshotConfig
from gameserver.region.snapshots import History
from gameserver.region.tick import PlayerLink, Shard, queue_command, step
from gameserver.region.world import KIND_NPC, KIND_PLAYER
from gameserver.wire.datagram import OVERHEAD
from gameserver.wire.messages import Snapshot, SnapshotAck, decode
from gameserver.wire.structs import POS_QUANTUM
from gameserver.world.map import DEFAULT_MAP

REGION = DEFAULT_MAP.region("elwynn")


def _world(
    seed: int, cfg: SnapshotConfig, n_npc: int = 60
) -> tuple[Shard, PlayerLink, np.random.Generator]:
    shard = Shard(
        region=REGION, rules=MoveRules(), seed=seed, content=RegionContent(), snapshots=cfg
    )
    eid = shard.world.spawn(KIND_PLAYER, 500, 500)
    link = PlayerLink(1, 77, eid, MoverState(0))
    shard.players[eid] = link
    rng = np.random.default_rng(seed)
    for _ in range(n_npc):
        shard.world.spawn(KIND_NPC, *rng.uniform(380, 620, 2))
    return shard, link, rng


def _wiggle(shard: Shard, rng: np.random.Generator) -> None:
    """Move, turn, hurt, spawn and remove entities at random (not the player)."""
    w = shard.world
    npcs = np.flatnonzero(w.active & (w.kind == KIND_NPC))
    moving = npcs[rng.random(len(npcs)) < 0.5]
    w.x[moving] += rng.normal(0, 0.6, len(moving)).astype(np.float32)
    w.y[moving] += rng.normal(0, 0.6, len(moving)).astype(np.float32)
    w.facing[moving] = rng.uniform(-3, 3, len(moving)).astype(np.float32)
    hurt = npcs[rng.random(len(npcs)) < 0.05]
    w.health_pct[hurt] = rng.integers(1, 100, len(hurt))
    if rng.random() < 0.2 and len(npcs):
        w.despawn(int(w.eid[rng.choice(npcs)]))
    if rng.random() < 0.2:
        w.spawn(KIND_NPC, *rng.uniform(380, 620, 2))
    if rng.random() < 0.05:  # a far jump (delta out of range: full state)
        w.x[npcs[0]] = rng.uniform(420, 580)


@pytest.mark.parametrize("loss", [0.0, 0.3])
def test_client_rebuilds_the_servers_view_exactly_under_loss(loss: float) -> None:
    shard, link, rng = _world(3, SnapshotConfig(budget_bytes=1200, max_view=200, every=1), n_npc=60)
    view = DeltaView()
    lose = random.Random(9)
    acked = 0
    for t in range(1, 300):
        _wiggle(shard, rng)
        if acked:
            queue_command(link, SnapshotAck(tick=acked))
        (payload,) = [p for c, p in step(shard, t * 50).snapshots if c == link.conn_id]
        if lose.random() < loss:
            continue
        snap = decode(payload).msg
        assert isinstance(snap, Snapshot)
        got = view.apply(snap.tick, snap.baseline_tick, snap.entities, snap.removed, snap.deltas)
        assert got is not None
        hist = shard.history
        assert isinstance(hist, History)
        frame = hist.get(snap.tick)
        assert frame is not None
        assert got.tobytes() == frame.states.tobytes()  # bit for bit
        # With an ample budget the view is the full area of interest, to within a quantum.
        w = shard.world
        me = w.slot(link.eid)
        near = shard.grid.query(float(w.x[me]), float(w.y[me]), REGION.aoi_radius)
        near = near[near != me]
        assert set(got["id"].tolist()) == set(w.eid[near].tolist())
        truth = {int(w.eid[s]): (float(w.x[s]), float(w.y[s])) for s in near.tolist()}
        for e in got:
            tx, ty = truth[int(e["id"])]
            assert abs(float(e["x"]) - tx) <= POS_QUANTUM and abs(float(e["y"]) - ty) <= POS_QUANTUM
        acked = snap.tick


def test_entities_entering_and_leaving_are_announced() -> None:
    shard, link, _ = _world(1, SnapshotConfig(every=1), n_npc=0)
    w = shard.world
    far = w.spawn(KIND_NPC, 500, 700)  # 200 m: outside
    s1 = decode(step(shard, 50).snapshots[0][1]).msg
    assert isinstance(s1, Snapshot) and len(s1.entities) == 0
    w.y[w.slot(far)] = 520  # comes near
    queue_command(link, SnapshotAck(tick=1))
    s2 = decode(step(shard, 100).snapshots[0][1]).msg
    assert isinstance(s2, Snapshot) and s2.baseline_tick == 1
    assert [int(e["id"]) for e in s2.entities] == [far]
    queue_command(link, SnapshotAck(tick=2))
    w.despawn(far)
    s3 = decode(step(shard, 150).snapshots[0][1]).msg
    assert isinstance(s3, Snapshot) and s3.removed.tolist() == [far]


def test_budget_holds_and_near_entities_are_refreshed_more_often() -> None:
    cfg = SnapshotConfig(budget_bytes=200, every=1)
    shard, link, _rng = _world(5, cfg, n_npc=0)
    w = shard.world
    near = [w.spawn(KIND_NPC, 500 + d, 500 + d % 3) for d in range(3, 13)]
    far = [w.spawn(KIND_NPC, 500 + d, 500 + d % 3) for d in range(70, 80)]
    refreshed: dict[int, int] = {e: 0 for e in near + far}
    view = DeltaView()
    acked = 0
    for t in range(1, 201):
        for e in near + far:
            w.x[w.slot(e)] += np.float32(0.3 if t % 2 else -0.3)  # everyone keeps moving
        if acked:
            queue_command(link, SnapshotAck(tick=acked))
        (payload,) = [p for _, p in step(shard, t * 50).snapshots]
        assert len(payload) + OVERHEAD <= cfg.budget_bytes
        snap = decode(payload).msg
        assert isinstance(snap, Snapshot)
        for e in snap.deltas["id"].tolist() + snap.entities["id"].tolist():
            refreshed[e] += 1
        view.apply(snap.tick, snap.baseline_tick, snap.entities, snap.removed, snap.deltas)
        acked = snap.tick
    assert min(refreshed[e] for e in near) > 2 * max(refreshed[e] for e in far)
    assert min(refreshed[e] for e in far) > 0  # the rest still come, at a lower rate


def test_unknown_baseline_falls_back_to_a_full_snapshot() -> None:
    shard, link, _ = _world(2, SnapshotConfig(history=4, every=1), n_npc=5)
    step(shard, 50)
    for t in range(2, 12):
        step(shard, t * 50)
    queue_command(link, SnapshotAck(tick=1))  # long gone from the history
    snap = decode(step(shard, 600).snapshots[0][1]).msg
    assert isinstance(snap, Snapshot) and snap.baseline_tick == 0 and len(snap.entities) > 0


@pytest.mark.parametrize("per_client", [40, 1500])
def test_budget_fill_takes_each_clients_best_items_that_fit(per_client: int) -> None:
    """The budget fill equals the plain rule: per client, items by priority (highest
    first, ties in item order), taken while the running cost fits (exact priorities for
    wide rows too)."""
    rng = np.random.default_rng(per_client)
    n = 30
    player = rng.integers(0, n, n * per_client).astype(np.intp)
    cost = rng.choice(np.array([4, 12, 20]), len(player)).astype(np.int64)
    prio = np.round(rng.exponential(3.0, len(player)), 1)  # many exact ties
    prio[rng.random(len(player)) < 0.05] = np.inf
    left = rng.integers(0, 120, n).astype(np.int64)
    got = np.zeros(len(player), dtype=bool)
    exact = per_client > 1 << 10  # wider than the truncated key's item bits
    for p in range(n):
        mine = np.flatnonzero(player == p)
        k = len(mine)
        take = np.zeros(k, dtype=bool)
        scratch = np.zeros(k, np.int64), np.zeros(k, np.intp)
        fill_budget(cost[mine], -prio[mine], k, int(left[p]), exact, *scratch, take)
        got[mine] = take
    want = np.zeros(len(player), dtype=bool)
    order = np.lexsort((-prio, player))
    spent = np.zeros(n, dtype=np.int64)
    stopped = np.zeros(n, dtype=bool)
    for i in order.tolist():
        p = player[i]
        if not stopped[p] and spent[p] + cost[i] <= left[p]:
            spent[p] += cost[i]
            want[i] = True
        else:
            stopped[p] = True
    assert np.array_equal(got, want)


def test_every_other_tick_doubles_the_budget_and_keeps_the_view_exact() -> None:
    """`every=2`: a client gets a snapshot on every other tick, each within twice the
    per-tick budget, and still rebuilds the server's view bit for bit."""
    cfg = SnapshotConfig(budget_bytes=200, every=2)
    shard, link, rng = _world(4, cfg, n_npc=60)
    view = DeltaView()
    acked = 0
    got = 0
    for t in range(1, 121):
        _wiggle(shard, rng)
        if acked:
            queue_command(link, SnapshotAck(tick=acked))
        mine = [p for c, p in step(shard, t * 50).snapshots if c == link.conn_id]
        assert len(mine) == (1 if (link.eid + shard.tick) % 2 == 0 else 0)
        for payload in mine:
            got += 1
            assert len(payload) + OVERHEAD <= 2 * cfg.budget_bytes
            snap = decode(payload).msg
            assert isinstance(snap, Snapshot)
            rebuilt = view.apply(
                snap.tick, snap.baseline_tick, snap.entities, snap.removed, snap.deltas
            )
            assert rebuilt is not None
            hist = shard.history
            assert isinstance(hist, History)
            frame = hist.get(snap.tick)
            assert frame is not None and rebuilt.tobytes() == frame.states.tobytes()
            acked = snap.tick
    assert got == 60


def test_history_keeps_only_frames_a_client_can_still_use() -> None:
    """Frames whose clients have all acknowledged a later tick go; a client that has not
    acknowledged (or acknowledged exactly that tick) keeps a frame; `keep` still caps."""
    shard, link, _ = _world(6, SnapshotConfig(history=10, every=1), n_npc=5)
    other = shard.world.spawn(KIND_PLAYER, 510, 500)
    late = PlayerLink(2, 78, other, MoverState(0))
    shard.players[other] = late
    for t in range(1, 7):
        if t > 2:
            queue_command(link, SnapshotAck(tick=t - 1))
        step(shard, t * 50)
    hist = shard.history
    assert isinstance(hist, History)
    assert list(hist.frames) == [1, 2, 3, 4, 5, 6]  # `late` never acked: it may ack any
    queue_command(late, SnapshotAck(tick=4))
    step(shard, 7 * 50)
    # link acked 5 (so it needs 5..), late acked 4 (needs 4..): 1-3 are useless now.
    assert list(hist.frames) == [4, 5, 6, 7]
    del shard.players[other]  # gone: it never acks again
    queue_command(link, SnapshotAck(tick=7))
    step(shard, 8 * 50)
    assert list(hist.frames) == [7, 8]
