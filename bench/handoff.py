"""Handoff latency: how long the OEM takes to move a player from one region server to
another (hold inputs, save and extract on the source, admit on the target, switch the
route), measured while players walk back and forth across a region border.

    python -m bench.handoff                      # embedded: 40 walkers, 20 s, 3 runs
    python -m bench.handoff --players 100 --seconds 30 --runs 5

Players are real clients over UDP in this process (so the machine's two cores are shared
by the realm and the clients: read the figures as an upper bound). Prints p50/p99 of the
handoff duration per run and the median over runs.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
from pathlib import Path

import numpy as np
from realm_client import RealmClient

from gameserver.config import RealmSettings
from gameserver.embedded.realm import EmbeddedRealm
from gameserver.world.map import Bounds, RegionDef, StartPoint, WorldMap

BORDER = WorldMap(
    regions=(
        RegionDef(name="east", bounds=Bounds(min_x=0, min_y=0, max_x=400, max_y=400)),
        RegionDef(name="west", bounds=Bounds(min_x=-400, min_y=0, max_x=0, max_y=400)),
    ),
    starts={
        "alliance": StartPoint(region="east", x=3.0, y=200.0),
        "horde": StartPoint(region="east", x=3.0, y=200.0),
    },
)


async def _walker(url: str, i: int, seconds: float) -> int:
    c = RealmClient(url)
    try:
        await c.signup(f"walker{i}", "password123")
        await c.login(f"walker{i}", "password123")
        name = "Wk" + "".join(
            ("ba", "ce", "di", "fo", "gu", "ha", "je", "ki", "lo", "mu")[int(d)] for d in f"{i:04d}"
        )
        ch = await c.create_character(name, "human", "warrior")
        await c.enter_world(ch.id)
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        direction = -1.0
        while loop.time() < end:
            x, _ = c.position
            if x < -3.0:
                direction = 1.0
            elif x > 3.0:
                direction = -1.0
            c.move(direction, 0.0, 0.05)
            await asyncio.sleep(0.05)
        return int(c.handoffs)
    finally:
        await c.close()


async def one_run(players: int, seconds: float) -> tuple[int, float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = RealmSettings(
            name="bench",
            data_dir=Path(tmp),
            http_port=0,
            udp_port=0,
            metrics_port=0,
            argon2_time_cost=1,
            argon2_memory_kib=1024,
            autoscale=False,
            players_per_server=max(200, players),
            max_players=10_000,
        )
        realm = EmbeddedRealm(settings, world=BORDER)
        await realm.start()
        try:
            assert realm.addresses is not None and realm.oem is not None
            await asyncio.gather(
                *(_walker(realm.addresses.http, i, seconds) for i in range(players))
            )
            took = np.array(realm.oem.handoff_seconds) * 1000.0
        finally:
            await realm.stop()
    if not len(took):
        return 0, float("nan"), float("nan")
    return len(took), float(np.percentile(took, 50)), float(np.percentile(took, 99))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--players", type=int, default=40)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    results = []
    print(f"{'run':>4} {'handoffs':>9} {'p50 ms':>8} {'p99 ms':>8}")
    for r in range(args.runs):
        n, p50, p99 = asyncio.run(one_run(args.players, args.seconds))
        results.append((n, p50, p99))
        print(f"{r + 1:>4} {n:>9} {p50:>8.2f} {p99:>8.2f}")
    print(
        f"median over {args.runs} runs: p50 {statistics.median(x[1] for x in results):.2f} ms, "
        f"p99 {statistics.median(x[2] for x in results):.2f} ms "
        f"({args.players} players walking across one border)"
    )


if __name__ == "__main__":
    main()
