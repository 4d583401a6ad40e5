"""The fixed-rate driver around the pure tick.

Ticks are scheduled on a fixed grid (start + k * dt), not "sleep dt after each tick", so
small delays do not accumulate into a slower rate. A tick that overruns is counted; when the
server falls more than a few ticks behind it skips ahead rather than trying to catch up in a
burst (which would only make the next ticks late too).
"""

from __future__ import annotations

import asyncio
import time

from gameserver import metrics
from gameserver.clock import now_ms
from gameserver.region.server import RegionServer
from gameserver.storage.models import ServerState

MAX_BEHIND_TICKS = 5


async def run_ticks(server: RegionServer, stop: asyncio.Event) -> None:
    dt = 1.0 / server.tick_rate
    labels = (server.realm, server.region.name, server.server_id)
    rate_gauge = metrics.TICK_RATE.labels(*labels)
    server.state = ServerState.READY if server.state is ServerState.STARTING else server.state
    next_at = time.monotonic()
    window_start, window_ticks = next_at, 0
    while not stop.is_set():
        delay = next_at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            await asyncio.sleep(0)  # let I/O in even when behind
        server.tick(now_ms())
        window_ticks += 1
        next_at += dt
        now = time.monotonic()
        if now - next_at > MAX_BEHIND_TICKS * dt:
            next_at = now
        if now - window_start >= 1.0:
            server.achieved_hz = window_ticks / (now - window_start)
            rate_gauge.set(server.achieved_hz)
            window_start, window_ticks = now, 0
