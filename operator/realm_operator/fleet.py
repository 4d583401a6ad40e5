"""A Region's servers as the policy sees them: its pods joined with their heartbeats.

Pods say which servers *exist*; heartbeats say how they are doing. A pod with no heartbeat
yet is Starting; a heartbeat with no pod is a leftover that will expire and is ignored; a
pod that ended (Failed or Succeeded) is dead and gets replaced. Ownership is checked in code
on every listing (labels *and* the owner's uid), so a selector the server did not apply, or
a stranger's pod with similar labels, can never make the operator drain or delete it.
All functions here are pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from gameserver.scaling import ServerView
from gameserver.storage.models import ServerHeartbeat, ServerState
from realm_operator.builders import ANNOTATION_ORDINAL, LABEL_REALM, LABEL_REGION

Manifest = dict[str, Any]
DEAD_PHASES = frozenset({"Failed", "Succeeded"})


def owned(pods: Iterable[Manifest], labels: Mapping[str, str], owner_uid: str) -> list[Manifest]:
    """Pods carrying all `labels` and owned by `owner_uid` (or by nobody: adoptable)."""
    out = []
    for pod in pods:
        meta = pod.get("metadata") or {}
        have = meta.get("labels") or {}
        if any(have.get(k) != v for k, v in labels.items()):
            continue
        refs = meta.get("ownerReferences") or []
        if refs and not any(r.get("uid") == owner_uid for r in refs):
            continue
        out.append(pod)
    return out


def region_selector(realm: str, region: str) -> dict[str, str]:
    return {LABEL_REALM: realm, LABEL_REGION: region}


def ordinal_of(pod: Manifest) -> int:
    meta = pod.get("metadata") or {}
    raw = (meta.get("annotations") or {}).get(ANNOTATION_ORDINAL)
    if raw is None:
        raw = str(meta.get("name", "")).rsplit("-", 1)[-1]
    try:
        return int(raw)
    except ValueError:
        return -1


def is_terminating(pod: Manifest) -> bool:
    return bool((pod.get("metadata") or {}).get("deletionTimestamp"))


def is_dead(pod: Manifest) -> bool:
    return (pod.get("status") or {}).get("phase") in DEAD_PHASES


@dataclass(frozen=True)
class Fleet:
    live: tuple[Manifest, ...]  # pods that count as servers
    dead: tuple[Manifest, ...]  # ended pods, to be deleted and replaced
    terminating: tuple[Manifest, ...]  # already being deleted: neither counted nor touched
    beats: Mapping[str, ServerHeartbeat]  # by server id, only for live pods

    def views(self, players_per_server: int) -> tuple[ServerView, ...]:
        out = []
        for pod in self.live:
            name = pod["metadata"]["name"]
            beat = self.beats.get(name)
            if beat is None:
                out.append(ServerView(server_id=name, capacity=players_per_server))
                continue
            out.append(
                ServerView(
                    server_id=name,
                    state=ServerState(beat.state),
                    players=beat.players,
                    capacity=beat.capacity or players_per_server,
                    saved=bool(getattr(beat, "saved", False)),
                )
            )
        return tuple(out)

    def next_ordinal(self, remembered: int) -> int:
        pods = (*self.live, *self.dead, *self.terminating)
        return max([remembered, *(ordinal_of(p) + 1 for p in pods)])


def split(pods: Iterable[Manifest], beats: Iterable[ServerHeartbeat]) -> Fleet:
    """Join pods and heartbeats by server id, which is the pod's name: unique to the Region
    that made it (the heartbeat's `region` is the map region, which several Regions may
    share)."""
    live, dead, terminating = [], [], []
    for pod in sorted(pods, key=ordinal_of):
        if is_terminating(pod):
            terminating.append(pod)
        elif is_dead(pod):
            dead.append(pod)
        else:
            live.append(pod)
    names = {p["metadata"]["name"] for p in live}
    by_id = {b.server_id: b for b in beats if b.server_id in names}
    return Fleet(tuple(live), tuple(dead), tuple(terminating), by_id)
