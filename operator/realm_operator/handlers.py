"""The kopf wiring: which events and timers call which reconciler.

Handlers are registered into an explicit `kopf.OperatorRegistry` by `register()`, with the
Kubernetes API, the signals provider, the timer interval and the clock passed in: no module
globals, so a test can run an operator against a mock API with an in-memory registry and
short intervals, and two operators can live in one process.

Two kopf indexes keep the Realms and Regions in memory: a Region's timer reads its Realm's
spec and status (queue length, Ready capacity) and counts the realm's world regions from
them, without extra API calls.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import kopf

from gameserver import metrics
from realm_operator import realms, regions
from realm_operator.builders import Owner
from realm_operator.kube import KubeApi
from realm_operator.resources import (
    GROUP,
    VERSION,
    InvalidSpec,
    RealmPhase,
    RealmSpec,
    RegionKind,
    parse_realm_spec,
    parse_region_spec,
)
from realm_operator.signals import SignalsProvider
from realm_operator.status import condition, format_ms, merge_conditions

log = logging.getLogger(__name__)
Manifest = dict[str, Any]


@dataclass
class OperatorContext:
    api: KubeApi
    signals: SignalsProvider
    interval: float = 10.0
    clock: Callable[[], float] = field(default=time.time)
    id_blocks: regions.IdBlocks = field(default_factory=regions.IdBlocks)


def _owner(kind: str, body: kopf.Body) -> Owner:
    meta = body.get("metadata", {})
    return Owner(kind=kind, name=meta["name"], uid=meta.get("uid", ""), namespace=meta["namespace"])


def _store_first(index: kopf.Index[Any, Any], key: Any) -> Any | None:
    store = index.get(key)
    if not store:
        return None
    for value in store:
        return value
    return None


def _reject(body: kopf.Body, kind: str, exc: InvalidSpec) -> kopf.PermanentError:
    message = f"invalid {kind} {body.get('metadata', {}).get('name')}: {exc}"
    kopf.warn(body, reason="InvalidSpec", message=message)
    return kopf.PermanentError(message)


def register(registry: kopf.OperatorRegistry, ctx: OperatorContext) -> None:
    realms_res = (GROUP, VERSION, "realms")
    regions_res = (GROUP, VERSION, "regions")

    # -- indexes --------------------------------------------------------------------
    @kopf.index(*realms_res, id="realm_index", registry=registry)
    def realm_index(
        namespace: str | None, name: str, spec: kopf.Spec, status: kopf.Status, uid: str, **_: Any
    ) -> dict[Any, Any]:
        return {(namespace, name): realms.realm_index_entry(spec, status, uid)}

    @kopf.index(*regions_res, id="region_index", registry=registry)
    def region_index(namespace: str | None, name: str, spec: kopf.Spec, **_: Any) -> dict[Any, Any]:
        try:
            kind = parse_region_spec(spec, name).kind.value
        except InvalidSpec:
            kind = "invalid"
        return {(namespace, spec.get("realmRef")): {"name": name, "kind": kind}}

    # -- Realm ----------------------------------------------------------------------
    @kopf.on.create(*realms_res, registry=registry)
    @kopf.on.update(*realms_res, field="spec", registry=registry)
    @kopf.on.resume(*realms_res, registry=registry)
    async def realm_children(body: kopf.Body, spec: kopf.Spec, patch: kopf.Patch, **_: Any) -> None:
        name = body["metadata"]["name"]
        try:
            parsed = parse_realm_spec(spec)
        except InvalidSpec as exc:
            metrics.OPERATOR_RECONCILES.labels(name, "Realm", "invalid").inc()
            patch.status["phase"] = RealmPhase.INVALID.value
            raise _reject(body, "Realm", exc) from None
        report = await realms.ensure_children(ctx.api, _owner("Realm", body), parsed)
        for child in report.created:
            kopf.info(body, reason="Created", message=f"created {child}")
        if report.foreign:
            kopf.warn(body, reason="Conflict", message=f"not owned by this realm: {report.foreign}")
        metrics.OPERATOR_RECONCILES.labels(name, "Realm", "ok").inc()

    @kopf.timer(*realms_res, interval=ctx.interval, registry=registry)
    async def realm_status(
        body: kopf.Body, spec: kopf.Spec, status: kopf.Status, patch: kopf.Patch, **_: Any
    ) -> None:
        name, namespace = body["metadata"]["name"], body["metadata"]["namespace"]
        now = ctx.clock()
        old = status.get("conditions")
        try:
            parsed = parse_realm_spec(spec)
        except InvalidSpec as exc:
            if status.get("phase") != RealmPhase.INVALID.value:
                patch.status["phase"] = RealmPhase.INVALID.value
                patch.status["conditions"] = merge_conditions(
                    old, [condition(old, "Valid", False, "InvalidSpec", str(exc), now)]
                )
            return
        report = await realms.ensure_children(ctx.api, _owner("Realm", body), parsed)
        signals = await ctx.signals(namespace, name, parsed)
        beats = await signals.registry.servers(name)
        load = realms.realm_load(beats, parsed)
        queue = await signals.queue_length(name)
        phase = realms.realm_phase(report)
        new: dict[str, Any] = {
            "phase": phase.value,
            "onlinePlayers": load.online_players,
            "queueLength": queue,
            "readyCapacity": load.ready_capacity,
            "servers": load.servers,
            "readyServers": load.ready_servers,
            "tickP99Ms": format_ms([load.tick_p99_ms] if load.tick_p99_ms is not None else []),
        }
        conds = [
            condition(old, "Valid", True, "SpecValid", "spec accepted", now),
            condition(
                old,
                "ComponentsReady",
                report.ready,
                "Ready" if report.ready else "NotReady",
                "all role Deployments ready" if report.ready else "waiting for role Deployments",
                now,
            ),
            condition(
                old,
                "Admitting",
                load.ready_capacity > 0,
                "CapacityReady" if load.ready_capacity else "NoReadyServers",
                f"{load.ready_capacity} players of Ready capacity, {queue} queued",
                now,
            ),
        ]
        new["conditions"] = merge_conditions(old, conds)
        metrics.ONLINE_PLAYERS.labels(name).set(load.online_players)
        for key, value in new.items():
            if status.get(key) != value:
                patch.status[key] = value

    # -- Region ---------------------------------------------------------------------
    @kopf.on.create(*regions_res, registry=registry)
    @kopf.on.update(*regions_res, field="spec", registry=registry)
    @kopf.on.resume(*regions_res, registry=registry)
    async def region_validate(
        body: kopf.Body, spec: kopf.Spec, status: kopf.Status, patch: kopf.Patch, **_: Any
    ) -> None:
        try:
            parse_region_spec(spec, body["metadata"]["name"])
        except InvalidSpec as exc:
            metrics.OPERATOR_RECONCILES.labels(spec.get("realmRef", ""), "Region", "invalid").inc()
            _update(patch, status, regions.invalid_status(status, str(exc), ctx.clock()))
            raise _reject(body, "Region", exc) from None

    @kopf.timer(*regions_res, interval=ctx.interval, registry=registry)
    async def region_scale(
        body: kopf.Body,
        spec: kopf.Spec,
        status: kopf.Status,
        patch: kopf.Patch,
        **kwargs: Any,
    ) -> None:
        realm_index: kopf.Index[Any, Any] = kwargs["realm_index"]
        region_index: kopf.Index[Any, Any] = kwargs["region_index"]
        now = ctx.clock()
        namespace = body["metadata"]["namespace"]
        try:
            parsed = parse_region_spec(spec, body["metadata"]["name"])
        except InvalidSpec as exc:
            _update(patch, status, regions.invalid_status(status, str(exc), now))
            return
        entry = _store_first(realm_index, (namespace, parsed.realm_ref))
        realm_spec: RealmSpec | None = None
        if entry is not None:
            try:
                realm_spec = parse_realm_spec(entry["spec"])
            except InvalidSpec:
                realm_spec = None
        if realm_spec is None:
            msg = f"realm {namespace}/{parsed.realm_ref} not found or invalid"
            _update(patch, status, regions.realm_missing_status(status, msg, now))
            return
        try:
            parsed.snapshots(realm_spec)  # its overrides and the realm's defaults together
        except InvalidSpec as exc:
            _update(patch, status, regions.invalid_status(status, str(exc), now))
            return
        assert entry is not None
        realm_status: Mapping[str, Any] = entry.get("status") or {}
        siblings: list[Any] = list(region_index.get((namespace, parsed.realm_ref)) or [])
        worlds = sum(1 for s in siblings if s.get("kind") == RegionKind.WORLD.value)
        realm = regions.RealmContext(
            name=parsed.realm_ref,
            spec=realm_spec,
            queue_length=int(realm_status.get("queueLength") or 0),
            ready_capacity=int(realm_status.get("readyCapacity") or 0),
            world_regions=max(1, worlds),
        )
        owner = _owner("Region", body)
        signals = await ctx.signals(namespace, parsed.realm_ref, realm_spec)
        # The error series exists (at 0) from the first pass, so error ratios and alerts
        # count the first failure instead of waiting for a second one.
        metrics.OPERATOR_RECONCILES.labels(parsed.realm_ref, "Region", "error")
        try:
            result = await regions.tick(
                ctx.api, signals, owner, parsed, realm, status, now, ctx.id_blocks
            )
        except Exception:
            metrics.OPERATOR_RECONCILES.labels(parsed.realm_ref, "Region", "error").inc()
            raise
        metrics.OPERATOR_RECONCILES.labels(parsed.realm_ref, "Region", "ok").inc()
        for name in result.created:
            kopf.info(body, reason="ScaleUp", message=f"started server {name}")
        for name in result.drained:
            kopf.info(body, reason="Drain", message=f"draining server {name}")
        for name in result.deleted:
            kopf.info(body, reason="ScaleDown", message=f"deleted drained server {name}")
        for name in result.replaced:
            kopf.warn(body, reason="Replaced", message=f"server {name} died; replacing it")
        _update(patch, status, result.status)


def _update(patch: kopf.Patch, status: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    """Patch only what changed, so an idle region causes no writes at all."""
    for key, value in new.items():
        if status.get(key) != value:
            patch.status[key] = value
