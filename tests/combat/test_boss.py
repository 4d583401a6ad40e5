"""Hogger: phases by health, a knockback the server enforces and the client accepts, and
anti-cheat that does not flag it."""

from __future__ import annotations

import math

from realm_client.prediction import Predictor

from gameserver.region.content import HOGGER
from gameserver.region.encounters.hogger import Hogger
from gameserver.wire.messages import decode
from gameserver.wire.structs import EV_KNOCKBACK, EV_PHASE, FLAG_KNOCKBACK, FLAG_STUNNED

from .support import Sim


def _engage(sim: Sim):  # type: ignore[no-untyped-def]
    boss = sim.npc(HOGGER, 300, 300)
    p = sim.player(297, 300, facing=0.0)
    w = sim.shard.world
    from gameserver.region.combat import engage

    engage(sim.shard, boss, sim.slot(p), sim.now)
    sim.tick()
    return boss, p, w


def test_phases_change_by_health() -> None:
    sim = Sim()
    boss, p, w = _engage(sim)
    script = sim.shard.scripts[boss]
    assert isinstance(script, Hogger) and script.phase == 1
    w.hp[boss] = int(w.max_hp[boss] * 0.61)
    sim.tick()
    assert script.phase == 1
    w.hp[boss] = int(w.max_hp[boss] * 0.59)
    sim.tick()
    assert script.phase == 2
    assert [e for e in p.events if e[1] == EV_PHASE and e[6] == 2]
    w.hp[boss] = int(w.max_hp[boss] * 0.2)
    sim.tick()
    assert script.phase == 3 and w.swing_ms[boss] == 1000
    assert [e for e in p.events if e[1] == EV_PHASE and e[6] == 3]


def test_knockback_moves_the_player_is_flagged_accepted_and_not_flagged_as_cheating() -> None:
    sim = Sim()
    boss, p, w = _engage(sim)
    ps = sim.slot(p)
    pred = Predictor(*sim.pos(ps), 0.0, max_speed=7.0)
    start = sim.pos(ps)
    w.hp[boss] = int(w.max_hp[boss] * 0.59)  # phase 2 opens with a Shockwave
    flagged = 0
    min_x = start[0]
    for _ in range(20):
        # The client keeps walking towards the boss the whole time (as a player would).
        pred.move(1.0, 0.0, 0.05)
        p.pending.append(pred.frames())
        res = sim.tick()
        min_x = min(min_x, sim.pos(ps)[0])
        mine = [pl for c, pl in res.snapshots if c == p.conn_id]
        if not mine:
            continue  # not this client's tick: it gets a snapshot every `every` ticks
        (payload,) = mine
        snap = decode(payload).msg
        you = snap.you  # type: ignore[union-attr]
        kb = bool(int(you["flags"]) & FLAG_KNOCKBACK)
        flagged += kb
        if kb:
            assert snap.corrected  # type: ignore[union-attr]
        pred.reconcile(snap.last_input_seq, float(you["x"]), float(you["y"]), snap.corrected, kb)  # type: ignore[union-attr]
    assert [e for e in p.events if e[1] == EV_KNOCKBACK]
    assert flagged >= 8 // sim.shard.snapshots.every  # every snapshot of 0.4 s of knockback
    end = sim.pos(ps)
    assert min_x < start[0] - 11.0  # thrown 12 m west, away from the boss ...
    assert end[0] > min_x + 2.0  # ... then walked back towards it
    assert pred.knockbacks == 1
    assert abs(pred.x - end[0]) < 1.0  # the prediction follows the server
    assert sim.detections() == []  # no anti-cheat detection from the knockback


def test_phase_three_stomp_stuns_and_entangle_roots() -> None:
    sim = Sim()
    boss, p, w = _engage(sim)
    ps = sim.slot(p)
    w.hp[boss] = int(w.max_hp[boss] * 0.2)
    sim.tick()
    assert w.stun_until[ps] > sim.now and w.root_until[ps] > sim.now
    sim.tick(10)  # the knockback is over; still stunned
    assert w.flags[ps] & FLAG_STUNNED
    before = sim.pos(ps)
    sim.move(p, 0.3, 0.0)
    sim.tick()
    assert sim.pos(ps) == before
    assert [k for _, k in sim.detections()] == ["moving_while_stunned"]


def test_phase_resets_when_the_boss_leashes() -> None:
    sim = Sim()
    boss, p, w = _engage(sim)
    script = sim.shard.scripts[boss]
    w.hp[boss] = int(w.max_hp[boss] * 0.5)
    sim.tick()
    assert script.phase == 2
    sim.shard.world.x[sim.slot(p)] = 900
    w.x[boss] = 370  # dragged beyond its 60 m leash
    sim.tick(200)
    assert script.phase == 1 and w.hp[boss] == w.max_hp[boss]
    assert math.dist(sim.pos(boss), (300, 300)) < 1
