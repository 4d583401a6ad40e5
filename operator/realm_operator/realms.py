"""Realm reconciliation: make the realm's Deployments and Services (and, when the Realm names
no token key, its token-key Secret) exist as built, and write the realm's status from its
servers' heartbeats and its login queue.

Create-if-missing and patch-on-drift (by a spec hash on the child), so running it again, or
after an operator restart, changes nothing. A child of the right name that this Realm does
not own is left alone and reported: the operator never takes over what it did not make.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gameserver.storage.models import ServerHeartbeat, ServerKind, ServerState
from realm_operator.builders import (
    ANNOTATION_HASH,
    MANAGED_BY,
    Owner,
    build_realm_children,
    build_token_secret,
)
from realm_operator.kube import KubeApi
from realm_operator.resources import RealmPhase, RealmSpec

Manifest = dict[str, Any]
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChildrenReport:
    created: tuple[str, ...] = ()
    patched: tuple[str, ...] = ()
    foreign: tuple[str, ...] = ()
    ready: bool = False


def _owned_by(obj: Manifest, uid: str) -> bool:
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    return any(r.get("uid") == uid for r in refs)


def _adoptable(obj: Manifest) -> bool:
    meta = obj.get("metadata") or {}
    labels = meta.get("labels") or {}
    return (
        not meta.get("ownerReferences") and labels.get("app.kubernetes.io/managed-by") == MANAGED_BY
    )


def _deployment_ready(obj: Manifest) -> bool:
    want = (obj.get("spec") or {}).get("replicas", 1)
    have = (obj.get("status") or {}).get("readyReplicas") or 0
    return bool(have >= want)


async def ensure_children(api: KubeApi, owner: Owner, spec: RealmSpec) -> ChildrenReport:
    created, patched, foreign = [], [], []
    ready = True
    if spec.token_key is None:
        # Gateway and RCM refuse to start without the key they share. A random one, made
        # once: an existing Secret is never replaced (its key seals live tokens).
        secret = build_token_secret(owner, secrets.token_bytes(32).hex())
        if await api.create_secret_once(secret):
            created.append(f"Secret/{secret['metadata']['name']}")
    for body in build_realm_children(owner, spec):
        kind, name = body["kind"], body["metadata"]["name"]
        current = await api.get(kind, owner.namespace, name)
        if current is None:
            if await api.create(body):
                created.append(f"{kind}/{name}")
            ready = ready and kind != "Deployment"
            continue
        if not _owned_by(current, owner.uid) and not _adoptable(current):
            foreign.append(f"{kind}/{name}")
            continue
        want = body["metadata"]["annotations"][ANNOTATION_HASH]
        have = ((current.get("metadata") or {}).get("annotations") or {}).get(ANNOTATION_HASH)
        if want != have or not _owned_by(current, owner.uid):
            patch = {"metadata": body["metadata"], "spec": body["spec"]}
            await api.patch(kind, owner.namespace, name, patch)
            patched.append(f"{kind}/{name}")
        if kind == "Deployment" and not _deployment_ready(current):
            ready = False
    return ChildrenReport(tuple(created), tuple(patched), tuple(foreign), ready)


@dataclass(frozen=True)
class RealmLoad:
    online_players: int
    servers: int
    ready_servers: int
    ready_capacity: int
    tick_p99_ms: float | None


def realm_load(beats: list[ServerHeartbeat], spec: RealmSpec) -> RealmLoad:
    """Pure: the realm-wide numbers from every live heartbeat of the realm."""
    beats = [b for b in beats if not b.host]  # a host's load is its shards', counted already
    ready = [b for b in beats if ServerState(b.state) is ServerState.READY]
    world = [b for b in ready if ServerKind(b.kind) is ServerKind.WORLD]
    capacity = min(spec.max_players, sum(max(0, b.capacity) for b in world))
    p99 = max((b.tick_p99_ms for b in beats), default=None)
    return RealmLoad(
        online_players=sum(max(0, b.players) for b in beats),
        servers=len(beats),
        ready_servers=len(ready),
        ready_capacity=capacity,
        tick_p99_ms=p99,
    )


def realm_phase(report: ChildrenReport) -> RealmPhase:
    if report.foreign:
        return RealmPhase.PROGRESSING
    return RealmPhase.RUNNING if report.ready else RealmPhase.PROGRESSING


def realm_index_entry(spec: Mapping[str, Any], status: Mapping[str, Any], uid: str) -> Manifest:
    return {"spec": dict(spec), "status": dict(status), "uid": uid}
