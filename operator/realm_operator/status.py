"""Pure status writers: observations in, the `status` of a Realm or Region out.

Kept apart from the handlers so what `kubectl get realms,regions` shows is testable without
a cluster, and so conditions only change their `lastTransitionTime` when their status
actually flips (a status that changes every tick would spam watchers).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from gameserver.scaling import ScalingDecision, ScalingHistory
from gameserver.scaling.policy import DrainRecord
from gameserver.storage.models import ServerHeartbeat, ServerState
from realm_operator.resources import (
    Condition,
    ConditionStatus,
    Drain,
    Recommendation,
    ScalingMemory,
    ServerStatus,
)

Manifest = dict[str, Any]


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def condition(
    previous: Iterable[Mapping[str, Any]] | None,
    type_: str,
    ok: bool,
    reason: str,
    message: str,
    now: float,
) -> Manifest:
    """A condition, keeping the old transition time when the status did not flip."""
    status = ConditionStatus.TRUE if ok else ConditionStatus.FALSE
    when = iso(now)
    for old in previous or ():
        if old.get("type") == type_ and old.get("status") == status.value:
            when = old.get("lastTransitionTime") or when
    return Condition(
        type=type_, status=status, reason=reason, message=message, last_transition_time=when
    ).dump()


def merge_conditions(
    previous: Iterable[Mapping[str, Any]] | None, new: Iterable[Manifest]
) -> list[Manifest]:
    new = list(new)
    types = {c["type"] for c in new}
    kept = [dict(c) for c in previous or () if c.get("type") not in types]
    return sorted(kept + new, key=lambda c: str(c.get("type")))


def format_ms(values: Iterable[float]) -> str:
    vals = list(values)
    return f"{max(vals):.1f}ms" if vals else ""


def history_from_status(memory: Mapping[str, Any] | None) -> tuple[ScalingHistory, int]:
    """The policy's history and the next pod ordinal, from Region status."""
    try:
        mem = ScalingMemory.model_validate(dict(memory or {}))
    except ValueError:
        mem = ScalingMemory()
    hist = ScalingHistory(
        recommendations=tuple((r.at, r.servers) for r in mem.recommendations),
        last_scale_at=mem.last_scale_at,
        drains=tuple(DrainRecord(d.server, d.since) for d in mem.drains),
    )
    return hist, mem.next_ordinal


def history_to_status(hist: ScalingHistory, next_ordinal: int) -> Manifest:
    return ScalingMemory(
        recommendations=[
            Recommendation(at=round(t, 3), servers=n) for t, n in hist.recommendations
        ],
        last_scale_at=hist.last_scale_at,
        drains=[Drain(server=d.server_id, since=d.since) for d in hist.drains],
        next_ordinal=next_ordinal,
    ).dump()


def server_rows(
    pods: Iterable[Manifest], beats: Mapping[str, ServerHeartbeat], draining: set[str]
) -> list[Manifest]:
    rows = []
    for pod in pods:
        name = pod["metadata"]["name"]
        beat = beats.get(name)
        state = ServerState(beat.state).value if beat else ServerState.STARTING.value
        rows.append(
            ServerStatus(
                pod=name,
                state=state,
                players=beat.players if beat else 0,
                capacity=beat.capacity if beat else 0,
                tick_p99_ms=round(beat.tick_p99_ms, 2) if beat else 0.0,
                drain_requested=name in draining,
            ).dump()
        )
    return rows


def decision_summary(d: ScalingDecision) -> str:
    return "; ".join(d.reasons) if d.reasons else "stable"
