"""Region reconciliation, one tick of the Region timer: fetch, decide, apply.

Fetch: the Region's pods (filtered by labels *and* owner in code) and the realm's heartbeats.
Decide: `gameserver.scaling.decide`, the same pure policy the local supervisor uses.
Apply: create pods for scale-up; for scale-down ask the server to drain through the
registry (the OEM moves its players away) and delete a pod only when the policy lists it
as deletable: Draining with zero players, or drain timeout passed with every player saved.
`_may_delete` checks that again right before the DELETE. Dead pods (Failed/Succeeded) are
deleted so the policy sees a server missing and starts a new one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gameserver import metrics
from gameserver.scaling import (
    ScalingDecision,
    ScalingInput,
    ScalingSpec,
    ServerView,
    attribute_queue_demand,
    decide,
)
from gameserver.storage.models import ServerState
from realm_operator.builders import (
    ANNOTATION_ID_BLOCK,
    ID_BLOCKS,
    LABEL_REALM,
    LABEL_ROLE,
    Owner,
    build_server_pod,
    region_labels,
)
from realm_operator.fleet import Fleet, owned, region_selector, split
from realm_operator.kube import KubeApi
from realm_operator.resources import RealmSpec, RegionKind, RegionPhase, RegionSpec
from realm_operator.signals import RealmSignals
from realm_operator.status import (
    condition,
    decision_summary,
    format_ms,
    history_from_status,
    history_to_status,
    iso,
    merge_conditions,
    server_rows,
)

Manifest = dict[str, Any]
log = logging.getLogger(__name__)


def scaling_spec(spec: RegionSpec) -> ScalingSpec:
    return ScalingSpec(
        players_per_server=spec.players_per_server,
        target_utilisation=spec.target_utilisation,
        min_servers=spec.min_servers,
        max_servers=spec.max_servers,
        scale_up_window_s=spec.scale_up_window_seconds,
        scale_down_window_s=spec.scale_down_delay_seconds,
        scale_down_delay_s=0.0,
        drain_timeout_s=spec.drain_timeout_seconds,
    )


@dataclass(frozen=True)
class RealmContext:
    """What a Region needs to know about its Realm (from the operator's realm index)."""

    name: str
    spec: RealmSpec
    queue_length: int = 0
    ready_capacity: int = 0
    world_regions: int = 1


@dataclass
class TickResult:
    status: Manifest
    decision: ScalingDecision
    created: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    drained: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)


class IdBlocks:
    """Entity id blocks (`REALM_ID_BLOCK`) for new region server pods.

    A region server hands out entity ids `block << 20` upward, and clients near a border
    or in a handoff see ids of two servers at once, so no two servers of a realm that run
    at the same time may share a block. The operator picks, for each new pod, the lowest
    block in 1..4095 held by no pod of the realm in the namespace (every Region's, live,
    terminating or ended: a block is free again only once its pod object is gone, i.e.
    its process has exited), and records it in the pod's `mmo.openrealm.dev/id-block`
    annotation. Regions of one realm tick concurrently, so the list-pick-create steps
    run under one lock per realm (one operator replica runs at a time)."""

    def __init__(self) -> None:
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    def lock(self, namespace: str, realm: str) -> asyncio.Lock:
        return self._locks.setdefault((namespace, realm), asyncio.Lock())


def used_id_blocks(pods: Iterable[Manifest], realm: str) -> set[int]:
    """Blocks recorded on the realm's region server pods (labels checked in code)."""
    used = set()
    for pod in pods:
        meta = pod.get("metadata") or {}
        labels = meta.get("labels") or {}
        if labels.get(LABEL_REALM) != realm or labels.get(LABEL_ROLE) != "region":
            continue
        raw = (meta.get("annotations") or {}).get(ANNOTATION_ID_BLOCK)
        if raw is not None and raw.isdigit():
            used.add(int(raw))
    return used


def free_id_block(used: set[int]) -> int | None:
    return next((b for b in ID_BLOCKS if b not in used), None)


def _may_delete(view: ServerView | None, timed_out: bool) -> bool:
    """The last guard before a DELETE: the server is gone from the heartbeats' point of view
    only if it says Draining and empty, or its drain timed out and it reports saved."""
    if view is None or view.state is not ServerState.DRAINING:
        return False
    return view.players == 0 or (timed_out and view.saved)


async def fetch_fleet(api: KubeApi, signals: RealmSignals, owner: Owner, realm: str) -> Fleet:
    selector = region_selector(realm, owner.name)
    pods = owned(await api.list_pods(owner.namespace, selector), selector, owner.uid)
    beats = await signals.registry.servers(realm)
    return split(pods, beats)


async def tick(
    api: KubeApi,
    signals: RealmSignals,
    owner: Owner,
    spec: RegionSpec,
    realm: RealmContext,
    previous: Mapping[str, Any],
    now: float,
    id_blocks: IdBlocks | None = None,
) -> TickResult:
    blocks = id_blocks or IdBlocks()
    fleet = await fetch_fleet(api, signals, owner, realm.name)
    replaced: list[str] = []
    for pod in fleet.dead:
        name = pod["metadata"]["name"]
        log.warning("server %s ended (%s); replacing it", name, pod.get("status", {}).get("phase"))
        await api.delete_pod(owner.namespace, name)
        await signals.registry.remove(realm.name, name)
        replaced.append(name)
        metrics.OPERATOR_SCALE_EVENTS.labels(realm.name, owner.name, "replace", "dead").inc()

    queue_demand = 0
    if spec.kind is RegionKind.WORLD:
        queue_demand = attribute_queue_demand(
            realm.queue_length, realm.ready_capacity, realm.spec.max_players, realm.world_regions
        )
    hist, remembered_ordinal = history_from_status(previous.get("scaling"))
    views = fleet.views(spec.players_per_server)
    decision = decide(
        ScalingInput(
            servers=views,
            spec=scaling_spec(spec),
            now=now,
            queue_demand=queue_demand,
            history=hist,
        )
    )
    result = TickResult(status={}, decision=decision, replaced=replaced)
    by_id = {v.server_id: v for v in views}
    since = {d.server_id: d.since for d in hist.drains}

    # Scale-down, step 2: delete what the policy found drained (guarded once more).
    for sid in decision.delete:
        timed_out = now - since.get(sid, now) >= spec.drain_timeout_seconds
        if not _may_delete(by_id.get(sid), timed_out):
            log.error("policy listed %s for deletion but it is not drained; keeping it", sid)
            continue
        await api.delete_pod(owner.namespace, sid)
        await signals.registry.remove(realm.name, sid)
        result.deleted.append(sid)

    # Scale-down, step 1, and re-asserting drains in flight (a request may have been lost).
    drains = {d.server_id for d in decision.history.drains}
    for sid in sorted(drains):
        if by_id[sid].state is not ServerState.DRAINING or sid == decision.drain:
            await signals.registry.request_drain(realm.name, sid)
    if decision.drain is not None:
        result.drained.append(decision.drain)
        metrics.OPERATOR_SCALE_EVENTS.labels(realm.name, owner.name, "down", "load").inc()

    # Scale-up.
    next_ordinal = fleet.next_ordinal(remembered_ordinal)
    if decision.start:
        async with blocks.lock(owner.namespace, realm.name):
            every = {LABEL_REALM: realm.name, LABEL_ROLE: "region"}
            used = used_id_blocks(await api.list_pods(owner.namespace, every), realm.name)
            for _ in range(decision.start):
                block = free_id_block(used)
                if block is None:
                    log.error("realm %s has no free entity id block left", realm.name)
                    break
                body = build_server_pod(owner, realm.name, realm.spec, spec, next_ordinal, block)
                next_ordinal += 1
                used.add(block)
                if await api.create_pod(owner.namespace, body):
                    result.created.append(body["metadata"]["name"])
    if decision.start:
        reason = (
            "queue" if queue_demand else ("min" if decision.active < spec.min_servers else "load")
        )
        metrics.OPERATOR_SCALE_EVENTS.labels(realm.name, owner.name, "up", reason).inc()
    metrics.DESIRED_SERVERS.labels(realm.name, owner.name).set(decision.desired)

    result.status = region_status(
        fleet, decision, previous, now, queue_demand, next_ordinal, drains, result
    )
    result.status["mapRegion"] = spec.map_region.name
    result.status["kind"] = spec.kind.value
    # The actual side of desired vs actual: every state set each pass, so a state that
    # empties drops to 0 instead of keeping its last count.
    rows = result.status.get("servers", [])
    for state in ServerState:
        count = sum(1 for row in rows if row["state"] == state.value)
        metrics.REGION_SERVERS.labels(realm.name, owner.name, state.value).set(count)
    return result


def region_status(
    fleet: Fleet,
    decision: ScalingDecision,
    previous: Mapping[str, Any],
    now: float,
    queue_demand: int,
    next_ordinal: int,
    drains: set[str],
    result: TickResult,
) -> Manifest:
    deleted = set(result.deleted) | set(result.replaced)
    live = [p for p in fleet.live if p["metadata"]["name"] not in deleted]
    rows = server_rows(live, fleet.beats, drains)
    busy = bool(result.created or result.deleted or drains or result.replaced)
    starting = any(r["state"] == ServerState.STARTING.value for r in rows)
    phase = RegionPhase.SCALING if busy or starting else RegionPhase.STABLE
    scaled = bool(result.created or result.drained)
    status: Manifest = {
        "phase": phase.value,
        "players": sum(r["players"] for r in rows),
        "queueDemand": queue_demand,
        "servers": rows,
        "serverCount": len(rows),
        "readyServers": sum(1 for r in rows if r["state"] == ServerState.READY.value),
        "desiredServers": decision.desired,
        "tickP99Ms": format_ms(r["tickP99Ms"] for r in rows if r["state"] != "Starting"),
        "scaling": history_to_status(decision.history, next_ordinal),
        "lastScaleTime": iso(now) if scaled else previous.get("lastScaleTime"),
        "lastScaleReason": decision_summary(decision)
        if scaled
        else previous.get("lastScaleReason"),
    }
    old = previous.get("conditions")
    status["conditions"] = merge_conditions(
        old,
        [
            condition(old, "Valid", True, "SpecValid", "spec accepted", now),
            condition(old, "RealmFound", True, "RealmFound", "realm found", now),
            condition(
                old,
                "Stable",
                phase is RegionPhase.STABLE,
                "Stable" if phase is RegionPhase.STABLE else "Scaling",
                decision_summary(decision),
                now,
            ),
        ],
    )
    return {k: v for k, v in status.items() if v is not None}


def invalid_status(previous: Mapping[str, Any], message: str, now: float) -> Manifest:
    old = previous.get("conditions")
    return {
        "phase": RegionPhase.INVALID.value,
        "conditions": merge_conditions(
            old, [condition(old, "Valid", False, "InvalidSpec", message, now)]
        ),
    }


def realm_missing_status(previous: Mapping[str, Any], message: str, now: float) -> Manifest:
    old = previous.get("conditions")
    return {
        "phase": RegionPhase.PENDING.value,
        "conditions": merge_conditions(
            old,
            [
                condition(old, "Valid", True, "SpecValid", "spec accepted", now),
                condition(old, "RealmFound", False, "RealmNotFound", message, now),
            ],
        ),
    }


__all__ = ["IdBlocks", "RealmContext", "TickResult", "region_labels", "tick"]
