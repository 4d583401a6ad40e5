"""The local supervisor: the scaling policy applied to region servers run by `realm up`
(shards as tasks in the embedded realm; processes under `realm up --distributed`).

It is the operator's little sibling and shares its brain: every interval it fetches the
servers of each region (joined with their heartbeats), asks the pure `decide` for a
decision, and applies it through a `Fleet`: start servers, ask one to drain (through the
hot store, which the server watches, exactly as the operator does), and stop the ones the
policy says are drained and empty (or saved past their drain timeout). It never stops a
server the policy has not cleared.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from gameserver import metrics
from gameserver.scaling.policy import (
    ScalingDecision,
    ScalingHistory,
    ScalingInput,
    ScalingSpec,
    ServerView,
    attribute_queue_demand,
    decide,
)

log = logging.getLogger(__name__)


class Fleet(Protocol):
    """The region servers a supervisor may start and stop."""

    async def servers(self, region: str) -> list[ServerView]: ...

    async def start(self, region: str) -> str: ...

    async def drain(self, region: str, server_id: str) -> None: ...

    async def stop(self, region: str, server_id: str) -> None: ...


@dataclass
class Supervisor:
    fleet: Fleet
    specs: dict[str, ScalingSpec]  # by world region
    realm: str = "home"
    max_players: int = 10**9
    queue_length: Callable[[], Awaitable[int]] | None = None
    # Players refused entry to a region for want of room (the OEM counts them): demand that
    # is on no server yet.
    unplaced: Callable[[str], int] | None = None
    clock: Callable[[], float] = time.monotonic
    history: dict[str, ScalingHistory] = field(default_factory=dict)
    decisions: list[tuple[str, ScalingDecision]] = field(default_factory=list)

    async def step(self) -> dict[str, ScalingDecision]:
        now = self.clock()
        views = {region: await self.fleet.servers(region) for region in self.specs}
        queued = await self.queue_length() if self.queue_length is not None else 0
        ready = sum(v.capacity for vs in views.values() for v in vs if v.state.value == "Ready")
        share = attribute_queue_demand(queued, ready, self.max_players, len(self.specs))
        out: dict[str, ScalingDecision] = {}
        for region, spec in self.specs.items():
            d = decide(
                ScalingInput(
                    servers=tuple(views[region]),
                    spec=spec,
                    now=now,
                    queue_demand=share + (self.unplaced(region) if self.unplaced else 0),
                    history=self.history.get(region, ScalingHistory()),
                )
            )
            self.history[region] = d.history
            out[region] = d
            metrics.DESIRED_SERVERS.labels(self.realm, region).set(d.desired)
            await self._apply(region, d)
        return out

    async def _apply(self, region: str, d: ScalingDecision) -> None:
        if d.start or d.drain or d.delete:
            self.decisions.append((region, d))
            log.info("scaling %s: %s", region, "; ".join(d.reasons))
        for _ in range(d.start):
            await self.fleet.start(region)
            metrics.OPERATOR_SCALE_EVENTS.labels(self.realm, region, "up", "load").inc()
        if d.drain is not None:
            await self.fleet.drain(region, d.drain)
            metrics.OPERATOR_SCALE_EVENTS.labels(self.realm, region, "down", "load").inc()
        for server_id in d.delete:
            await self.fleet.stop(region, server_id)

    async def run(self, stop: asyncio.Event, interval_s: float = 1.0) -> None:
        while not stop.is_set():
            try:
                await self.step()
            except Exception:  # a failed round is retried next interval
                log.exception("supervisor round failed")
            try:
                await asyncio.wait_for(stop.wait(), timeout=interval_s)
            except TimeoutError:
                pass
