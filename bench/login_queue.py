"""What the login queue costs per operation with a long queue (run on demand, not in CI).

    python bench/login_queue.py                      # memory and Redis, 1,000 and 100,000
    python bench/login_queue.py --backends memory --sizes 100000 --runs 7

For each backend and queue length it fills the queue, then times single operations while
the queue stays at that length (an admission frees a seat first; a join is followed by a
leave), and prints the median over `--ops` operations, then the median of `--runs` such
runs:

- admit one: `admit_queued` taking the head of the queue into a free seat;
- position: `queue_positions` for one waiter (one re-rank, what a position push costs);
- positions x1000: one batched re-rank of 1,000 waiters, per waiter;
- join / leave: `queue_login` of a newcomer who must queue, and `leave_queue`.

The point is the comparison between sizes: none of these may grow with the queue (they
are O(log n): a Fenwick tree in memory, a sorted set in Redis), so the 100,000 column
should read like the 1,000 one. Redis times include the loopback round trip.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from gameserver.storage.interfaces import HotState
from gameserver.storage.loginqueue import AdmissionRate
from gameserver.storage.memory import MemoryHotState

REALM = "bench"
RATE = AdmissionRate(per_second=1e9, burst=10**9)  # the bucket never limits the bench
TTL = 3_600_000
LIMIT = 10**9


async def _fill(hot: HotState, n: int) -> None:
    """Queue accounts 1..n (no seats: limit 0), in pipelined batches on Redis."""
    pipeline = getattr(hot, "_client", None)
    if pipeline is None:
        for account in range(1, n + 1):
            await hot.queue_login(REALM, account, 0, RATE, TTL)
        return
    script: Any = hot._lq_login  # type: ignore[attr-defined]
    keys = hot._lq_keys(REALM)  # type: ignore[attr-defined]
    for start in range(1, n + 1, 2000):
        pipe = pipeline.pipeline(transaction=False)
        for account in range(start, min(n, start + 1999) + 1):
            await script(
                keys=keys, args=[account, 0, repr(RATE.per_second), RATE.burst, TTL], client=pipe
            )
        await pipe.execute()


async def _timed(
    op: Callable[[], Awaitable[Any]], before: Callable[[], Awaitable[Any]] | None, ops: int
) -> float:
    samples = []
    for _ in range(ops):
        if before is not None:
            await before()
        t0 = time.perf_counter()
        await op()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


async def _run(hot: HotState, n: int, ops: int) -> dict[str, float]:
    await _fill(hot, n)
    assert await hot.queue_length(REALM) == n
    newcomer = iter(range(10**8, 2 * 10**8))
    out: dict[str, float] = {}

    # Admit one: the head takes a freshly freed seat; the queue stays ~n long because a
    # newcomer joins for every admission (outside the timing).
    seated: list[int] = []

    async def free_a_seat() -> None:
        if seated:
            await hot.release_seat(REALM, seated.pop(), 0)
        await hot.queue_login(REALM, next(newcomer), 0, RATE, TTL)

    async def admit_one() -> None:
        got = await hot.admit_queued(REALM, len(seated) + 1, RATE, TTL, 1)
        seated.extend(a.account_id for a in got)

    out["admit one"] = await _timed(admit_one, free_a_seat, ops)

    middle = n // 2 + ops + 1  # an account in the middle of the queue
    out["position"] = await _timed(lambda: hot.queue_positions(REALM, [middle]), None, ops)
    batch = list(range(n // 2, n // 2 + 1000))
    per_batch = await _timed(lambda: hot.queue_positions(REALM, batch), None, max(5, ops // 20))
    out["positions x1000 (each)"] = per_batch / 1000

    joined: list[int] = []

    async def join() -> None:
        account = next(newcomer)
        joined.append(account)
        await hot.queue_login(REALM, account, 0, RATE, TTL)

    async def undo_join() -> None:
        if joined:
            await hot.leave_queue(REALM, joined.pop())

    out["join"] = await _timed(join, undo_join, ops)
    leaving = iter(range(n // 3, n))
    out["leave"] = await _timed(lambda: hot.leave_queue(REALM, next(leaving)), None, ops)
    return out


async def _open(backend: str, url: str) -> tuple[HotState, Callable[[], Awaitable[None]]]:
    if backend == "memory":
        hot = MemoryHotState(realm="bench")

        async def nothing() -> None:
            await hot.close()

        return hot, nothing
    from gameserver.storage.redis import RedisHotState

    prefix = f"bench:{uuid.uuid4().hex[:10]}:"
    redis_hot = await RedisHotState.open(url, prefix=prefix, realm="bench")

    async def cleanup() -> None:
        client = redis_hot._client
        keys = [k async for k in client.scan_iter(match=f"{prefix}*", count=1000)]
        if keys:
            await client.delete(*keys)
        await redis_hot.close()

    return redis_hot, cleanup


def _fmt(seconds: float) -> str:
    us = seconds * 1e6
    return f"{us:8.1f} us" if us < 10_000 else f"{us / 1000:8.1f} ms"


async def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--backends", default="memory,redis")
    ap.add_argument("--sizes", default="1000,100000")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--ops", type=int, default=200)
    ap.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"login queue: median of {args.runs} runs, each the median of {args.ops} operations")
    for backend in args.backends.split(","):
        results: dict[int, dict[str, float]] = {}
        for n in sizes:
            runs: list[dict[str, float]] = []
            for _ in range(args.runs):
                hot, cleanup = await _open(backend, args.redis_url)
                try:
                    runs.append(await _run(hot, n, args.ops))
                finally:
                    await cleanup()
            results[n] = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        print(f"\n{backend}")
        print(f"  {'queued':<24}" + "".join(f"{n:>14,}" for n in sizes))
        for op in results[sizes[0]]:
            print(f"  {op:<24}" + "".join(f"{_fmt(results[n][op]):>14}" for n in sizes))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
