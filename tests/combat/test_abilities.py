"""Ability rules (range, facing, cooldown, GCD, cast time, interruption), death, corpse,
respawn, experience and loot."""

from __future__ import annotations

import math

from gameserver.region.abilities import CastError
from gameserver.region.content import LootEntry, NpcTemplate
from gameserver.region.world import AI_DEAD
from gameserver.wire.messages import CastAbility, Respawn, SetAutoAttack, Snapshot, decode
from gameserver.wire.structs import (
    EV_CAST_DONE,
    EV_CAST_FAILED,
    EV_CAST_START,
    EV_DAMAGE,
    EV_DEATH,
    EV_INTERRUPTED,
    EV_LEVEL_UP,
    EV_LOOT,
    EV_RESPAWN,
    EV_XP,
    FLAG_DEAD,
)

from .support import Sim

DUMMY = NpcTemplate(
    "dummy", max_hp=10_000, aggro_radius=0.0, wander_radius=0.0, dmg_min=0, dmg_max=0
)


def _failures(link) -> list[int]:  # type: ignore[no-untyped-def]
    return [e[3] for e in link.events if e[1] == EV_CAST_FAILED]


def test_range_and_facing() -> None:
    sim = Sim()
    n = sim.npc(DUMMY, 300, 300)
    eid = int(sim.shard.world.eid[n])
    p = sim.player(290, 300, facing=0.0)  # 10 m west, facing east (towards it)
    sim.command(p, CastAbility(ability=1, target=eid))  # Strike: 5 m
    sim.tick()
    assert _failures(p) == [CastError.OUT_OF_RANGE]
    sim.shard.world.x[sim.slot(p)] = 296
    sim.shard.world.facing[sim.slot(p)] = math.pi  # back turned
    sim.command(p, CastAbility(ability=1, target=eid))
    sim.tick()
    assert _failures(p)[-1] == CastError.NOT_FACING
    sim.shard.world.facing[sim.slot(p)] = 0.0
    sim.command(p, CastAbility(ability=1, target=eid))
    sim.tick()
    assert len(_failures(p)) == 2
    assert [e for e in p.events if e[1] == EV_DAMAGE and e[6] == 25]


def test_global_cooldown_and_ability_cooldown() -> None:
    sim = Sim()
    n = sim.npc(DUMMY, 300, 300)
    eid = int(sim.shard.world.eid[n])
    p = sim.player(297, 300)
    sim.command(p, CastAbility(ability=1, target=eid))
    sim.tick()
    sim.command(p, CastAbility(ability=4, target=eid))  # Taunt: on the GCD
    sim.tick()
    assert _failures(p) == [CastError.GCD]
    sim.tick(30)  # 1.5 s: GCD over, Strike's 3 s cooldown is not
    sim.command(p, CastAbility(ability=1, target=eid))
    sim.tick()
    assert _failures(p)[-1] == CastError.COOLDOWN
    sim.tick(30)
    sim.command(p, CastAbility(ability=1, target=eid))
    sim.tick()
    assert len(_failures(p)) == 2
    assert len([e for e in p.events if e[1] == EV_CAST_DONE and e[2] == 1]) == 2


def test_cast_time_resolves_later_and_movement_interrupts_it() -> None:
    sim = Sim()
    n = sim.npc(DUMMY, 300, 300)
    eid = int(sim.shard.world.eid[n])
    w = sim.shard.world
    p = sim.player(280, 300)
    sim.command(p, CastAbility(ability=2, target=eid))  # Fireball, 1.5 s
    sim.tick()
    assert [e for e in p.events if e[1] == EV_CAST_START]
    sim.tick(28)
    assert w.hp[n] == w.max_hp[n]  # not yet
    sim.tick(2)
    assert w.hp[n] == w.max_hp[n] - 45
    # Again, but step aside half-way: interrupted, no damage.
    sim.tick(30)
    sim.command(p, CastAbility(ability=2, target=eid))
    sim.tick(10)
    sim.move(p, 0.0, 0.3)
    sim.tick()
    assert [e for e in p.events if e[1] == EV_INTERRUPTED and e[2] == 2]
    sim.tick(40)
    assert w.hp[n] == w.max_hp[n] - 45
    # A stationary frame (turning on the spot) does not interrupt.
    sim.command(p, CastAbility(ability=2, target=eid))
    sim.tick(5)
    sim.move(p, 0.0, 0.0)
    sim.tick(30)
    assert w.hp[n] == w.max_hp[n] - 90


def test_player_death_corpse_and_respawn_at_the_graveyard() -> None:
    sim = Sim(graveyard=(50.0, 60.0))
    killer = NpcTemplate(
        "killer", max_hp=500, dmg_min=60, dmg_max=60, aggro_radius=10, wander_radius=0
    )
    sim.npc(killer, 300, 300)
    p = sim.player(305, 300)
    w = sim.shard.world
    for _ in range(200):
        sim.tick()
        if w.flags[sim.slot(p)] & FLAG_DEAD:
            break
    ps = sim.slot(p)
    assert w.flags[ps] & FLAG_DEAD and w.hp[ps] == 0
    assert [e for e in p.events if e[1] == EV_DEATH and e[5] == p.eid]
    corpse_at = sim.pos(ps)
    sim.tick(20)
    assert sim.pos(ps) == corpse_at  # the corpse stays; the NPC went home
    sim.command(p, Respawn())
    sim.tick()
    assert not w.flags[ps] & FLAG_DEAD
    assert w.hp[ps] == w.max_hp[ps]
    assert sim.pos(ps) == (50.0, 60.0)
    assert [e for e in p.events if e[1] == EV_RESPAWN]
    # The correction goes out (and is cleared) with the player's next snapshot: this
    # tick's, or the next one's (a client gets one every `every` ticks).
    mine = [pl for c, pl in sim.results[-1].snapshots if c == p.conn_id]
    for _ in range(sim.shard.snapshots.every - 1):
        if mine:
            break
        assert p.corrected is True  # waiting for its snapshot
        mine = [pl for c, pl in sim.tick().snapshots if c == p.conn_id]
    (payload,) = mine
    snap = decode(payload).msg
    assert isinstance(snap, Snapshot) and snap.corrected
    assert p.corrected is False


def test_kill_gives_xp_loot_and_levels_and_the_npc_respawns() -> None:
    sim = Sim()
    weak = NpcTemplate(
        "weak",
        max_hp=40,
        aggro_radius=0.0,
        wander_radius=0.0,
        xp=150,
        loot=(LootEntry(4242, 1.0, 3), LootEntry(4343, 0.0)),
    )
    n = sim.npc(weak, 300, 300, respawn_ms=5000)
    w = sim.shard.world
    first_eid = int(w.eid[n])
    p = sim.player(297, 300)
    sim.command(p, SetAutoAttack(enabled=True, target=first_eid))
    sim.command(p, CastAbility(ability=1, target=first_eid))
    for _ in range(200):
        sim.tick()
        if w.ai[n] == AI_DEAD:
            break
    assert w.ai[n] == AI_DEAD and w.flags[n] & FLAG_DEAD  # a corpse
    assert [e for e in p.events if e[1] == EV_XP and e[6] == 150]
    assert [e for e in p.events if e[1] == EV_LEVEL_UP and e[6] == 2]
    assert w.level[sim.slot(p)] == 2 and p.xp == 50
    assert p.loot == [(4242, 3)]
    assert [e for e in p.events if e[1] == EV_LOOT and e[6] == 4242 and e[3] == 3]
    assert (
        not w.auto[sim.slot(p)] or not w.target_alive(__import__("numpy").array([sim.slot(p)]))[0]
    )
    sim.tick(120)  # 6 s: corpse gone, a new one spawned (a new id)
    sp = sim.shard.spawns[-1]
    assert sp.eid and sp.eid != first_eid
    assert not w.flags[w.slot(sp.eid)] & FLAG_DEAD
