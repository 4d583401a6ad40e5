"""The compiled replication kernels (gameserver/region/replication_kernels.py) against
plain numpy references: the numpy implementations they replaced, kept here only.

The kernels must reproduce them bit for bit (snapshots byte-identical): AoI pairs with the
nearest-N cap on random and edge-case worlds, `replicate` (matching, deltas, budget fill,
next view) on inputs recorded from a live world and on a synthetic wide view, and a whole
world stepped once with the kernels and once with the references, snapshot bytes compared
every tick."""

from __future__ import annotations

import math
import random
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from gameserver.region import replication_kernels as rk
from gameserver.region import snapshots
from gameserver.region.aoi import _COL_MAX, _COL_OFFSET, _R_ABS, _R_REL, Grid
from gameserver.region.content import TEMPLATES, RegionContent, SpawnPoint
from gameserver.region.movement import MoverState, MoveRules
from gameserver.region.shard import SnapshotConfig
from gameserver.region.tick import PlayerLink, Shard, queue_command, queue_inputs, step
from gameserver.region.world import KIND_PLAYER
from gameserver.wire.messages import Respawn, SnapshotAck
from gameserver.wire.structs import (
    FLAG_DEAD,
    FLAG_IN_COMBAT,
    INPUT_FRAME_DTYPE,
    POS_QUANTUM,
    dequantise_facing,
    dequantise_position,
    quantise_facing,
)
from gameserver.world.map import DEFAULT_MAP

A = npt.NDArray[Any]

# --------------------------------------------------------------------------- AoI reference


def _ref_pairs(
    g: Grid,
    qx: A,
    qy: A,
    radius: float | A,
    max_per_query: int | None = None,
    ordered: bool = True,
) -> tuple[A, A, A]:
    """The numpy Grid.pairs: runs per column by searchsorted, float32 distance filter,
    nearest-N by a stable sort of (query, distance bits)."""
    n = len(qx)
    empty = (np.zeros(0, np.intp), np.zeros(0, np.intp), np.zeros(0, np.float32))
    if n == 0 or len(g._keys) == 0:
        return empty
    qx64, qy64 = np.asarray(qx, np.float64), np.asarray(qy, np.float64)
    r = np.broadcast_to(np.asarray(radius, dtype=np.float64), (n,))
    reff = r * (1.0 + _R_REL) + _R_ABS
    c_lo = np.floor((qx64 - reff) / g._width)
    c_hi = np.floor((qx64 + reff) / g._width)
    k = int((c_hi - c_lo).max()) + 1
    cols = c_lo[:, None] + np.arange(k, dtype=np.float64)[None, :]
    edge_lo = cols * g._width
    q = qx64[:, None]
    gap = np.maximum(np.maximum(edge_lo - q, q - (edge_lo + g._width)), 0.0)
    h2 = (reff * reff)[:, None] - gap * gap
    valid = (cols <= c_hi[:, None]) & (h2 >= 0)
    h = np.sqrt(np.maximum(h2, 0.0))
    ck = np.clip(cols + _COL_OFFSET, 0, _COL_MAX).astype(np.int64) << 32
    lo = np.searchsorted(g._keys, (ck | g._yk(qy64[:, None] - h)).ravel(), side="left")
    hi = np.searchsorted(g._keys, (ck | g._yk(qy64[:, None] + h)).ravel(), side="right")
    cnt = np.where(valid.ravel(), hi - lo, 0)
    total = int(cnt.sum())
    qi = np.repeat(np.arange(n, dtype=np.intp), cnt.reshape(n, k).sum(axis=1))
    idx = np.repeat(lo - (np.cumsum(cnt) - cnt), cnt) + np.arange(total, dtype=np.intp)
    if len(qi) == 0:
        return empty
    ddx = g._x[idx] - np.asarray(qx, np.float32)[qi]
    ddy = g._y[idx] - np.asarray(qy, np.float32)[qi]
    d2 = ddx * ddx + ddy * ddy
    r32 = np.asarray(radius, dtype=np.float32)
    r2 = r32 * r32 if r32.ndim == 0 else (r32 * r32)[qi]
    near = np.flatnonzero(d2 <= r2)
    qi, idx, d2 = qi[near], idx[near], d2[near]
    if len(qi) and (ordered or max_per_query is not None):
        key = (qi.astype(np.int64) << 32) | d2.view(np.int32).astype(np.int64)
        if ordered:
            o = np.argsort(key, kind="stable")
            qi, idx, d2 = qi[o], idx[o], d2[o]
            if max_per_query is not None:
                counts = np.bincount(qi, minlength=n)
                start = np.cumsum(counts) - counts
                keep = np.flatnonzero((np.arange(len(qi)) - start[qi]) < max_per_query)
                qi, idx, d2 = qi[keep], idx[keep], d2[keep]
        else:
            counts = np.bincount(qi, minlength=n)
            over_q = counts > max_per_query
            over = over_q[qi]
            oi = np.flatnonzero(over)
            o = oi[np.argsort(key[oi], kind="stable")]
            oc = counts[over_q]
            rank = np.arange(len(o)) - np.repeat(np.cumsum(oc) - oc, oc)
            keep_mask = ~over
            keep_mask[o[rank < max_per_query]] = True
            kk = np.flatnonzero(keep_mask)
            qi, idx, d2 = qi[kk], idx[kk], d2[kk]
    return qi, g._slots[idx], d2


def _same(got: tuple[A, ...], want: tuple[A, ...]) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g.dtype == w.dtype and g.shape == w.shape
        assert np.array_equal(g.view(np.uint8), w.view(np.uint8))  # bits, not values


@pytest.mark.parametrize("ordered", [True, False])
@pytest.mark.parametrize("cap", [None, 0, 1, 5, 65])
def test_aoi_pairs_match_the_numpy_reference(ordered: bool, cap: int | None) -> None:
    rng = np.random.default_rng(11)
    # A crowd (views over the cap), a lattice on the column edges (equal distances: ties),
    # and points outside the region.
    lat = np.arange(-50.0, 350.0, 6.25, dtype=np.float32)
    lx, ly = np.meshgrid(lat, lat)
    x = np.concatenate([lx.ravel(), rng.uniform(-80, 380, 3000).astype(np.float32)])
    y = np.concatenate([ly.ravel(), rng.uniform(-80, 380, 3000).astype(np.float32)])
    g = Grid(100.0)
    slots = rng.permutation(len(x) + 50)[: len(x)]
    xs = np.zeros(len(x) + 50, np.float32)
    ys = np.zeros(len(x) + 50, np.float32)
    xs[slots], ys[slots] = x, y
    g.build(slots.astype(np.intp), xs, ys)
    q = rng.choice(len(x), 300, replace=False)
    for radius in (100.0, 37.5, rng.uniform(0, 120, len(q)).astype(np.float32)):
        got = g.pairs(x[q], y[q], radius, max_per_query=cap, ordered=ordered)
        want = _ref_pairs(g, x[q], y[q], radius, max_per_query=cap, ordered=ordered)
        _same(got, want)
    # float64 queries (rounded to float32 for the distances, like the reference)
    qx = rng.uniform(0, 300, 50)
    qy = rng.uniform(0, 300, 50)
    _same(g.pairs(qx, qy, 60.0, cap, ordered), _ref_pairs(g, qx, qy, 60.0, cap, ordered))


# --------------------------------------------------------------------------- replicate reference


def _ref_fill_budgets(player: A, cost: A, prio: A, left: A, n: int) -> A:
    """The numpy fill: one padded row per client, sorted by value (priority bits with the
    low 10 replaced by the item's column), or by exact priority for rows over 1,024."""
    m = len(player)
    if m == 0:
        return np.zeros(0, dtype=bool)
    g = np.argsort(player.astype(np.int64), kind="stable")
    cnt = np.bincount(player, minlength=n)
    gp = player[g]
    col = np.arange(m) - (np.cumsum(cnt) - cnt)[gp]
    width = int(cnt.max())
    c = np.zeros((n, width), dtype=np.int64)
    c[gp, col] = cost[g]
    if width <= 1 << 10:
        low = np.uint64((1 << 10) - 1)
        v = -prio[g]
        b = v.view(np.uint64)
        bits = np.where(v >= 0, b | np.uint64(1 << 63), ~b)
        key = np.empty((n, width), dtype=np.uint64)
        key[:] = ~low | np.arange(width, dtype=np.uint64)
        key[gp, col] = (bits & ~low) | col.astype(np.uint64)
        key.sort(axis=1)
        o = (key & low).astype(np.intp)
    else:
        fkey = np.full((n, width), np.inf)
        fkey[gp, col] = -prio[g]
        o = np.argsort(fkey, axis=1, kind="stable")
    fits = np.cumsum(np.take_along_axis(c, o, axis=1), axis=1) <= left[:, None]
    ok = np.zeros((n, width), dtype=bool)
    np.put_along_axis(ok, o, fits, axis=1)
    take = np.zeros(m, dtype=bool)
    take[g] = ok[gp, col]
    return take


def _f32(words: A) -> A:
    return words.view(np.float32)


def _offsets(groups: A, n: int) -> A:
    out: A = np.searchsorted(groups, np.arange(n + 1)).astype(np.int64)
    return out


def _ref_replicate(
    tick: int,
    cand_off: A,
    es: A,
    d2: A,
    self_slot: A,
    target: A,
    pe: A,
    words: A,
    b_off: A,
    b_key: A,
    b_state: A,
    b_upd: A,
    w_off: A,
    wk: A,
    wt: A,
    left: A,
) -> tuple[A, ...]:
    """The numpy snapshot pipeline (match, items, fill, next view, packet vectors) over
    all (client, entity) pairs at once, with replicate's arguments and results."""
    n = len(pe)
    qi = np.repeat(np.arange(n, dtype=np.intp), np.diff(cand_off))
    notself = np.flatnonzero(es != self_slot[qi])
    qi, es, d2 = qi[notself], es[notself], d2[notself]
    cw = np.take(words, es, axis=0)
    c_misc = cw[:, 1]
    c_key = (pe[qi] << 32) | cw[:, 0].astype(np.int64)
    dist = np.sqrt(d2.astype(np.float64))
    importance = np.where((c_misc & 0xFF) == 0, 1.5, 1.0)
    importance = importance * np.where((c_misc >> 8) & FLAG_IN_COMBAT, 2.0, 1.0)
    importance = importance * np.where(target[qi] == es, 4.0, 1.0)
    weight = importance / (1.0 + dist / 10.0)
    b_player = np.repeat(np.arange(n, dtype=np.intp), np.diff(b_off))

    if len(b_key):
        pos = np.searchsorted(b_key, c_key)
        pos_c = np.minimum(pos, len(b_key) - 1)
        found = (pos < len(b_key)) & (b_key[pos_c] == c_key)
    else:
        pos_c = np.zeros(len(c_key), np.intp)
        found = np.zeros(len(c_key), bool)
    matched = np.zeros(len(b_key), dtype=bool)
    matched[pos_c[found]] = True
    f_idx = np.flatnonzero(found)
    bs = np.take(b_state, pos_c[f_idx], axis=0)
    cs = np.take(cw, f_idx, axis=0)
    qdx = np.round((_f32(cs[:, 2]).astype(np.float64) - _f32(bs[:, 2])) / POS_QUANTUM)
    qdy = np.round((_f32(cs[:, 3]).astype(np.float64) - _f32(bs[:, 3])) / POS_QUANTUM)
    fits = (np.abs(qdx) <= 32767) & (np.abs(qdy) <= 32767)
    changed = (
        (qdx != 0)
        | (qdy != 0)
        | (quantise_facing(_f32(cs[:, 4])) != quantise_facing(_f32(bs[:, 4])))
        | (((cs[:, 1] ^ bs[:, 1]) & 0xFFFFFF00) != 0)
    )
    enter_idx = np.flatnonzero(~found)
    upd_idx = f_idx[changed]
    upd_fits = fits[changed]
    leave_idx = np.flatnonzero(~matched)
    stale = (tick - b_upd[pos_c[upd_idx]].astype(np.float64)) + 1.0
    waiting = dict(zip(wk.tolist(), wt.tolist(), strict=True))
    since = np.array([waiting.get(k, tick) for k in c_key[enter_idx].tolist()], np.int64)
    enter_stale = rk.ENTER_STALENESS + (tick - since).astype(np.float64)
    item_player = np.concatenate([qi[enter_idx], qi[upd_idx], b_player[leave_idx]])
    item_cost = np.concatenate(
        [
            np.full(len(enter_idx), 20),
            np.where(upd_fits, 12, 20),
            np.full(len(leave_idx), 4),
        ]
    )
    item_prio = np.concatenate(
        [
            weight[enter_idx] * enter_stale,
            weight[upd_idx] * stale,
            np.full(len(leave_idx), np.inf),
        ]
    )
    n_enter, n_upd = len(enter_idx), len(upd_idx)
    take = _ref_fill_budgets(item_player, item_cost, item_prio, left, n)
    t_enter = take[:n_enter]
    t_upd = take[n_enter : n_enter + n_upd]
    t_leave = take[n_enter + n_upd :]

    sent_enter = enter_idx[t_enter]
    sent_upd = upd_idx[t_upd]
    sent_fits = upd_fits[t_upd]
    spos = pos_c[sent_upd]
    recon = np.take(b_state, spos, axis=0)
    cur = cw[sent_upd]
    qx = np.round((_f32(cur[:, 2]).astype(np.float64) - _f32(recon[:, 2])) / POS_QUANTUM)
    qy = np.round((_f32(cur[:, 3]).astype(np.float64) - _f32(recon[:, 3])) / POS_QUANTUM)
    qx, qy = qx.astype(np.int16), qy.astype(np.int16)
    qfac = quantise_facing(_f32(cur[:, 4]))
    rx = dequantise_position(_f32(recon[:, 2]), qx)
    ry = dequantise_position(_f32(recon[:, 3]), qy)
    rf = dequantise_facing(qfac)
    recon[:, 2] = np.where(sent_fits, rx, _f32(cur[:, 2])).view(np.uint32)
    recon[:, 3] = np.where(sent_fits, ry, _f32(cur[:, 3])).view(np.uint32)
    recon[:, 4] = np.where(sent_fits, rf, _f32(cur[:, 4])).view(np.uint32)
    recon[:, 1] = (recon[:, 1] & 0xFF) | (cur[:, 1] & 0xFFFFFF00)
    nb, nu = len(b_key), len(spos)
    src_of = np.arange(nb)
    src_of[spos] = nb + np.arange(nu)
    keep_base = np.ones(nb, dtype=bool)
    keep_base[leave_idx[t_leave]] = False
    kept = np.flatnonzero(keep_base)
    ek = c_key[sent_enter]
    eo = np.argsort(ek, kind="stable")
    ek = ek[eo]
    kept_keys = b_key[kept]
    at = np.searchsorted(kept_keys, ek) + np.arange(len(ek))
    total = len(kept_keys) + len(ek)
    new_row = np.zeros(total, dtype=bool)
    new_row[at] = True
    old_row = np.flatnonzero(~new_row)
    new_keys = np.empty(total, np.int64)
    new_keys[at] = ek
    new_keys[old_row] = kept_keys
    src = np.empty(total, np.intp)
    src[at] = nb + nu + np.arange(len(ek))
    src[old_row] = src_of[kept]
    rows = np.concatenate([b_state, recon, cw[sent_enter[eo]]]).reshape(-1, 5)
    new_states = np.take(rows, src, axis=0)
    new_upd = np.full(total, tick, np.uint32)
    from_base = src < nb
    new_upd[from_base] = b_upd[src[from_base]]
    unsent = ~t_enter  # waiting: grouped by client, in candidate order
    wait_k, wait_t = c_key[enter_idx[unsent]], since[unsent].astype(np.uint32)

    full_src = np.concatenate([sent_enter, sent_upd[~sent_fits]])
    full_p = qi[full_src]
    o = np.argsort(full_p, kind="stable")
    full_states, full_off = cw[full_src[o]].reshape(-1, 5), _offsets(full_p[o], n)
    dsrc = sent_upd[sent_fits]
    dm = c_misc[dsrc]
    deltas = np.empty((len(dsrc), 3), dtype=np.uint32)
    deltas[:, 0] = cw[dsrc, 0]
    deltas[:, 1] = qx[sent_fits].view(np.uint16).astype(np.uint32) | (
        qy[sent_fits].view(np.uint16).astype(np.uint32) << 16
    )
    deltas[:, 2] = (
        qfac[sent_fits].astype(np.uint32)
        | (((dm >> 16) & 0xFF) << 8)
        | (((dm >> 8) & 0xFF) << 16)
        | (dm & 0xFF000000)
    )
    lv = leave_idx[t_leave]
    removed = (b_key[lv] & 0xFFFFFFFF).astype(np.uint32)
    return (
        new_keys,
        new_states.astype(np.uint32),
        new_upd,
        wait_k,
        wait_t,
        full_states.astype(np.uint32),
        full_off,
        deltas,
        _offsets(qi[dsrc], n),
        removed,
        _offsets(b_player[lv], n),
    )


def _ref_gather_runs(
    src_keys: A,
    src_u: A,
    src_rows: A,
    lo: A,
    cnt: A,
    at: A,
    dst_keys: A,
    dst_u: A,
    dst_rows: A,
    with_rows: bool,
) -> None:
    for a, c, b in zip(lo.tolist(), cnt.tolist(), at.tolist(), strict=True):
        dst_keys[b : b + c] = src_keys[a : a + c]
        dst_u[b : b + c] = src_u[a : a + c]
        if with_rows:
            dst_rows[b : b + c] = src_rows[a : a + c]


# --------------------------------------------------------------------------- worlds


def _crowd(every: int, seed: int = 5, players: int = 60, npcs: int = 200) -> Any:
    """A shard with a crowd in 250 m x 250 m (views over the cap) and a driver for one
    tick: moving players, acks one to three ticks late, ~5% of snapshots lost."""
    region = DEFAULT_MAP.region("elwynn")
    rng = random.Random(seed)
    lo, hi = 400.0, 650.0
    spawns = tuple(
        SpawnPoint("wolf", rng.uniform(lo, hi), rng.uniform(lo, hi)) for _ in range(npcs)
    )
    shard = Shard(
        region=region,
        rules=MoveRules(max_speed=region.max_speed),
        seed=seed,
        content=RegionContent(templates=dict(TEMPLATES), spawns=spawns),
        snapshots=SnapshotConfig(budget_bytes=200, max_view=64, history=10, every=every),
    )
    step(shard, 0)
    links = []
    for i in range(players):
        eid = shard.world.spawn(KIND_PLAYER, rng.uniform(lo, hi), rng.uniform(lo, hi))
        links.append(PlayerLink(i + 1, i + 1, eid, MoverState(joined_at_ms=0)))
        shard.players[eid] = links[-1]
    heading = [rng.uniform(0, 2 * math.pi) for _ in links]
    received: dict[int, list[int]] = {}

    def tick(t: int) -> list[tuple[int, bytes]]:
        for i, link in enumerate(links):
            if shard.world.flags[shard.world.slot(link.eid)] & FLAG_DEAD:
                if t % 20 == 0:
                    queue_command(link, Respawn())
                continue
            if rng.random() < 0.05:
                heading[i] = rng.uniform(0, 2 * math.pi)
            f = np.zeros(1, INPUT_FRAME_DTYPE)
            f[0] = (t, 50, 0, 0.35 * math.cos(heading[i]), 0.35 * math.sin(heading[i]), 0.0)
            queue_inputs(link, f)
            got = received.get(link.conn_id)
            if got:
                late = 1 + (link.conn_id + t) % 3
                while len(got) > 1 and got[1] <= shard.tick - late:
                    got.pop(0)
                if got[0] <= shard.tick - late:
                    queue_command(link, SnapshotAck(tick=got[0]))
        out = step(shard, t * 50).snapshots
        for conn, _ in out:
            if rng.random() >= 0.05:
                received.setdefault(conn, []).append(shard.tick)
        return sorted(out)

    return shard, tick


@pytest.mark.parametrize("every", [1, 2])
def test_replicate_matches_the_numpy_reference_on_a_live_world(
    every: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = 0

    def checked(*args: Any) -> tuple[A, ...]:
        nonlocal calls
        calls += 1
        got = rk.replicate(*args)
        _same(got, _ref_replicate(*args))
        return got

    monkeypatch.setattr(snapshots, "replicate", checked)
    _, tick = _crowd(every)
    for t in range(1, 61):
        tick(t)
    assert calls == 60


def test_replicate_matches_the_reference_on_a_view_wider_than_the_sort_key() -> None:
    """A client with over 1,024 items (a huge stale view leaving) compares exact
    priorities; everyone else is as usual."""
    rng = np.random.default_rng(3)
    n, ents = 3, 1500
    words = np.zeros((ents, 5), np.uint32)
    words[:, 0] = np.arange(1, ents + 1)
    words[:, 1] = rng.integers(0, 2, ents) | (rng.integers(0, 4, ents) << 8)
    xy = rng.uniform(0, 100, (ents, 2)).astype(np.float32)
    words[:, 2], words[:, 3] = xy[:, 0].view(np.uint32), xy[:, 1].view(np.uint32)
    words[:, 4] = rng.uniform(-3, 3, ents).astype(np.float32).view(np.uint32)
    pe = np.array([1, 2, 3], np.int64)
    self_slot = np.array([0, 1, 2], np.intp)
    es = np.concatenate([rng.choice(ents, 64, replace=False) for _ in range(n)]).astype(np.intp)
    cand_off = np.array([0, 64, 128, 192], np.intp)
    d2 = rng.uniform(0, 1e4, len(es)).astype(np.float32)
    # client 0 holds 1,100 entities (most leave), the others a few of their candidates
    base = [np.arange(100, 1200), es[64:80], es[128:150]]
    b_key = np.concatenate(
        [(pe[i] << 32) | np.sort(words[b, 0]).astype(np.int64) for i, b in enumerate(base)]
    )
    b_off = np.array([0, *np.cumsum([len(b) for b in base])], np.intp)
    b_state = np.take(words, (b_key & 0xFFFFFFFF) - 1, axis=0)
    b_state[:, 2] = (_f32(b_state[:, 2]) + rng.normal(0, 2, len(b_key)).astype(np.float32)).view(
        np.uint32
    )
    b_upd = rng.integers(80, 100, len(b_key)).astype(np.uint32)
    wk = np.zeros(0, np.int64)
    left = np.array([5000, 150, 300], np.int64)
    args = (100, cand_off, es, d2, self_slot, np.full(n, -1, np.int32), pe, words)
    args += (b_off, b_key, b_state, b_upd, np.zeros(n + 1, np.intp), wk, wk.astype(np.uint32))
    _same(rk.replicate(*args, left), _ref_replicate(*args, left))


@pytest.mark.parametrize("every", [1, 2])
def test_a_world_replicates_byte_for_byte_like_the_numpy_references(
    every: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two identical worlds, one stepped with the kernels, one with the numpy references
    for every kernel (AoI, baseline gather, replicate): the same snapshot bytes and world
    state every tick."""
    shard_k, tick_k = _crowd(every, seed=8)
    shard_r, tick_r = _crowd(every, seed=8)
    for t in range(1, 61):
        got = tick_k(t)
        with monkeypatch.context() as m:
            m.setattr(Grid, "pairs", _ref_pairs)
            m.setattr(snapshots, "gather_runs", _ref_gather_runs)
            m.setattr(snapshots, "replicate", _ref_replicate)
            want = tick_r(t)
        assert got == want, f"tick {t}"
        assert shard_k.world.fingerprint() == shard_r.world.fingerprint()


def test_warm_compiles_each_kernel_for_the_types_the_tick_uses() -> None:
    """After warm() a real tick compiles nothing new: one signature per kernel."""
    rk.warm()
    _, tick = _crowd(1, players=20, npcs=40)
    for t in range(1, 6):
        tick(t)
    for kernel in (rk.aoi_pairs, rk.gather_runs, rk.replicate):
        assert len(kernel.signatures) == 1, kernel  # type: ignore[attr-defined]
