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
import math
import multiprocessing as mp
import os
import random
import socket
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
    bytes_per_player_s: float
    cpu_pct: float
    mem_per_player_kb: float
    connected: int


def _pin(cpu: int) -> None:
    try:
        os.sched_setaffinity(0, {cpu % (os.cpu_count() or 1)})
    except (AttributeError, OSError):
        pass


# --------------------------------------------------------------------------- server


def _server(
    port_q: Any,
    result_q: Any,
    players: int,
    npcs: int,
    seconds: float,
    warmup: float,
    seed: int,
    every: int = 1,
) -> None:
    _pin(0)
    import psutil

    from gameserver.region.content import TEMPLATES, RegionContent, SpawnPoint
    from gameserver.region.movement import MoverState, MoveRules
    from gameserver.region.shard import SnapshotConfig
    from gameserver.region.tick import PlayerLink, Shard, queue_command, queue_inputs, step
    from gameserver.region.world import KIND_PLAYER
    from gameserver.wire.errors import WireError
    from gameserver.wire.messages import Inputs, SnapshotAck, decode
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
    proc = psutil.Process()
    step(shard, 0)  # spawn the NPCs
    rss_empty = proc.memory_info().rss
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8 << 20)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    port_q.put(sock.getsockname()[1])
    links: dict[int, tuple[PlayerLink, tuple[str, int]]] = {}
    t0 = time.monotonic()

    def now_ms() -> int:
        return int((time.monotonic() - t0) * 1000)

    def drain() -> None:
        while True:
            try:
                data, addr = sock.recvfrom(2048)
            except BlockingIOError:
                return
            if len(data) < 4:
                continue
            conn = _LINK.unpack_from(data)[0]
            entry = links.get(conn)
            if entry is None:  # a new bot: join at a random spot
                eid = shard.world.spawn(KIND_PLAYER, rng.uniform(50, 950), rng.uniform(50, 950))
                link = PlayerLink(conn, conn, eid, MoverState(joined_at_ms=now_ms()))
                shard.players[eid] = link
                entry = links[conn] = (link, addr)
            try:
                msg = decode(data[4:]).msg
            except WireError:
                continue
            if isinstance(msg, Inputs):
                queue_inputs(entry[0], msg.frames)
                if msg.ack_tick:
                    queue_command(entry[0], SnapshotAck(tick=msg.ack_tick))

    dt = 1.0 / TICK_HZ
    next_at = time.monotonic()
    durations: list[float] = []
    cpu_durations: list[float] = []
    measuring = False
    m_start = m_cpu = 0.0
    m_ticks = 0
    rss_full = 0
    sent_bytes = 0
    deadline = None
    while True:
        delay = next_at - time.monotonic()
        while delay > 0:
            drain()
            time.sleep(min(delay, 0.002))
            delay = next_at - time.monotonic()
        drain()
        started = time.perf_counter()
        cpu_started = time.thread_time()
        res = step(shard, now_ms())
        tick_bytes = 0
        for conn, payload in res.snapshots:
            entry = links.get(conn)
            if entry is None:
                continue
            try:
                sock.sendto(_LINK.pack(conn) + payload, entry[1])
            except (BlockingIOError, OSError):
                pass
            tick_bytes += len(payload) + 4 + AEAD_FRAMING
        elapsed = time.perf_counter() - started
        cpu_elapsed = time.thread_time() - cpu_started
        next_at += dt
        if time.monotonic() - next_at > 5 * dt:
            next_at = time.monotonic()
        if not measuring and len(links) >= players and deadline is None:
            deadline = time.monotonic() + warmup
        if deadline is not None and not measuring and time.monotonic() >= deadline:
            measuring = True
            m_start, m_cpu = time.monotonic(), time.process_time()
        if measuring:
            durations.append(elapsed)
            cpu_durations.append(cpu_elapsed)
            m_ticks += 1
            sent_bytes += tick_bytes
            if time.monotonic() - m_start >= seconds:
                break
        if time.monotonic() - t0 > warmup + seconds + 60:
            break  # bots never all connected
    wall = max(1e-9, time.monotonic() - m_start) if measuring else 1.0
    cpu = (time.process_time() - m_cpu) / wall if measuring else 0.0
    rss_full = proc.memory_info().rss
    d = np.array(durations or [0.0]) * 1000
    c = np.array(cpu_durations or [0.0]) * 1000
    n = max(1, len(links))
    result_q.put(
        asdict(
            RunResult(
                players=len(links),
                npcs=npcs,
                tick_hz=m_ticks / wall,
                p50_ms=float(np.percentile(d, 50)),
                p99_ms=float(np.percentile(d, 99)),
                max_ms=float(d.max()),
                cpu_p50_ms=float(np.percentile(c, 50)),
                cpu_p99_ms=float(np.percentile(c, 99)),
                bytes_per_player_s=sent_bytes / wall / n,
                cpu_pct=100 * cpu,
                mem_per_player_kb=(rss_full - rss_empty) / n / 1024,
                connected=len(links),
            )
        )
    )
    sock.close()


# --------------------------------------------------------------------------- bots


def _snapshot_tick(buf: bytes) -> int:
    """The tick of a snapshot packet without decoding it all (root -> Packet -> msg ->
    Snapshot field 0)."""
    u32 = i32 = u16 = struct.unpack_from
    pkt = u32("<I", buf, 0)[0]
    vt = pkt - i32("<i", buf, pkt)[0]
    msg_off = u16("<H", buf, vt + 4 + 2 * 4)[0]
    snap = pkt + msg_off + u32("<I", buf, pkt + msg_off)[0]
    svt = snap - i32("<i", buf, snap)[0]
    tick_off = u16("<H", buf, svt + 4)[0]
    return u32("<I", buf, snap + tick_off)[0] if tick_off else 0


def _bots(port: int, first_conn: int, count: int, seconds: float, seed: int, cpu: int) -> None:
    _pin(cpu)
    from gameserver.wire.messages import Envelope, Inputs, encode
    from gameserver.wire.structs import INPUT_FRAME_DTYPE

    rng = random.Random(seed)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    sock.connect(("127.0.0.1", port))
    sock.setblocking(False)
    conns = list(range(first_conn, first_conn + count))
    seq = dict.fromkeys(conns, 0)
    ack = dict.fromkeys(conns, 0)
    frames = {c: np.zeros(0, INPUT_FRAME_DTYPE) for c in conns}
    heading = {c: rng.uniform(0, 2 * math.pi) for c in conns}
    step_len = 7.0 * 0.05

    async def run() -> None:
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        next_at = loop.time()
        while loop.time() < end:
            for c in conns:
                if rng.random() < 0.02:
                    heading[c] = rng.uniform(0, 2 * math.pi)
                seq[c] += 1
                f = np.zeros(1, INPUT_FRAME_DTYPE)
                h = heading[c]
                f[0] = (seq[c], 50, 0, step_len * math.cos(h), step_len * math.sin(h), h)
                frames[c] = np.concatenate([frames[c][-2:], f])
                payload = encode(Envelope(Inputs(frames=frames[c], ack_tick=ack[c])))
                try:
                    sock.send(_LINK.pack(c) + payload)
                except (BlockingIOError, OSError):
                    pass
            while True:
                try:
                    data = sock.recv(2048)
                except (BlockingIOError, OSError):
                    break
                c = _LINK.unpack_from(data)[0]
                if c in ack:
                    ack[c] = max(ack[c], _snapshot_tick(data[4:]))
            next_at += 0.05
            await asyncio.sleep(max(0.0, next_at - loop.time()))

    asyncio.run(run())
    sock.close()


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
    from gameserver.wire.messages import SnapshotAck
    from gameserver.wire.structs import INPUT_FRAME_DTYPE
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
    every: int = 1,
) -> RunResult:
    ctx = mp.get_context("spawn")
    port_q: mp.Queue[int] = ctx.Queue()
    result_q: mp.Queue[dict[str, float]] = ctx.Queue()
    server = ctx.Process(
        target=_server, args=(port_q, result_q, players, npcs, seconds, warmup, seed, every)
    )
    server.start()
    port = port_q.get(timeout=60)
    per = [players // workers + (1 if i < players % workers else 0) for i in range(workers)]
    bots = []
    first = 1
    for i, n in enumerate(per):
        if n == 0:
            continue
        p = ctx.Process(target=_bots, args=(port, first, n, warmup + seconds + 10, seed + i, 1))
        p.start()
        bots.append(p)
        first += n
    raw: dict[str, Any] = result_q.get(timeout=warmup + seconds + 120)
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

    rate = f", a snapshot every {every} ticks per client" if every > 1 else ""
    t = Table(title=f"One region server, {TICK_HZ} Hz target{rate} (medians)")
    for col in (
        "players",
        "NPCs",
        "tick Hz",
        "tick p50 ms",
        "tick p99 ms",
        "CPU/tick p50",
        "CPU/tick p99",
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
            f"{r.bytes_per_player_s:.0f}",
            f"{r.cpu_pct:.0f}",
            f"{r.mem_per_player_kb:.1f}",
        )
    Console().print(t)


def main(
    counts: list[int] | None = None,
    npcs: int = 2000,
    runs: int = 3,
    seconds: float = 15.0,
    warmup: float = 5.0,
    every: int = 1,
) -> list[RunResult]:
    results = sweep(counts or [100, 250, 500, 1000], npcs, runs, seconds, warmup, every)
    render(results, every)
    return results


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
        default=1,
        help="snapshot interval per client in ticks (SnapshotConfig.every; staggered)",
    )
    ap.add_argument(
        "--inprocess",
        action="store_true",
        help="time step() alone in this process (no sockets, no bot processes), pinned to CPU 0",
    )
    a = ap.parse_args()
    if a.inprocess:
        _pin(0)
        for n in a.players:
            print(asdict(run_inprocess(n, a.npcs, every=a.every)), flush=True)
    else:
        main(a.players, a.npcs, a.runs, a.seconds, a.warmup, a.every)
