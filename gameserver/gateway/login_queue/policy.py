"""The login queue's policy: pure functions, no I/O, no clock of their own.

- How many seats the realm has: the capacity of region servers whose heartbeat says
  Ready, capped by the realm's player limit. A Starting server is not counted (it cannot
  take players yet), nor a Draining one (its players are leaving it).
- Who may sit down now (`admission_budget`, the rule the stores enforce atomically) and
  at what pace (`AdmissionRate`, a token bucket shared by every gateway): re-exported from
  `gameserver.storage.loginqueue`, where both backends can reach them.
- How fast the queue moves: an exponentially weighted moving average of admissions from
  the queue, with time constant `tau_s`. The estimated wait of the player at position p is
  p / rate: players ahead of p leave the queue at that rate.
- How often a waiter hears its position (`refresh_interval`). Every admission moves
  every waiter up one place, so "push on every change" would cost O(n) per admission.
  Instead a waiter at position p is re-ranked every `fraction * p / rate` seconds
  (clamped to [min_s, max_s]): about when its place has moved by that fraction. The total
  re-ranking work per second is then sum over p of rate / (fraction * p), which is
  O(rate / fraction * log n) instead of O(rate * n); only the `max_s` clamp adds n / max_s
  for a queue that barely moves. Each re-rank is O(log n) (a Fenwick prefix sum or a
  ZRANK). Admission itself is told at once through the admissions log, so a long interval
  never delays a grant. A floor on the rate keeps the head of a stalled queue refreshed
  every `min_s`, so it hears promptly when the queue starts moving again.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from gameserver.storage.loginqueue import (
    AdmissionRate,
    LoginPath,
    admission_budget,
    refill,
)
from gameserver.storage.models import ServerHeartbeat, ServerKind, ServerState

__all__ = [
    "AdmissionRate",
    "LoginPath",
    "admission_budget",
    "eta_seconds",
    "ewma_rate",
    "ready_capacity",
    "refill",
    "refresh_interval",
    "seat_limit",
]

# Below this many admissions per second the queue is treated as stalled: no estimate.
STALLED_RATE = 1e-3


def ready_capacity(servers: Iterable[ServerHeartbeat]) -> int:
    """Players the Ready world region servers can hold between them. Players enter the
    world first, so dungeon instance servers and hosts add no seats."""
    return sum(
        max(0, s.capacity)
        for s in servers
        if s.state is ServerState.READY and s.kind is ServerKind.WORLD and not s.host
    )


def seat_limit(servers: Iterable[ServerHeartbeat], max_players: int) -> int:
    """Seats the realm may fill: Ready capacity, never above the realm's player limit."""
    return max(0, min(ready_capacity(servers), max_players))


def ewma_rate(previous: float, admitted: int, dt_s: float, tau_s: float) -> float:
    """Admissions per second, smoothed: the previous estimate moved towards the rate seen
    over the last `dt_s` by the weight an exponential average with time constant `tau_s`
    gives that interval (so the result does not depend on how often it is called)."""
    if dt_s <= 0:
        return previous
    weight = 1.0 - math.exp(-dt_s / tau_s)
    return previous + weight * (admitted / dt_s - previous)


def eta_seconds(position: int, rate: float) -> float | None:
    """Estimated wait at `position` (1 = next) at `rate` admissions per second; None when
    the queue is not moving (no seat has been freed lately) and any number would be a
    guess."""
    if rate < STALLED_RATE:
        return None
    return position / rate


def refresh_interval(
    position: int,
    rate: float,
    *,
    fraction: float = 0.05,
    min_s: float = 1.0,
    max_s: float = 15.0,
    floor_rate: float = 1.0,
) -> float:
    """Seconds until a waiter at `position` is re-ranked: about when its place has moved
    by `fraction` of itself at the current rate, within [min_s, max_s].

    The rate is taken as at least `floor_rate`, so when a stalled queue starts moving the
    players near its head hear of it within `min_s`, not `max_s` (the cost: about
    `floor_rate / fraction` re-ranks per second while the queue stands still)."""
    effective = max(rate, floor_rate)
    return min(max_s, max(min_s, fraction * position / effective))
