"""Every transition of the NPC state machine, the leash reset and threat target choice."""

from __future__ import annotations

import math

import numpy as np

from gameserver.region.content import NpcTemplate
from gameserver.region.threat import ThreatTables
from gameserver.region.world import AI_ATTACK, AI_CHASE, AI_IDLE, AI_RETURN, AI_WANDER
from gameserver.wire.messages import CastAbility, SetAutoAttack
from gameserver.wire.structs import EV_EVADE, FLAG_EVADING

from .support import Sim

WOLF = NpcTemplate("wolf-t", max_hp=500, aggro_radius=12.0, leash_radius=30.0, wander_radius=8.0)


def test_idle_npc_wanders_around_home_and_settles() -> None:
    sim = Sim()
    n = sim.npc(WOLF, 300, 300)
    w = sim.shard.world
    assert w.ai[n] == AI_IDLE
    seen = set()
    for _ in range(400):
        sim.tick()
        seen.add(int(w.ai[n]))
        assert math.dist(sim.pos(n), (300, 300)) <= WOLF.wander_radius + 0.01
    assert {AI_IDLE, AI_WANDER} <= seen
    assert AI_CHASE not in seen


def test_aggro_only_inside_the_radius_then_chase_then_attack() -> None:
    sim = Sim()
    n = sim.npc(NpcTemplate("still", max_hp=500, aggro_radius=12.0, wander_radius=0.0), 300, 300)
    p = sim.player(314, 300)  # 14 m: outside
    sim.tick(10)
    assert sim.shard.world.ai[n] == AI_IDLE
    sim.shard.world.x[sim.slot(p)] = 311  # 11 m: inside
    sim.tick()
    assert sim.shard.world.ai[n] == AI_CHASE
    assert sim.shard.world.target_eid[n] == p.eid
    sim.tick(40)  # 11 m at 6 m/s
    assert sim.shard.world.ai[n] == AI_ATTACK
    assert math.dist(sim.pos(n), sim.pos(sim.slot(p))) <= 4.0
    sim.tick(60)  # three seconds of swings
    assert sim.shard.world.hp[sim.slot(p)] < sim.shard.world.max_hp[sim.slot(p)]
    # The player steps back out of reach: the NPC chases again.
    sim.shard.world.x[sim.slot(p)] += 6
    sim.tick()
    assert sim.shard.world.ai[n] in (AI_CHASE, AI_ATTACK)


def test_leash_returns_home_immune_and_resets_full_health_and_threat() -> None:
    sim = Sim()
    n = sim.npc(WOLF, 300, 300)
    p = sim.player(310, 300, facing=math.pi)
    w = sim.shard.world
    sim.command(p, SetAutoAttack(enabled=True, target=int(w.eid[n])))
    sim.tick(40)
    assert w.hp[n] < w.max_hp[n]
    assert sim.shard.threat.has(n)
    # The player runs away; the wolf follows until it is pulled past its leash.
    ps = sim.slot(p)
    w.auto[ps] = False
    for _ in range(200):
        w.x[ps] += 0.5  # 10 m/s: faster than the wolf (a test, not a client)
        sim.tick()
        if w.ai[n] == AI_RETURN:
            break
    assert w.ai[n] == AI_RETURN
    assert not sim.shard.threat.has(n)
    sim.tick()
    assert w.flags[n] & FLAG_EVADING
    # Evading: immune.
    hp = int(w.hp[n])
    w.x[ps], w.y[ps] = w.x[n] - 1, w.y[n]
    w.facing[ps] = 0.0
    sim.command(p, CastAbility(ability=1, target=int(w.eid[n])))
    sim.tick()
    assert int(w.hp[n]) == hp and any(e[1] == EV_EVADE for e in p.events)
    w.x[ps], w.y[ps] = 500, 500
    for _ in range(300):
        sim.tick()
        if w.ai[n] != AI_RETURN:
            break
    assert w.ai[n] == AI_IDLE
    assert w.hp[n] == w.max_hp[n]
    assert math.dist(sim.pos(n), (300, 300)) < 1.0
    assert not sim.shard.threat.has(n)


def test_threat_damage_healing_and_the_110_percent_rule() -> None:
    t = ThreatTables()
    t.add(7, 1, 100)
    assert t.choose(7, 0, 0) == 1
    t.add(7, 2, 105)  # more, but not 10% more
    assert t.choose(7, 1, 0) == 1
    t.add(7, 2, 10)  # 115 > 110
    assert t.choose(7, 1, 0) == 2
    # Healing the tank puts the healer on every table the tank is on, at half the amount.
    t.healing(3, 2, 200)
    assert t.threat(7, 3) == 100
    t.forget(2)
    assert t.choose(7, 2, 0) == 1  # 100 each: the tie goes to the lower id
    t.add(7, 3, 20)
    assert t.choose(7, 1, 0) == 3  # 120 > 110
    t.clear(7)
    assert not t.has(7)


def test_taunt_forces_the_target_for_a_while() -> None:
    t = ThreatTables()
    t.add(7, 1, 500)
    t.add(7, 2, 10)
    t.taunt(7, 2, now_ms=0)
    assert t.choose(7, 1, 100) == 2
    assert t.threat(7, 2) == 500
    assert t.choose(7, 2, 5000) == 2  # equal threat, current target kept


def test_a_settled_target_is_only_rechosen_after_its_table_changes() -> None:
    """The AI skips `choose` for NPCs whose table is unchanged since it last chose and
    which still attack that choice; any change to the table, or a taunt, makes them
    choose again."""
    t = ThreatTables()
    npcs = np.array([7, 8])
    t.add(7, 1, 100)
    t.add(8, 2, 100)
    assert not t.settled(npcs, np.array([1, 2])).any()  # never chosen
    t.remember(npcs, np.array([1, 2]))
    assert t.settled(npcs, np.array([1, 2])).tolist() == [True, True]
    assert t.settled(npcs, np.array([1, 3])).tolist() == [True, False]  # target changed
    t.add(7, 3, 1)
    assert t.settled(npcs, np.array([1, 2])).tolist() == [False, True]
    t.remember(npcs, np.array([1, 2]))
    t.forget(2)  # 8 loses its target
    assert t.settled(npcs, np.array([1, 2])).tolist() == [True, False]
    t.remember(npcs, np.array([1, 0]))
    t.taunt(7, 3, now_ms=0)
    t.remember(npcs, np.array([3, 0]))
    assert t.settled(npcs, np.array([3, 0])).tolist() == [False, True]  # taunts expire


def test_npc_targets_the_player_with_most_threat_in_a_real_fight() -> None:
    sim = Sim()
    n = sim.npc(NpcTemplate("big", max_hp=5000, aggro_radius=0.0, wander_radius=0.0), 300, 300)
    tank = sim.player(302, 300, facing=math.pi)
    mage = sim.player(320, 300, facing=math.pi)
    w = sim.shard.world
    sim.command(tank, SetAutoAttack(enabled=True, target=int(w.eid[n])))
    sim.tick(5)
    assert w.target_eid[n] == tank.eid
    for _ in range(4):  # fireballs out-threat the tank's swings
        sim.command(mage, CastAbility(ability=2, target=int(w.eid[n])))
        sim.tick(32)
    assert sim.shard.threat.threat(n, mage.eid) > 1.1 * sim.shard.threat.threat(n, tank.eid)
    assert w.target_eid[n] == mage.eid
    # Taunt brings it back to the tank.
    sim.command(tank, CastAbility(ability=4, target=int(w.eid[n])))
    sim.tick()
    assert w.target_eid[n] == tank.eid
