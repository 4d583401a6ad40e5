"""Combat: commands, casts, swings, damage, death, rewards, spawns and knockbacks.

Hit selection is vectorised (which of thousands of entities swing this tick is a mask over
the columns); applying a hit is a short Python function because hits are sparse (a few
per tick) and each one touches threat tables, events and possibly a death. All randomness
(damage rolls, loot) comes from the shard's seeded generator, in a fixed order.

Rewards: the killing blow's NPC gives its experience and a loot roll to the player at the
top of its threat table (the one who did the most), recorded on the player's link so the
region server saves them with the character.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from gameserver.region.abilities import (
    ABILITIES,
    GCD_MS,
    Ability,
    CastContext,
    CastError,
    Effect,
    check_cast,
)
from gameserver.region.encounters import load as load_script
from gameserver.region.shard import PlayerLink, Shard
from gameserver.region.threat import ThreatTables
from gameserver.region.world import (
    AI_CHASE,
    AI_DEAD,
    AI_IDLE,
    AI_RETURN,
    AI_WANDER,
    KIND_NPC,
    KIND_PLAYER,
    NEVER,
    NO_SLOT,
)
from gameserver.wire.messages import CastAbility, Message, Respawn, SetAutoAttack, SnapshotAck
from gameserver.wire.structs import (
    EV_AGGRO,
    EV_CAST_DONE,
    EV_CAST_FAILED,
    EV_CAST_START,
    EV_DAMAGE,
    EV_DEATH,
    EV_EVADE,
    EV_HEAL,
    EV_INTERRUPTED,
    EV_KNOCKBACK,
    EV_LEVEL_UP,
    EV_LOOT,
    EV_PHASE,
    EV_RESPAWN,
    EV_XP,
    FLAG_CASTING,
    FLAG_DEAD,
    FLAG_EVADING,
    FLAG_IN_COMBAT,
    FLAG_KNOCKBACK,
    FLAG_ROOTED,
    FLAG_STUNNED,
)

AUTO_ATTACK = 0  # "ability" id of a plain swing in events
MAX_LEVEL = 60


def max_hp_for_level(level: int) -> int:
    return 100 + 20 * (max(1, level) - 1)


def xp_to_next(level: int) -> int:
    return 100 * max(1, level)


def _audience(shard: Shard, *slots: int) -> tuple[int, ...]:
    w = shard.world
    return tuple(int(w.eid[s]) for s in slots if s >= 0 and w.kind[s] == KIND_PLAYER)


# --------------------------------------------------------------------------- damage


def engage(shard: Shard, npc: int, player: int, now_ms: int) -> None:
    """An idle NPC notices a player (aggro or being hit) and enters combat."""
    w = shard.world
    if w.ai[npc] in (AI_DEAD, AI_RETURN):
        return
    shard.threat.add(npc, int(w.eid[player]), 0.0)
    if w.ai[npc] in (AI_IDLE, AI_WANDER):
        w.ai[npc] = AI_CHASE
        w.target[npc] = player
        w.target_eid[npc] = w.eid[player]
        w.next_swing[npc] = max(int(w.next_swing[npc]), now_ms)
        shard.emit(EV_AGGRO, 0, 0, int(w.eid[npc]), int(w.eid[player]), 0, _audience(shard, player))
        script = shard.scripts.get(npc)
        if script is not None:
            script.on_engage(EncounterCtx(shard, now_ms), npc)


def deal_damage(
    shard: Shard,
    src: int,
    tgt: int,
    amount: int,
    ability: int,
    now_ms: int,
    threat_mult: float = 1.0,
) -> None:
    w = shard.world
    if not w.active[tgt] or w.flags[tgt] & FLAG_DEAD:
        return
    if w.kind[tgt] == KIND_NPC and w.ai[tgt] == AI_RETURN:
        shard.emit(EV_EVADE, ability, 0, int(w.eid[src]), int(w.eid[tgt]), 0, _audience(shard, src))
        return
    amount = max(0, int(amount))
    w.hp[tgt] -= amount
    w.refresh_health_pct(np.array([tgt]))
    shard.emit(
        EV_DAMAGE, ability, 0, int(w.eid[src]), int(w.eid[tgt]), amount, _audience(shard, src, tgt)
    )
    if w.kind[tgt] == KIND_NPC and w.kind[src] == KIND_PLAYER:
        engage(shard, tgt, src, now_ms)
        shard.threat.add(tgt, int(w.eid[src]), amount * threat_mult)
    elif w.kind[tgt] == KIND_PLAYER and w.kind[src] == KIND_NPC:
        shard.threat.add(src, int(w.eid[tgt]), 0.0)  # keeps the player "engaged"
    if w.hp[tgt] <= 0:
        kill(shard, tgt, src, now_ms)


def heal(shard: Shard, src: int, tgt: int, amount: int, ability: int, now_ms: int) -> None:
    w = shard.world
    if not w.active[tgt] or w.flags[tgt] & FLAG_DEAD:
        return
    done = int(min(amount, int(w.max_hp[tgt]) - int(w.hp[tgt])))
    w.hp[tgt] += done
    w.refresh_health_pct(np.array([tgt]))
    shard.emit(
        EV_HEAL, ability, 0, int(w.eid[src]), int(w.eid[tgt]), done, _audience(shard, src, tgt)
    )
    shard.threat.healing(int(w.eid[src]), int(w.eid[tgt]), float(done))


def cancel_cast(shard: Shard, slot: int, reason_event: int, now_ms: int) -> None:
    w = shard.world
    ab = int(w.cast_ab[slot])
    if ab == 0:
        return
    w.cast_ab[slot] = 0
    w.cast_target[slot] = NO_SLOT
    shard.emit(reason_event, ab, 0, int(w.eid[slot]), 0, 0, _audience(shard, slot))


def kill(shard: Shard, slot: int, killer: int, now_ms: int) -> None:
    w = shard.world
    w.hp[slot] = 0
    w.health_pct[slot] = 0
    w.flags[slot] |= FLAG_DEAD
    w.dead_at[slot] = now_ms
    w.auto[slot] = False
    w.target[slot] = NO_SLOT
    w.kb_until[slot] = NEVER
    if w.cast_ab[slot]:
        cancel_cast(shard, slot, EV_INTERRUPTED, now_ms)
    eid = int(w.eid[slot])
    audience = _audience(shard, slot, killer)
    shard.emit(EV_DEATH, 0, 0, int(w.eid[killer]) if killer >= 0 else 0, eid, 0, audience)
    if w.kind[slot] == KIND_PLAYER:
        shard.threat.forget(eid)
        return
    # An NPC: rewards to the top of its threat table, then it is a corpse.
    table = shard.threat.tables.get(slot, {})
    winner = min(table.items(), key=lambda kv: (-kv[1], kv[0]))[0] if table else 0
    if winner == 0 and killer >= 0 and w.kind[killer] == KIND_PLAYER:
        winner = int(w.eid[killer])
    shard.threat.clear(slot)
    w.ai[slot] = AI_DEAD
    script = shard.scripts.pop(slot, None)
    del script
    link = shard.players.get(winner)
    if link is not None:
        reward(shard, link, slot)


def reward(shard: Shard, link: PlayerLink, npc: int) -> None:
    w = shard.world
    p = w.slot(link.eid)
    npc_eid = int(w.eid[npc])
    xp = int(w.xp_value[npc])
    link.xp += xp
    shard.emit(EV_XP, 0, 0, npc_eid, link.eid, xp, (link.eid,))
    level = int(w.level[p])
    while level < MAX_LEVEL and link.xp >= xp_to_next(level):
        link.xp -= xp_to_next(level)
        level += 1
        w.level[p] = level
        w.max_hp[p] = max_hp_for_level(level)
        w.hp[p] = w.max_hp[p]
        w.refresh_health_pct(np.array([p]))
        shard.emit(EV_LEVEL_UP, 0, 0, link.eid, link.eid, level, (link.eid,))
    assert shard.content is not None
    spawn = int(w.spawn_pt[npc])
    template = shard.content.templates[shard.spawns[spawn].point.template] if spawn >= 0 else None
    if template is None:
        return
    rolls: list[float] = shard.rng.random(len(template.loot)).tolist()
    for entry, roll in zip(template.loot, rolls, strict=True):
        if roll < entry.chance:
            link.loot.append((entry.item_id, entry.count))
            shard.emit(EV_LOOT, 0, entry.count, npc_eid, link.eid, entry.item_id, (link.eid,))


# --------------------------------------------------------------------------- commands


def handle_command(shard: Shard, link: PlayerLink, msg: Message, now_ms: int) -> None:
    w = shard.world
    p = w.slot(link.eid)
    if isinstance(msg, SnapshotAck):
        ack(link, msg.tick, shard.tick)
    elif isinstance(msg, SetAutoAttack):
        if not msg.enabled:
            w.auto[p] = False
            return
        t = w.slot_or_none(msg.target) if msg.target else None
        if t is None or w.kind[t] != KIND_NPC or w.flags[p] & FLAG_DEAD:
            return
        w.auto[p] = True
        w.target[p] = t
        w.target_eid[p] = w.eid[t]
    elif isinstance(msg, CastAbility):
        cast(shard, link, msg.ability, msg.target, now_ms)
    elif isinstance(msg, Respawn):
        respawn_player(shard, link, now_ms)


def ack(link: PlayerLink, tick: int, current_tick: int) -> None:
    """The client received snapshot `tick`: it is the new delta baseline, and the events
    that snapshot carried are delivered."""
    if tick <= link.acked_tick or tick > current_tick:
        return
    link.acked_tick = tick
    hi = link.event_hi.get(tick)
    if hi is not None:
        link.events = [e for e in link.events if e[0] > hi]
    for t in [t for t in link.event_hi if t <= tick]:
        del link.event_hi[t]


def _cast_context(
    shard: Shard, p: int, t: int | None, a: Ability, link: PlayerLink, now: int
) -> CastContext:
    w = shard.world
    return CastContext(
        now_ms=now,
        dead=bool(w.flags[p] & FLAG_DEAD),
        stunned=bool(now < w.stun_until[p]),
        casting=bool(w.cast_ab[p] != 0),
        gcd_until=int(w.gcd_until[p]),
        cooldown_until=link.cooldowns.get(a.id, NEVER),
        mana=int(w.mana[p]),
        x=float(w.x[p]),
        y=float(w.y[p]),
        facing=float(w.facing[p]),
        has_target=t is not None,
        target_is_player=t is not None and bool(w.kind[t] == KIND_PLAYER),
        target_dead=t is not None and bool(w.flags[t] & FLAG_DEAD),
        tx=float(w.x[t]) if t is not None else 0.0,
        ty=float(w.y[t]) if t is not None else 0.0,
    )


def cast(
    shard: Shard, link: PlayerLink, ability_id: int, target_eid: int, now_ms: int
) -> CastError:
    w = shard.world
    p = w.slot(link.eid)
    a = ABILITIES.get(ability_id)
    if a is None:
        shard.emit(
            EV_CAST_FAILED, ability_id, CastError.UNKNOWN_ABILITY, link.eid, 0, 0, (link.eid,)
        )
        return CastError.UNKNOWN_ABILITY
    t: int | None
    if target_eid:
        t = w.slot_or_none(target_eid)
    elif a.friendly:
        t = p
    else:
        cur = int(w.target[p])
        t = cur if cur >= 0 and w.active[cur] and w.eid[cur] == w.target_eid[p] else None
    err = check_cast(a, _cast_context(shard, p, t, a, link, now_ms))
    if err is not CastError.OK or t is None:
        shard.emit(EV_CAST_FAILED, a.id, int(err), link.eid, target_eid, 0, (link.eid,))
        return err
    if a.gcd:
        w.gcd_until[p] = now_ms + GCD_MS
    if a.cooldown_ms:
        link.cooldowns[a.id] = now_ms + a.cooldown_ms
    if not a.friendly:
        w.target[p] = t
        w.target_eid[p] = w.eid[t]
    if a.cast_ms:
        w.cast_ab[p] = a.id
        w.cast_end[p] = now_ms + a.cast_ms
        w.cast_target[p] = t
        w.cast_target_eid[p] = w.eid[t]
        shard.emit(EV_CAST_START, a.id, 0, link.eid, int(w.eid[t]), a.cast_ms, (link.eid,))
        return CastError.OK
    resolve(shard, p, t, a, now_ms)
    return CastError.OK


def resolve(shard: Shard, p: int, t: int, a: Ability, now_ms: int) -> None:
    w = shard.world
    w.mana[p] -= a.mana
    shard.emit(EV_CAST_DONE, a.id, 0, int(w.eid[p]), int(w.eid[t]), 0, _audience(shard, p))
    if a.effect is Effect.DAMAGE:
        deal_damage(shard, p, t, a.amount, a.id, now_ms, a.threat_mult)
    elif a.effect is Effect.HEAL:
        heal(shard, p, t, a.amount, a.id, now_ms)
    elif a.effect is Effect.TAUNT:
        engage(shard, t, p, now_ms)
        shard.threat.taunt(t, int(w.eid[p]), now_ms)


def finish_casts(shard: Shard, now_ms: int) -> None:
    w = shard.world
    done = np.flatnonzero(w.active & (w.cast_ab != 0) & (w.cast_end <= now_ms))
    for p in done.tolist():
        a = ABILITIES[int(w.cast_ab[p])]
        t = int(w.cast_target[p])
        w.cast_ab[p] = 0
        ok = (
            t >= 0
            and w.active[t]
            and w.eid[t] == w.cast_target_eid[p]
            and not w.flags[t] & FLAG_DEAD
        )
        if not ok:
            shard.emit(
                EV_CAST_FAILED, a.id, CastError.BAD_TARGET, int(w.eid[p]), 0, 0, _audience(shard, p)
            )
            continue
        if math.hypot(float(w.x[t] - w.x[p]), float(w.y[t] - w.y[p])) > a.range:
            shard.emit(
                EV_CAST_FAILED,
                a.id,
                CastError.OUT_OF_RANGE,
                int(w.eid[p]),
                int(w.eid[t]),
                0,
                _audience(shard, p),
            )
            continue
        resolve(shard, p, t, a, now_ms)


def interrupt_moved(shard: Shard, slots: npt.NDArray[np.intp], now_ms: int) -> None:
    """Movement interrupts a cast with a cast time."""
    w = shard.world
    for p in slots[w.cast_ab[slots] != 0].tolist():
        cancel_cast(shard, p, EV_INTERRUPTED, now_ms)


def respawn_player(shard: Shard, link: PlayerLink, now_ms: int) -> None:
    w = shard.world
    p = w.slot(link.eid)
    if not w.flags[p] & FLAG_DEAD:
        return
    assert shard.content is not None
    gx, gy = shard.content.graveyard
    gx, gy = shard.region.bounds.clamp(gx, gy)
    w.x[p], w.y[p] = gx, gy
    w.flags[p] &= ~np.uint8(FLAG_DEAD)
    w.hp[p] = w.max_hp[p]
    w.mana[p] = w.max_mana[p]
    w.refresh_health_pct(np.array([p]))
    w.dead_at[p] = NEVER
    link.corrected = True  # the client must jump to the graveyard
    shard.emit(EV_RESPAWN, 0, 0, link.eid, link.eid, 0, (link.eid,))


# --------------------------------------------------------------------------- swings


def auto_attacks(shard: Shard, now_ms: int) -> None:
    """Every entity whose swing timer is up and whose target is in reach swings."""
    w = shard.world
    from gameserver.region.world import AI_ATTACK

    alive = w.active & ((w.flags & FLAG_DEAD) == 0) & (w.cast_ab == 0) & (w.stun_until <= now_ms)
    ready = alive & (w.next_swing <= now_ms)
    swinging = ready & (
        ((w.kind == KIND_PLAYER) & w.auto) | ((w.kind == KIND_NPC) & (w.ai == AI_ATTACK))
    )
    cand = np.flatnonzero(swinging)
    if len(cand) == 0:
        return
    ok = w.target_alive(cand)
    cand = cand[ok]
    t = w.target[cand]
    dx = w.x[t] - w.x[cand]
    dy = w.y[t] - w.y[cand]
    reach = w.reach[cand] + 0.5
    in_reach = dx * dx + dy * dy <= reach * reach
    facing = (np.cos(w.facing[cand]) * dx + np.sin(w.facing[cand]) * dy >= 0) | (
        w.kind[cand] == KIND_NPC
    )
    hit = in_reach & facing
    src, tgt = cand[hit], t[hit]
    if len(src) == 0:
        return
    rolls = shard.rng.integers(w.dmg_min[src], w.dmg_max[src] + 1)
    w.next_swing[src] = now_ms + w.swing_ms[src]
    for s, d, amount in zip(src.tolist(), tgt.tolist(), rolls.tolist(), strict=True):
        if w.flags[s] & FLAG_DEAD:
            continue
        deal_damage(shard, s, d, amount, AUTO_ATTACK, now_ms)


# --------------------------------------------------------------------------- spawns


def spawn_npcs(shard: Shard, now_ms: int) -> None:
    """Respawn NPCs whose timer is up; remove corpses that have lain long enough."""
    w = shard.world
    assert shard.content is not None
    corpse_ms = shard.content.corpse_ms
    # Most spawn points hold a living NPC and need nothing: find those as array operations
    # (eid -> slot through the sorted ids of the active slots) and visit only the rest.
    spawns = shard.spawns
    sp_eid = np.fromiter((sp.eid for sp in spawns), np.int64, len(spawns))
    act = w.active_slots()
    ids = w.eid[act].astype(np.int64)
    by_id = np.argsort(ids)
    pos = np.minimum(np.searchsorted(ids[by_id], sp_eid), max(0, len(ids) - 1))
    found = (sp_eid != 0) & (ids[by_id][pos] == sp_eid) if len(ids) else sp_eid != sp_eid
    sp_slot = act[by_id][pos] if len(ids) else np.zeros(len(spawns), np.intp)
    settled = found & (w.ai[sp_slot] != AI_DEAD)
    for i in np.flatnonzero(~settled).tolist():
        sp = spawns[i]
        if sp.eid:
            slot = w.slot_or_none(sp.eid)
            if slot is None:
                sp.eid = 0
                continue
            if w.ai[slot] == AI_DEAD:
                if sp.respawn_at == 0:
                    sp.respawn_at = int(w.dead_at[slot]) + sp.point.respawn_ms
                if now_ms - int(w.dead_at[slot]) >= min(corpse_ms, sp.point.respawn_ms):
                    w.despawn(sp.eid)
                    sp.eid = 0
            continue
        if now_ms < sp.respawn_at:
            continue
        t = shard.content.templates[sp.point.template]
        eid = w.spawn(KIND_NPC, sp.point.x, sp.point.y, 0.0, t.level, max_hp=t.max_hp)
        s = w.slot(eid)
        w.dmg_min[s], w.dmg_max[s], w.swing_ms[s], w.reach[s] = (
            t.dmg_min,
            t.dmg_max,
            t.swing_ms,
            t.reach,
        )
        w.aggro_r[s], w.leash_r[s], w.speed[s], w.wander_r[s] = (
            t.aggro_radius,
            t.leash_radius,
            t.speed,
            t.wander_radius,
        )
        w.xp_value[s] = t.xp
        w.spawn_pt[s] = i
        w.next_act[s] = now_ms + int(shard.rng.integers(1000, 6000))
        sp.eid, sp.respawn_at = eid, 0
        if t.script:
            shard.scripts[s] = load_script(t.script)


# --------------------------------------------------------------------------- knockback


def forced_movement(shard: Shard, now_ms: int, dt_ms: int) -> None:
    """Server-driven displacement (knockbacks): move at the knockback velocity, stopping at
    walls and the region's edge. The client is told through FLAG_KNOCKBACK and accepts."""
    w = shard.world
    moving = np.flatnonzero(w.active & (w.kb_until > now_ms - dt_ms) & (w.kb_until != NEVER))
    if len(moving) == 0:
        return
    b = shard.region.bounds
    for s in moving.tolist():
        span = min(dt_ms, int(w.kb_until[s]) - (now_ms - dt_ms)) / 1000.0
        x0, y0 = float(w.x[s]), float(w.y[s])
        nx, ny = b.clamp(x0 + float(w.kb_vx[s]) * span, y0 + float(w.kb_vy[s]) * span)
        nx, ny, _ = shard.walls.clip(x0, y0, nx, ny)
        w.x[s], w.y[s] = nx, ny
        link = shard.players.get(int(w.eid[s]))
        if link is not None:
            link.corrected = True
        if now_ms >= w.kb_until[s]:
            w.kb_until[s] = NEVER


# --------------------------------------------------------------------------- scripts


class EncounterCtx:
    """What an encounter script may do (implements encounters.EncounterContext)."""

    def __init__(self, shard: Shard, now_ms: int) -> None:
        self.shard = shard
        self.now_ms = now_ms

    def health_fraction(self, npc: int) -> float:
        w = self.shard.world
        return float(w.hp[npc]) / float(w.max_hp[npc])

    def players_near(self, npc: int, radius: float) -> list[int]:
        w = self.shard.world
        players = np.flatnonzero(w.active & (w.kind == KIND_PLAYER) & ((w.flags & FLAG_DEAD) == 0))
        d2 = (w.x[players] - w.x[npc]) ** 2 + (w.y[players] - w.y[npc]) ** 2
        out: list[int] = players[d2 <= radius * radius].tolist()
        return out

    def damage(self, source: int, target: int, amount: int, ability: int) -> None:
        deal_damage(self.shard, source, target, amount, ability, self.now_ms)

    def knockback(
        self, source: int, target: int, speed: float, duration_ms: int, ability: int
    ) -> None:
        w = self.shard.world
        if w.flags[target] & FLAG_DEAD:
            return
        dx, dy = float(w.x[target] - w.x[source]), float(w.y[target] - w.y[source])
        d = math.hypot(dx, dy)
        ux, uy = (
            (dx / d, dy / d)
            if d > 1e-6
            else (math.cos(float(w.facing[source])), math.sin(float(w.facing[source])))
        )
        w.kb_vx[target], w.kb_vy[target] = ux * speed, uy * speed
        w.kb_until[target] = self.now_ms + duration_ms
        link = self.shard.players.get(int(w.eid[target]))
        if link is not None:
            link.corrected = True
        if w.cast_ab[target]:
            cancel_cast(self.shard, target, EV_INTERRUPTED, self.now_ms)
        self.shard.emit(
            EV_KNOCKBACK,
            ability,
            0,
            int(w.eid[source]),
            int(w.eid[target]),
            int(speed),
            _audience(self.shard, target),
        )

    def stun(self, source: int, target: int, duration_ms: int, ability: int) -> None:
        w = self.shard.world
        if w.stun_until[target] <= self.now_ms:
            w.stun_from[target] = self.now_ms
        w.stun_until[target] = max(int(w.stun_until[target]), self.now_ms + duration_ms)
        if w.cast_ab[target]:
            cancel_cast(self.shard, target, EV_INTERRUPTED, self.now_ms)

    def root(self, source: int, target: int, duration_ms: int, ability: int) -> None:
        w = self.shard.world
        if w.root_until[target] <= self.now_ms:
            w.root_from[target] = self.now_ms
        w.root_until[target] = max(int(w.root_until[target]), self.now_ms + duration_ms)

    def set_swing_ms(self, npc: int, swing_ms: int) -> None:
        self.shard.world.swing_ms[npc] = swing_ms

    def current_target(self, npc: int) -> int | None:
        w = self.shard.world
        t = int(w.target[npc])
        return t if t >= 0 and w.active[t] and w.eid[t] == w.target_eid[npc] else None

    def announce_phase(self, npc: int, phase: int) -> None:
        w = self.shard.world
        near = self.players_near(npc, 60.0)
        self.shard.emit(EV_PHASE, 0, 0, int(w.eid[npc]), 0, phase, _audience(self.shard, *near))


def run_scripts(shard: Shard, now_ms: int) -> None:
    from gameserver.region.world import AI_ATTACK

    w = shard.world
    ctx = EncounterCtx(shard, now_ms)
    for npc, script in sorted(shard.scripts.items()):
        if w.active[npc] and w.ai[npc] in (AI_CHASE, AI_ATTACK):
            script.on_tick(ctx, npc)


# --------------------------------------------------------------------------- flags


def refresh_flags(shard: Shard, now_ms: int) -> None:
    """Recompute the replicated status bits from the columns (one pass over all)."""
    w = shard.world
    from gameserver.region.world import AI_ATTACK

    f = w.flags & FLAG_DEAD
    f |= np.where(w.cast_ab != 0, FLAG_CASTING, 0).astype(np.uint8)
    f |= np.where(w.kb_until != NEVER, FLAG_KNOCKBACK, 0).astype(np.uint8)
    f |= np.where(w.stun_until > now_ms, FLAG_STUNNED, 0).astype(np.uint8)
    f |= np.where(w.root_until > now_ms, FLAG_ROOTED, 0).astype(np.uint8)
    f |= np.where(w.ai == AI_RETURN, FLAG_EVADING, 0).astype(np.uint8)
    npc_fight = (w.kind == KIND_NPC) & ((w.ai == AI_CHASE) | (w.ai == AI_ATTACK))
    f |= np.where(npc_fight, FLAG_IN_COMBAT, 0).astype(np.uint8)
    engaged = shard.threat.engaged
    if engaged:
        for eid in engaged:
            s = w.slot_or_none(eid)
            if s is not None:
                f[s] |= FLAG_IN_COMBAT
    w.flags[:] = f


def regenerate(shard: Shard, now_ms: int, every_ticks: int = 20) -> None:
    """Mana (and, out of combat, health) comes back, once a second."""
    if shard.tick % every_ticks:
        return
    w = shard.world
    alive = w.active & ((w.flags & FLAG_DEAD) == 0) & (w.kind == KIND_PLAYER)
    w.mana[alive] = np.minimum(w.max_mana[alive], w.mana[alive] + 5)
    calm = alive & ((w.flags & FLAG_IN_COMBAT) == 0)
    w.hp[calm] = np.minimum(w.max_hp[calm], w.hp[calm] + np.maximum(1, w.max_hp[calm] // 20))
    w.refresh_health_pct(np.flatnonzero(calm))


__all__ = [
    "EncounterCtx",
    "ThreatTables",
    "auto_attacks",
    "cast",
    "deal_damage",
    "finish_casts",
    "forced_movement",
    "handle_command",
    "heal",
    "kill",
    "max_hp_for_level",
    "refresh_flags",
    "regenerate",
    "respawn_player",
    "run_scripts",
    "spawn_npcs",
]


# --------------------------------------------------------------------------- persistence


def init_player(shard: Shard, link: PlayerLink, level: int, health: int, xp: int) -> None:
    """A character enters: its saved level, experience and health become columns."""
    w = shard.world
    p = w.slot(link.eid)
    w.level[p] = max(1, min(level, MAX_LEVEL))
    w.max_hp[p] = max_hp_for_level(int(w.level[p]))
    w.hp[p] = health if 0 < health <= w.max_hp[p] else w.max_hp[p]
    w.refresh_health_pct(np.array([p]))
    w.dmg_min[p], w.dmg_max[p], w.swing_ms[p], w.reach[p] = 8, 14, 2000, 5.0
    link.xp = max(0, xp)


def progress(shard: Shard, link: PlayerLink) -> dict[str, int]:
    """The part of a character's saved state that combat changes (loot is handed over
    separately, as items, by the region server)."""
    w = shard.world
    p = w.slot(link.eid)
    return {"level": int(w.level[p]), "xp": link.xp, "health": int(w.hp[p])}
