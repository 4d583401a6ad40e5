"""A replication trace: the hash of every tick's snapshot bytes per client and of the
world state, over a deterministic crowded world, to prove that a change to the
replication path (AoI, baselines, budgets, the packet writer) leaves every packet byte for
byte the same.

    python -m bench.replication_trace --out /tmp/before.json     # on the old code
    python -m bench.replication_trace --check /tmp/before.json   # on the new code

The world: `players` players and `npcs` wolves packed into a 500 m x 500 m square of
elwynn (so views hit the nearest-64 cap), players moving at max speed towards random
headings with three redundant input frames, acknowledging the newest snapshot one to three
ticks late with ~5% of snapshots lost (so baselines of every age, and missing ones, occur),
some players leaving and joining midway. Run for `every` 1 and 2.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import sys

import numpy as np

_AREA = (250.0, 750.0)


def trace(
    players: int = 300, npcs: int = 600, ticks: int = 150, every: int = 1, seed: int = 7
) -> list[tuple[str, str]]:
    """Per tick: (sha256 of the snapshots, each client's conn id, length and bytes in
    conn order; sha256 of the world's fingerprint after the tick)."""
    from gameserver.region.content import TEMPLATES, RegionContent, SpawnPoint
    from gameserver.region.movement import MoverState, MoveRules
    from gameserver.region.shard import SnapshotConfig
    from gameserver.region.tick import PlayerLink, Shard, queue_command, queue_inputs, step
    from gameserver.region.world import KIND_PLAYER
    from gameserver.wire.messages import Respawn, SnapshotAck
    from gameserver.wire.structs import FLAG_DEAD, INPUT_FRAME_DTYPE
    from gameserver.world.map import DEFAULT_MAP

    region = DEFAULT_MAP.region("elwynn")
    rng = random.Random(seed)
    lo, hi = _AREA
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
    links: list[PlayerLink] = []
    next_id = 1

    def join() -> None:
        nonlocal next_id
        eid = shard.world.spawn(KIND_PLAYER, rng.uniform(lo, hi), rng.uniform(lo, hi))
        link = PlayerLink(next_id, next_id, eid, MoverState(joined_at_ms=0))
        next_id += 1
        links.append(link)
        shard.players[eid] = link

    for _ in range(players):
        join()
    heading: dict[int, float] = {}
    sent: dict[int, np.ndarray] = {}
    received: dict[int, list[int]] = {}
    out: list[tuple[str, str]] = []
    for t in range(1, ticks + 1):
        if t == 60:  # a few players leave
            for link in links[5:15]:
                del shard.players[link.eid]
                shard.world.despawn(link.eid)
            links[5:15] = []
        if t == 80:
            for _ in range(10):
                join()
        for link in links:
            if shard.world.flags[shard.world.slot(link.eid)] & FLAG_DEAD:
                if t % 20 == 0:
                    queue_command(link, Respawn())
                continue
            h = heading.get(link.conn_id)
            if h is None or rng.random() < 0.03:
                h = heading[link.conn_id] = rng.uniform(0, 2 * math.pi)
            f = np.zeros(1, INPUT_FRAME_DTYPE)
            f[0] = (t, 50, 0, 0.35 * math.cos(h), 0.35 * math.sin(h), h)
            prev = sent.get(link.conn_id, np.zeros(0, INPUT_FRAME_DTYPE))
            sent[link.conn_id] = np.concatenate([prev[-2:], f])
            queue_inputs(link, sent[link.conn_id].copy())
            got = received.get(link.conn_id)
            if got:
                late = 1 + (link.conn_id + t) % 3
                while len(got) > 1 and got[1] <= shard.tick - late:
                    got.pop(0)
                if got[0] <= shard.tick - late:
                    queue_command(link, SnapshotAck(tick=got[0]))
        res = step(shard, t * 50)
        digest = hashlib.sha256()
        for conn, payload in sorted(res.snapshots):
            digest.update(conn.to_bytes(4, "little") + len(payload).to_bytes(4, "little"))
            digest.update(payload)
            if rng.random() >= 0.05:  # ~5% lost
                received.setdefault(conn, []).append(shard.tick)
        out.append((digest.hexdigest(), hashlib.sha256(shard.world.fingerprint()).hexdigest()))
    return out


def record(players: int, npcs: int, ticks: int) -> dict[str, list[tuple[str, str]]]:
    return {f"every={e}": trace(players, npcs, ticks, every=e) for e in (1, 2)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--players", type=int, default=300)
    p.add_argument("--npcs", type=int, default=600)
    p.add_argument("--ticks", type=int, default=150)
    p.add_argument("--out", help="write the trace here")
    p.add_argument("--check", help="compare with this recorded trace")
    a = p.parse_args(argv)
    got = record(a.players, a.npcs, a.ticks)
    if a.out:
        with open(a.out, "w") as f:
            json.dump(got, f, indent=0)
    if a.check:
        with open(a.check) as f:
            want = {k: [tuple(t) for t in v] for k, v in json.load(f).items()}
        ok = True
        for name, ticks in want.items():
            mine = got.get(name, [])
            bad = [i + 1 for i, (x, y) in enumerate(zip(ticks, mine, strict=False)) if x != y]
            if bad or len(mine) != len(ticks):
                ok = False
                print(f"{name}: {len(bad)} ticks differ, first at tick {bad[0] if bad else '-'}")
            else:
                print(f"{name}: {len(ticks)} ticks identical (snapshots and world)")
        return 0 if ok else 1
    for name, ticks in got.items():
        whole = hashlib.sha256("".join(s + w for s, w in ticks).encode()).hexdigest()
        print(f"{name}: {len(ticks)} ticks, trace {whole[:16]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
