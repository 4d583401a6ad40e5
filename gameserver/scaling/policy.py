"""The region scaling policy: one pure function, shared by the Kubernetes operator and the
local supervisor of `realm up`.

Why a pure function: scaling bugs are the ones that kill players (a pod with people in it
deleted) or burn money (flapping). Both are properties of a *decision*, not of the I/O
around it, so the decision takes everything it needs as arguments, including `now` and the
history it needs, and returns the new history with the decision. Callers fetch (heartbeats,
pods or processes, the login queue), call `decide`, and apply. Tests run it on simulated
time.

The rules, in order:

1. Demand is the players on the region's servers (Draining ones included: the OEM is
   moving them to other shards) plus the login-queue demand attributed to this region.
2. The raw recommendation is `ceil(demand / (players_per_server * target_utilisation))`,
   clamped to `[min_servers, max_servers]`.
3. Stabilisation, as the Kubernetes HPA does it: scaling *up* takes the minimum
   recommendation over the up window (0 seconds by default: prompt); scaling *down* takes
   the maximum recommendation over the down window, so a dip inside the window never
   shrinks the region and flapping load cannot oscillate it. A scale-down also waits
   `scale_down_delay_s` after the last scale event.
4. Scaling up starts `desired - active` servers. Scaling down drains one server at a time:
   the emptiest Ready one (ties: the newest id), and only when no drain is already in
   flight. Draining servers never count as capacity.
5. A Draining server may be deleted only when its heartbeat shows it Draining with zero
   players, or when the drain timeout has passed *and* it reports every character saved.
   Nothing else is ever deleted by this policy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from gameserver.storage.models import ServerState

__all__ = [
    "DrainRecord",
    "ScalingDecision",
    "ScalingHistory",
    "ScalingInput",
    "ScalingSpec",
    "ServerView",
    "attribute_queue_demand",
    "decide",
]


@dataclass(frozen=True)
class ServerView:
    """One region server as the caller sees it (pod or process joined with its heartbeat).

    A server with no heartbeat yet is `Starting` with 0 players. `saved` is the server's
    report that every character it holds has been saved: it only matters once a drain has
    timed out with players still on the server.
    """

    server_id: str
    state: ServerState = ServerState.STARTING
    players: int = 0
    capacity: int = 0
    saved: bool = False


@dataclass(frozen=True)
class ScalingSpec:
    """The knobs of one region (from the Region resource or the local config)."""

    players_per_server: int
    target_utilisation: float = 0.75
    min_servers: int = 1
    max_servers: int = 10
    scale_up_window_s: float = 0.0
    scale_down_window_s: float = 300.0
    scale_down_delay_s: float = 0.0
    drain_timeout_s: float = 600.0

    def __post_init__(self) -> None:
        if self.players_per_server < 1:
            raise ValueError("players_per_server must be at least 1")
        if not 0.0 < self.target_utilisation <= 1.0:
            raise ValueError("target_utilisation must be in (0, 1]")
        if self.min_servers < 0 or self.max_servers < self.min_servers:
            raise ValueError("need 0 <= min_servers <= max_servers")
        for name in ("scale_up_window_s", "scale_down_window_s", "scale_down_delay_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        if self.drain_timeout_s < 0:
            raise ValueError("drain_timeout_s must not be negative")


@dataclass(frozen=True)
class DrainRecord:
    """A drain the caller asked for (or first saw), and when."""

    server_id: str
    since: float


@dataclass(frozen=True)
class ScalingHistory:
    """Everything the policy remembers between calls. Callers persist it (the operator in
    Region status) and pass it back; the policy has no hidden state."""

    recommendations: tuple[tuple[float, int], ...] = ()
    last_scale_at: float | None = None
    drains: tuple[DrainRecord, ...] = ()


@dataclass(frozen=True)
class ScalingInput:
    servers: tuple[ServerView, ...]
    spec: ScalingSpec
    now: float
    queue_demand: int = 0
    history: ScalingHistory = field(default_factory=ScalingHistory)


@dataclass(frozen=True)
class ScalingDecision:
    """What to do now. `start` servers to start; `drain` one server to ask to drain;
    `delete` servers that may be stopped and removed. `history` is to be passed back."""

    desired: int
    recommendation: int
    active: int
    start: int
    drain: str | None
    delete: tuple[str, ...]
    reasons: tuple[str, ...]
    history: ScalingHistory

    @property
    def direction(self) -> str:
        if self.start:
            return "up"
        if self.drain is not None:
            return "down"
        return "none"


def attribute_queue_demand(
    queue_length: int, ready_capacity: int, max_players: int, world_regions: int
) -> int:
    """The share of a realm's login queue that one *world* region should plan for.

    Only the part of the queue that more servers could admit counts: once the Ready
    capacity reaches the realm's player limit, the limit (not the servers) holds the queue,
    and scaling would not help. The rest is split evenly over the realm's world regions
    (rounded up, so a small queue still wakes every region). Instance regions get none:
    players leave the queue into the world, not into a dungeon.
    """
    if queue_length <= 0 or world_regions <= 0:
        return 0
    admissible = min(queue_length, max(0, max_players - ready_capacity))
    return math.ceil(admissible / world_regions)


def _recommend(demand: int, spec: ScalingSpec) -> int:
    per_server = spec.players_per_server * spec.target_utilisation
    raw = math.ceil(demand / per_server - 1e-9) if demand > 0 else 0
    return max(spec.min_servers, min(spec.max_servers, raw))


def decide(inp: ScalingInput) -> ScalingDecision:
    """Decide how a region should scale now. Pure: same input, same decision."""
    spec, now, hist = inp.spec, inp.now, inp.history
    reasons: list[str] = []
    present = {s.server_id: s for s in inp.servers}

    # Drains in flight: the ones we asked for (still present) and any server that reports
    # Draining on its own; the earliest sighting is kept for the timeout.
    drains: dict[str, float] = {d.server_id: d.since for d in hist.drains if d.server_id in present}
    for s in inp.servers:
        if s.state is ServerState.DRAINING and s.server_id not in drains:
            drains[s.server_id] = now
    active = [s for s in inp.servers if s.server_id not in drains]

    demand = sum(max(0, s.players) for s in inp.servers) + max(0, inp.queue_demand)
    recommendation = _recommend(demand, spec)

    horizon = max(spec.scale_up_window_s, spec.scale_down_window_s)
    kept = [(t, r) for t, r in hist.recommendations if now - t < horizon]
    recs = (*kept, (now, recommendation))
    up_window = [r for t, r in recs if now - t <= spec.scale_up_window_s]
    down_window = [r for t, r in recs if now - t <= spec.scale_down_window_s]

    current = len(active)
    desired = current
    if recommendation > current:
        desired = max(current, min(up_window))
        if desired > current:
            reasons.append(
                f"scale up: demand {demand} ({inp.queue_demand} queued) needs {desired} "
                f"servers, {current} active"
            )
        else:
            reasons.append(f"hold: up window of {spec.scale_up_window_s:g}s not elapsed")
    elif recommendation < current:
        stabilised = min(current, max(down_window))
        if stabilised < current:
            desired = stabilised
        else:
            reasons.append(
                f"hold: {max(down_window)} servers recommended within the "
                f"{spec.scale_down_window_s:g}s down window"
            )
    if current < spec.min_servers:
        desired = max(desired, spec.min_servers)
    if current > spec.max_servers:
        desired = min(desired, spec.max_servers)

    start = max(0, desired - current)
    if start and not any("scale up" in r for r in reasons):
        reasons.append(f"scale up: {current} active, need {desired}")

    drain: str | None = None
    if desired < current:
        recently = hist.last_scale_at is not None and now - hist.last_scale_at < (
            spec.scale_down_delay_s
        )
        ready = [s for s in active if s.state is ServerState.READY]
        if drains:
            reasons.append(f"hold: drain of {', '.join(sorted(drains))} still in flight")
        elif recently:
            reasons.append(f"hold: scale-down delay of {spec.scale_down_delay_s:g}s")
        elif not ready:
            reasons.append("hold: no Ready server to drain")
        else:
            newest_first = sorted(ready, key=lambda s: s.server_id, reverse=True)
            victim = min(newest_first, key=lambda s: s.players)
            drain = victim.server_id
            drains[drain] = now
            reasons.append(
                f"scale down: demand {demand} needs {desired} servers, draining "
                f"{drain} ({victim.players} players)"
            )

    delete: list[str] = []
    for sid, since in sorted(drains.items()):
        s = present[sid]
        if s.state is ServerState.DRAINING and s.players == 0:
            delete.append(sid)
            reasons.append(f"delete {sid}: drained and empty")
        elif now - since >= spec.drain_timeout_s:
            if s.saved:
                delete.append(sid)
                reasons.append(
                    f"delete {sid}: drain timeout {spec.drain_timeout_s:g}s passed, "
                    f"{s.players} players saved"
                )
            else:
                reasons.append(f"keep {sid}: drain timed out but its players are not saved")

    scaled = start > 0 or drain is not None
    new_hist = replace(
        hist,
        recommendations=recs,
        last_scale_at=now if scaled else hist.last_scale_at,
        drains=tuple(DrainRecord(sid, t) for sid, t in sorted(drains.items()) if sid not in delete),
    )
    return ScalingDecision(
        desired=desired,
        recommendation=recommendation,
        active=current,
        start=start,
        drain=drain,
        delete=tuple(delete),
        reasons=tuple(reasons),
        history=new_hist,
    )
