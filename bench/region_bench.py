"""How many moving players and NPCs one region server holds: `python -m bench.region_bench`
(or `realm bench`).

Method
------
* The server is one process pinned to CPU 0: a `Shard` (the real tick: movement checks,
  anti-cheat, NPC AI, combat, delta snapshots with the byte budget, the fast writer)
  driven at 20 Hz on a fixed grid like `region/driver.py`, plus a UDP socket. Players
  reach it over a *direct region link*: each datagram is a 4-byte connection id followed
  by the FlatBuffers Envelope (Inputs with the ack tick; snapshots back the same way).
  The RCM's per-datagram work (AEAD ~1 us, replay window, rate limit) is not on this
  process: in a distributed realm it runs in the RCM processes.
* Bots run in separate processes (multiprocessing) pinned to the other CPU: each moves its
  players at max speed towards random waypoints across the region, sends a 20 Hz input
  datagram per player (three redundant frames, the newest snapshot tick as ack), and reads
  each snapshot's tick (to ack it) and size.
* NPCs: `npcs` spawn points spread over the region (wolves: aggro, chase, leash, wander).
* Measured over `seconds` after a warm-up, per run: achieved tick rate, tick duration p50
  and p99 (step plus sends, wall clock), server CPU (process CPU time / wall time), RSS
  growth per player over the empty server, and bytes sent per player per second
  (payload + 4-byte link header + the 29 bytes of AEAD framing the RCM adds).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import multiprocessing as mp
import os
import random
import statistics
import struct
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

_LINK = struct.Struct("<I")
TICK_HZ = 20
AEAD_FRAMING = 29  # what the RCM adds per datagram (gameserver.wire.datagram.OVERHEAD)


@dataclass
class RunResult:
    players: int
    npcs: int
    tick_hz: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    cpu_p50_ms: float
    cpu_p99_ms: float
    loop_cpu_ms: float  # all the process's CPU (receive, gRPC, checkpoints too) per tick
    bytes_per_player_s: float
    cpu_pct: float
    mem_per_player_kb: float
    connected: int


def _pin(cpu: int) -> None:
    try:
        os.sched_setaffinity(0, {cpu % (os.cpu_count() or 1)})
    except (AttributeError, OSError):
        pass


def default_every() -> int:
    """The snapshot interval a region server uses unless configured otherwise."""
    from gameserver.region.shard import SnapshotConfig

    return SnapshotConfig().every


# --------------------------------------------------------------------------- server


def _server(
    port_q: Any,
    result_q: Any,
    players: int,
    npcs: int,
    seconds: float,
    warmup: float,
    seed: int,
    every: int,
    workers: int,
) -> None:
    _pin(0)  # before gRPC starts its threads: they inherit the affinity
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - Windows
        pass
    asyncio.run(_serve(port_q, result_q, players, npcs, seconds, warmup, seed, every, workers))


async def _serve(
    port_q: Any,
    result_q: Any,
    players: int,
    npcs: int,
    seconds: float,
    warmup: float,
    seed: int,
    every: int,
    workers: int,
) -> None:
    """What `realm serve region` runs (`RegionServer`, its gRPC endpoint with `LinkHub`,
    the fixed-rate driver, the maintenance loop with heartbeats, lease renewals and
    checkpoints), on the embedded stores (SQLite + memory), with the bench's world."""
    import tempfile
    from pathlib import Path

    import psutil

    from gameserver.api.region import PlayerJoin
    from gameserver.region.content import TEMPLATES, RegionContent, SpawnPoint
    from gameserver.region.driver import run_ticks
    from gameserver.region.movement import MoveRules
    from gameserver.region.server import ID_BLOCK_BITS, RegionServer
    from gameserver.region.shard import Shard, SnapshotConfig
    from gameserver.rpc.region import LinkHub, add_region
    from gameserver.rpc.transport import bind_server
    from gameserver.storage.factory import open_storage
    from gameserver.storage.models import CharacterState
    from gameserver.world.map import DEFAULT_MAP

    class CountingHub(LinkHub):
        """The server's real outbox, counting what each client is sent (plus the AEAD
        framing the RCM adds when it seals the payload into a datagram)."""

        sent = 0

        def deliver(self, conn_id: int, payload: bytes) -> None:
            self.sent += len(payload) + AEAD_FRAMING
            super().deliver(conn_id, payload)

    class TimedServer(RegionServer):
        measuring = False
        wall: list[float] = []
        cpu: list[float] = []

        def tick(self, now: int) -> None:
            c0, w0 = time.thread_time(), time.perf_counter()
            super().tick(now)
            if self.measuring:
                self.wall.append(time.perf_counter() - w0)
                self.cpu.append(time.thread_time() - c0)

    region = DEFAULT_MAP.region("elwynn")
    rng = random.Random(seed)
    proc = psutil.Process()
    with tempfile.TemporaryDirectory(prefix="openrealm-bench-") as tmp:
        db, hot = await open_storage(None, None, Path(tmp), realm="bench")
        hub = CountingHub()
        grpc_server, port = bind_server("127.0.0.1", 0)
        server = TimedServer(
            realm="bench",
            region=region,
            server_id="bench-0",
            db=db,
            hot=hot,
            outbox=hub,
            capacity=players,
            address=f"127.0.0.1:{port}",
            id_block=1,
        )
        # The bench's world: the region's designed spawns replaced by `npcs` wolves spread
        # over the whole square kilometre, so players constantly pull, fight and leash.
        spawns = tuple(
            SpawnPoint("wolf", rng.uniform(20, 980), rng.uniform(20, 980)) for _ in range(npcs)
        )
        snapshots = SnapshotConfig(every=every) if every else server.shard.snapshots
        server.shard = Shard(
            region=region,
            rules=MoveRules(max_speed=region.max_speed),
            seed=seed,
            content=RegionContent(templates=dict(TEMPLATES), spawns=spawns),
            snapshots=snapshots,
        )
        server.shard.world.use_id_block(1 << ID_BLOCK_BITS)
        add_region(grpc_server, server, hub)
        await grpc_server.start()
        stop = asyncio.Event()
        tasks = [
            asyncio.create_task(run_ticks(server, stop)),
            asyncio.create_task(server.maintain(stop)),
        ]
        await asyncio.sleep(0.2)  # the first tick spawns the NPCs
        rss_empty = proc.memory_info().rss
        # Players as the OEM places them: an account, a character row, a lease, a join
        # naming the RCM that holds the connection (bot process k plays RCM "bots-k").
        groups: dict[str, list[int]] = {}
        for i in range(players):
            acc = await db.create_account(f"bench{i}", "x")
            st = CharacterState(region=region.name, x=rng.uniform(50, 950), y=rng.uniform(50, 950))
            ch = await db.create_character(acc.id, f"Bench{i}", "human", "warrior", "alliance", st)
            lease = await hot.acquire(f"character:{ch.id}", "bench", server.lease_ttl_ms)
            assert lease is not None
            rcm = f"bots-{i % workers}"
            hub.bind(ch.id, rcm)
            server.admit(PlayerJoin(ch, st, lease, conn_id=ch.id, rcm=rcm))
            groups.setdefault(rcm, []).append(ch.id)
        port_q.put((port, groups))
        for _ in range(1200):  # every bot process's link attached (a minute at most)
            if hub.links >= len(groups):
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(warmup)
        ticks0, sent0 = server.ticks, hub.sent
        m_start, m_cpu = time.monotonic(), time.process_time()
        server.measuring = True
        await asyncio.sleep(seconds)
        server.measuring = False
        wall = time.monotonic() - m_start
        cpu = time.process_time() - m_cpu
        ticks = server.ticks - ticks0
        acked = sum(1 for link in server.shard.players.values() if link.acked_tick > 0)
        rss_full = proc.memory_info().rss
        stop.set()
        for t in tasks:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(t, 5)
        await grpc_server.stop(grace=0)
        await hot.close()
        await db.close()
    d = np.array(server.wall or [0.0]) * 1000
    c = np.array(server.cpu or [0.0]) * 1000
    n = max(1, players)
    result_q.put(
        asdict(
            RunResult(
                players=players,
                npcs=npcs,
                tick_hz=ticks / wall,
                p50_ms=float(np.percentile(d, 50)),
                p99_ms=float(np.percentile(d, 99)),
                max_ms=float(d.max()),
                cpu_p50_ms=float(np.percentile(c, 50)),
                cpu_p99_ms=float(np.percentile(c, 99)),
                loop_cpu_ms=1000 * cpu / max(1, ticks),
                bytes_per_player_s=(hub.sent - sent0) / wall / n,
                cpu_pct=100 * cpu / wall,
                mem_per_player_kb=(rss_full - rss_empty) / n / 1024,
                connected=acked,
            )
        )
    )


# --------------------------------------------------------------------------- bots


def _snapshot_head(buf: bytes) -> tuple[int, bool]:
    """A snapshot packet's tick and whether `you` is dead, without decoding it all (root
    -> Packet -> msg -> Snapshot: field 0 the tick, field 4 the `you` EntityState struct,
    whose byte 5 holds the flags, bit 0 dead). A bot process reads 5,000-20,000 of these a
    second; a full decode would need more CPU than the bot side has."""
    u32 = i32 = u16 = struct.unpack_from
    pkt = u32("<I", buf, 0)[0]
    vt = pkt - i32("<i", buf, pkt)[0]
    msg_off = u16("<H", buf, vt + 4 + 2 * 4)[0]
    snap = pkt + msg_off + u32("<I", buf, pkt + msg_off)[0]
    svt = snap - i32("<i", buf, snap)[0]
    tick_off = u16("<H", buf, svt + 4)[0]
    you_off = u16("<H", buf, svt + 4 + 2 * 4)[0] if u16("<H", buf, svt)[0] > 12 else 0
    tick = u32("<I", buf, snap + tick_off)[0] if tick_off else 0
    return tick, bool(you_off and buf[snap + you_off + 5] & 1)


def _bots(port: int, rcm: str, conns: list[int], seconds: float, seed: int, cpu: int) -> None:
    """One RCM's worth of players, sent through the RCM's own `RegionClient`: one `Link`
    stream to the region server, every player's inputs (three redundant frames and the
    newest snapshot tick as ack) packed into one message per 50 ms turn; snapshots read
    back from the `LinkDown` batches to ack them. A killed player stops and respawns."""
    _pin(cpu)
    from gameserver.rpc.region import RegionClient
    from gameserver.wire.messages import Respawn
    from gameserver.wire.structs import INPUT_FRAME_DTYPE

    rng = random.Random(seed)
    ack = dict.fromkeys(conns, 0)
    dead = dict.fromkeys(conns, False)
    frames = {c: np.zeros(0, INPUT_FRAME_DTYPE) for c in conns}
    heading = {c: rng.uniform(0, 2 * math.pi) for c in conns}
    step_len = 7.0 * 0.05

    class Snapshots:
        """The RCM's outbox: where it would seal each payload into a datagram."""

        def deliver(self, conn_id: int, payload: bytes) -> None:
            t, is_dead = _snapshot_head(payload)
            if t > ack.get(conn_id, t):
                ack[conn_id] = t
                dead[conn_id] = is_dead

        def kick(self, conn_id: int, reason: str) -> None:
            ack.pop(conn_id, None)

    async def run() -> None:
        link = RegionClient(
            f"127.0.0.1:{port}",
            server_id="bench-0",
            region_name="elwynn",
            outbox=Snapshots(),
            rcm_id=rcm,
        )
        link.open_link()
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        next_at = loop.time()
        seq = 0
        while loop.time() < end:
            seq += 1
            for c in conns:
                if c not in ack:  # kicked
                    continue
                if dead[c]:  # as a player does: stop, and release the spirit
                    link.submit_inputs(c, frames[c][:0], ack[c])
                    if seq % 20 == 0:
                        link.submit_command(c, Respawn())
                    continue
                if rng.random() < 0.02:
                    heading[c] = rng.uniform(0, 2 * math.pi)
                f = np.zeros(1, INPUT_FRAME_DTYPE)
                h = heading[c]
                f[0] = (seq, 50, 0, step_len * math.cos(h), step_len * math.sin(h), h)
                frames[c] = np.concatenate([frames[c][-2:], f])
                link.submit_inputs(c, frames[c], ack[c])
            next_at += 0.05
            await asyncio.sleep(max(0.0, next_at - loop.time()))
        await link.close()

    asyncio.run(run())


# --------------------------------------------------------------------------- in-process


@dataclass
class StepResult:
    players: int
    npcs: int
    every: int
    cpu_p50_ms: float
    cpu_p99_ms: float
    wall_p50_ms: float
    bytes_per_player_s: float
    history_kb_per_player: float


def run_inprocess(
    players: int, npcs: int = 2000, ticks: int = 60, warm: int = 200, every: int = 1, seed: int = 1
) -> StepResult:
    """The tick alone: the same world and bot behaviour as the socket run, with inputs and
    acks (two ticks late) queued directly, timing only `step()` after `warm` ticks (views
    and history at steady state). Far less noisy than the socket run on a shared box."""
    from gameserver.region.content import TEMPLATES, RegionContent, SpawnPoint
    from gameserver.region.movement import MoverState, MoveRules
    from gameserver.region.shard import SnapshotConfig
    from gameserver.region.snapshots import History
    from gameserver.region.tick import PlayerLink, Shard, queue_command, queue_inputs, step
    from gameserver.region.world import KIND_PLAYER
    from gameserver.wire.messages import Respawn, SnapshotAck
    from gameserver.wire.structs import FLAG_DEAD, INPUT_FRAME_DTYPE
    from gameserver.world.map import DEFAULT_MAP

    region = DEFAULT_MAP.region("elwynn")
    rng = random.Random(seed)
    spawns = tuple(
        SpawnPoint("wolf", rng.uniform(20, 980), rng.uniform(20, 980)) for _ in range(npcs)
    )
    shard = Shard(
        region=region,
        rules=MoveRules(max_speed=region.max_speed),
        seed=seed,
        content=RegionContent(templates=dict(TEMPLATES), spawns=spawns),
        snapshots=SnapshotConfig(every=every),
    )
    step(shard, 0)
    links = []
    for i in range(players):
        eid = shard.world.spawn(KIND_PLAYER, rng.uniform(50, 950), rng.uniform(50, 950))
        links.append(PlayerLink(i + 1, i + 1, eid, MoverState(joined_at_ms=0)))
        shard.players[eid] = links[-1]
    heading = [rng.uniform(0, 2 * math.pi) for _ in links]
    sent = [np.zeros(0, INPUT_FRAME_DTYPE) for _ in links]
    received: dict[int, list[int]] = {}
    cpu: list[float] = []
    wall: list[float] = []
    nbytes = 0
    for t in range(1, warm + ticks + 1):
        for i, link in enumerate(links):
            if shard.world.flags[shard.world.slot(link.eid)] & FLAG_DEAD:
                if t % 20 == 0:  # stop and release the spirit, as the socket bots do
                    queue_command(link, Respawn())
                continue
            if rng.random() < 0.02:
                heading[i] = rng.uniform(0, 2 * math.pi)
            f = np.zeros(1, INPUT_FRAME_DTYPE)
            h = heading[i]
            f[0] = (t, 50, 0, 0.35 * math.cos(h), 0.35 * math.sin(h), h)
            sent[i] = np.concatenate([sent[i][-2:], f])
            queue_inputs(link, sent[i].copy())
            got = received.get(link.conn_id)
            if got:  # the newest snapshot at least two ticks old
                while len(got) > 1 and got[1] <= shard.tick - 1:
                    got.pop(0)
                if got[0] <= shard.tick - 1:
                    queue_command(link, SnapshotAck(tick=got[0]))
        c0, w0 = time.thread_time(), time.perf_counter()
        res = step(shard, t * 50)
        w1, c1 = time.perf_counter(), time.thread_time()
        for conn, _ in res.snapshots:
            received.setdefault(conn, []).append(shard.tick)
        if t > warm:
            cpu.append((c1 - c0) * 1000)
            wall.append((w1 - w0) * 1000)
            nbytes += sum(len(p) + 4 + AEAD_FRAMING for _, p in res.snapshots)
    hist = shard.history
    return StepResult(
        players=players,
        npcs=npcs,
        every=every,
        cpu_p50_ms=float(np.percentile(cpu, 50)),
        cpu_p99_ms=float(np.percentile(cpu, 99)),
        wall_p50_ms=float(np.percentile(wall, 50)),
        bytes_per_player_s=nbytes / (ticks / TICK_HZ) / max(1, players),
        history_kb_per_player=(hist.nbytes if isinstance(hist, History) else 0) / 1024 / players,
    )


# --------------------------------------------------------------------------- runs


def run_once(
    players: int,
    npcs: int,
    seconds: float = 15.0,
    warmup: float = 5.0,
    workers: int = 4,
    seed: int = 1,
    every: int = 0,
) -> RunResult:
    """One run: the server process, then one bot process per simulated RCM once the
    players are placed. `every=0` keeps the server's default snapshot interval."""
    ctx = mp.get_context("spawn")
    port_q: mp.Queue[tuple[int, dict[str, list[int]]]] = ctx.Queue()
    result_q: mp.Queue[dict[str, float]] = ctx.Queue()
    workers = max(1, min(workers, players))
    args = (port_q, result_q, players, npcs, seconds, warmup, seed, every, workers)
    server = ctx.Process(target=_server, args=args)
    server.start()
    port, groups = port_q.get(timeout=120)
    bots = []
    for i, (rcm, conns) in enumerate(sorted(groups.items())):
        p = ctx.Process(target=_bots, args=(port, rcm, conns, warmup + seconds + 60, seed + i, 1))
        p.start()
        bots.append(p)
    raw: dict[str, Any] = result_q.get(timeout=warmup + seconds + 180)
    result = RunResult(**raw)
    server.join(timeout=10)
    for p in bots:
        p.terminate()
        p.join(timeout=5)
    return result


def sweep(
    counts: list[int], npcs: int, runs: int, seconds: float, warmup: float, every: int = 1
) -> list[RunResult]:
    """Median of each column over `runs` runs for each player count."""
    out = []
    for n in counts:
        results = [run_once(n, npcs, seconds, warmup, seed=r + 1, every=every) for r in range(runs)]
        med = {
            k: statistics.median(getattr(r, k) for r in results)
            for k in (
                "tick_hz",
                "p50_ms",
                "p99_ms",
                "max_ms",
                "cpu_p50_ms",
                "cpu_p99_ms",
                "loop_cpu_ms",
                "bytes_per_player_s",
                "cpu_pct",
                "mem_per_player_kb",
            )
        }
        out.append(
            RunResult(players=n, npcs=npcs, connected=min(r.connected for r in results), **med)
        )
    return out


def render(results: list[RunResult], every: int = 1) -> None:
    from rich.console import Console
    from rich.table import Table

    rate = f", a snapshot per client every {every} ticks" if every > 1 else ""
    t = Table(title=f"One region server, {TICK_HZ} Hz target{rate} (medians)")
    for col in (
        "players",
        "NPCs",
        "tick Hz",
        "tick p50 ms",
        "tick p99 ms",
        "CPU/tick p50",
        "CPU/tick p99",
        "all CPU/tick",
        "B/player/s down",
        "server CPU %",
        "KB/player RSS",
    ):
        t.add_column(col, justify="right")
    for r in results:
        t.add_row(
            str(r.players),
            str(r.npcs),
            f"{r.tick_hz:.1f}",
            f"{r.p50_ms:.1f}",
            f"{r.p99_ms:.1f}",
            f"{r.cpu_p50_ms:.1f}",
            f"{r.cpu_p99_ms:.1f}",
            f"{r.loop_cpu_ms:.1f}",
            f"{r.bytes_per_player_s:.0f}",
            f"{r.cpu_pct:.0f}",
            f"{r.mem_per_player_kb:.1f}",
        )
    Console(width=max(140, Console().width)).print(t)


def main(
    counts: list[int] | None = None,
    npcs: int = 2000,
    runs: int = 3,
    seconds: float = 15.0,
    warmup: float = 5.0,
    every: int = 0,
) -> list[RunResult]:
    every = every or default_every()
    results = sweep(counts or [100, 250, 500, 1000], npcs, runs, seconds, warmup, every)
    render(results, every)
    return results


def main_inprocess(counts: list[int], npcs: int = 2000, every: int = 0) -> list[StepResult]:
    """The tick alone for each player count, one line each, pinned to CPU 0."""
    _pin(0)
    out = []
    for n in counts:
        out.append(run_inprocess(n, npcs, every=every or default_every()))
        print(asdict(out[-1]), flush=True)
    return out


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--players", type=int, nargs="*", default=[100, 250, 500, 1000])
    ap.add_argument("--npcs", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--warmup", type=float, default=5.0)
    ap.add_argument(
        "--every",
        type=int,
        default=0,
        help="snapshot interval per client in ticks (default: the server's, SnapshotConfig)",
    )
    ap.add_argument(
        "--inprocess",
        action="store_true",
        help="time step() alone in this process (no sockets, no bot processes), pinned to CPU 0",
    )
    a = ap.parse_args()
    if a.inprocess:
        main_inprocess(a.players, a.npcs, a.every)
    else:
        main(a.players, a.npcs, a.runs, a.seconds, a.warmup, a.every)
