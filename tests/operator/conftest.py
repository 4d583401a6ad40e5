"""An in-process operator against kmock, for end-to-end tests without a cluster.

kopf runs cluster-wide and standalone (kmock cannot list namespaces and has no peering
resource); it logs in through a login handler pointing at the mock, so no kubeconfig is
read. The server registry and the login queue are injected: one
`gameserver.storage.memory.MemoryHotState`, the hot state the roles use, so heartbeats and
queue lengths go through the same methods the operator calls on Redis in production.
Objects are created over HTTP only after kopf's watches are open, so each arrives exactly
once.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
for p in (ROOT, ROOT / "operator"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

import kmock  # noqa: E402
import kopf  # noqa: E402
from kubernetes import client as k8s  # noqa: E402
from realm_operator.handlers import OperatorContext, register  # noqa: E402
from realm_operator.kube import KubeApi  # noqa: E402
from realm_operator.resources import map_region_names  # noqa: E402
from realm_operator.signals import LoginQueueLength, RealmSignals, static_signals  # noqa: E402

from gameserver.storage.loginqueue import AdmissionRate  # noqa: E402
from gameserver.storage.memory import MemoryHotState  # noqa: E402
from gameserver.storage.models import ServerHeartbeat, ServerState  # noqa: E402

NS = "games"
GROUP_VERSION = "mmo.openrealm.dev/v1alpha1"
REALMS = kmock.resource("mmo.openrealm.dev", "v1alpha1", "realms")
REGIONS = kmock.resource("mmo.openrealm.dev", "v1alpha1", "regions")
PODS = kmock.resource("", "v1", "pods")
DEPLOYMENTS = kmock.resource("apps", "v1", "deployments")
SERVICES = kmock.resource("", "v1", "services")
SECRETS = kmock.resource("", "v1", "secrets")
EVENTS = kmock.resource("", "v1", "events")


class Harness:
    """kmock + an in-process operator + helpers to act like the cluster and the servers."""

    def __init__(self, mock: kmock.KubernetesEmulator, url: str) -> None:
        self.mock = mock
        self.url = url
        self.registry = MemoryHotState()
        self.api = KubeApi(k8s.ApiClient(k8s.Configuration(host=url)))
        self.custom = k8s.CustomObjectsApi(self.api.api_client)
        self._task: asyncio.Task[Any] | None = None
        self._stop: asyncio.Future[Any] | None = None
        self.interval = 0.25
        self.uids = 0

    # -- operator lifecycle -----------------------------------------------------------
    async def start(self) -> None:
        registry = kopf.OperatorRegistry()
        queue: LoginQueueLength = self.registry
        ctx = OperatorContext(
            api=self.api,
            signals=static_signals(RealmSignals(registry=self.registry, queue=queue)),
            interval=self.interval,
        )
        register(registry, ctx)
        url = self.url

        @kopf.on.login(registry=registry)
        def login(**_: Any) -> kopf.ConnectionInfo:
            return kopf.ConnectionInfo(server=url, insecure=True)

        @kopf.on.startup(registry=registry)
        def settings(settings: kopf.OperatorSettings, **_: Any) -> None:
            settings.watching.server_timeout = 10
            settings.watching.reconnect_backoff = 0.1
            settings.posting.level = 20
            settings.networking.request_timeout = 10

        before = len(list(self.mock))
        self._stop = asyncio.get_running_loop().create_future()
        ready = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(
            kopf.operator(
                registry=registry,
                clusterwide=True,
                standalone=True,
                stop_flag=self._stop,
                ready_flag=ready,
            )
        )
        await asyncio.wait_for(ready, 10)
        # Wait until both custom resources are watched (after their initial listing).
        try:
            await self.until(lambda: self._watched(before), timeout=10, what="kopf's watches")
        except AssertionError:
            for req in list(self.mock)[before:]:
                print(req.method, req.url, req.action, req.resource)
            raise

    def _watched(self, since: int) -> bool:
        seen = set()
        for req in list(self.mock)[since:]:
            if req.action == kmock.action.WATCH and req.resource is not None:
                seen.add(req.resource.plural)
        return {"realms", "regions"} <= seen

    async def stop(self) -> None:
        if self._task is None or self._stop is None:
            return
        self._stop.set_result(None)
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(self._task, 15)
        self._task = None

    # -- helpers ----------------------------------------------------------------------
    async def until(
        self,
        check: Callable[[], Any],
        timeout: float = 15,  # noqa: ASYNC109
        what: str = "condition",
    ) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = check()
            if inspect.isawaitable(value):
                value = await value
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            await asyncio.sleep(0.05)

    async def apply(self, plural: str, body: dict[str, Any]) -> None:
        self.uids += 1
        body.setdefault("metadata", {}).setdefault("namespace", NS)
        # The API server would set these; kmock does not, and kopf's JSON patches test them.
        body["metadata"].setdefault("uid", f"uid-{plural}-{self.uids}")
        body["metadata"].setdefault("resourceVersion", "1")
        await asyncio.to_thread(
            self.custom.create_namespaced_custom_object,
            "mmo.openrealm.dev",
            "v1alpha1",
            NS,
            plural,
            body,
        )

    def objects(self, res: Any) -> dict[str, dict[str, Any]]:
        out = {}
        for (r, _ns, name), obj in self.mock.objects.items():
            if r == res and not obj.deleted:
                out[name] = json.loads(json.dumps(obj.raw))
        return out

    def get(self, res: Any, name: str) -> dict[str, Any] | None:
        return self.objects(res).get(name)

    def pods(self, region: str) -> dict[str, dict[str, Any]]:
        return {
            n: p
            for n, p in self.objects(PODS).items()
            if p["metadata"].get("labels", {}).get("mmo.openrealm.dev/region") == region
        }

    def requests(self, method: str, res: Any, since: int = 0) -> list[Any]:
        return [
            r
            for r in list(self.mock)[since:]
            if r.method == kmock.method(method.upper()) and r.resource == res
        ]

    def deletes(self, since: int = 0) -> list[str]:
        return [str(r.name) for r in self.requests("delete", PODS, since)]

    def posted_events(self, reason: str) -> list[dict[str, Any]]:
        """Events the operator *asked* to create (kmock gives kopf's generateName events no
        unique names, so only the first is stored; the request log has them all)."""
        return [r.data for r in self.requests("post", EVENTS) if r.data.get("reason") == reason]

    async def draining(self, realm: str, server: str) -> bool:
        return bool(await self.registry.drain_requested(realm, server))

    async def queue_logins(self, realm: str, accounts: range) -> int:
        """Players wait in the realm's login queue, as the gateway puts them there (no
        seats: every one of them queues); returns the queue length the operator reads."""
        for account in accounts:
            await self.registry.queue_login(realm, account, 0, AdmissionRate(1.0, 1), 60_000)
        return await self.registry.queue_length(realm)

    def mark(self) -> int:
        return len(list(self.mock))

    async def beat(
        self,
        realm: str,
        region: str,
        server: str,
        players: int,
        state: ServerState = ServerState.READY,
        capacity: int = 100,
        ttl_ms: int = 60_000,
    ) -> None:
        await self.registry.heartbeat(
            ServerHeartbeat(
                server_id=server,
                realm=realm,
                region=region,
                state=state,
                players=players,
                capacity=capacity,
                tick_p99_ms=12.5,
                sent_at_ms=int(time.time() * 1000),
            ),
            ttl_ms,
        )

    async def set_pod_phase(self, name: str, phase: str) -> None:
        await asyncio.to_thread(
            self.api.core.patch_namespaced_pod_status,
            name,
            NS,
            {"status": {"phase": phase}},
            _content_type="application/merge-patch+json",
        )


def declare(mock: kmock.KubernetesEmulator) -> None:
    for key, kind in (
        ("mmo.openrealm.dev/v1alpha1/realms", "Realm"),
        ("mmo.openrealm.dev/v1alpha1/regions", "Region"),
    ):
        mock.resources[key] = kmock.ResourceInfo(
            kind=kind,
            namespaced=True,
            singular=kind.lower(),
            verbs={"list", "watch", "get", "patch", "create", "delete"},
            subresources={"status"},
        )
    # kopf's backbone waits for CRDs and namespaces to be discoverable before watching
    # anything (cluster-wide, it never lists namespaces, which kmock could not serve).
    mock.resources["v1/namespaces"] = kmock.ResourceInfo(
        kind="Namespace", namespaced=False, verbs={"list", "watch", "get"}
    )
    mock.resources["apiextensions.k8s.io/v1/customresourcedefinitions"] = kmock.ResourceInfo(
        kind="CustomResourceDefinition", namespaced=False, verbs={"list", "watch", "get"}
    )
    for key, kind in (
        ("v1/pods", "Pod"),
        ("v1/services", "Service"),
        ("v1/secrets", "Secret"),
        ("v1/events", "Event"),
        ("apps/v1/deployments", "Deployment"),
    ):
        mock.resources[key] = kmock.ResourceInfo(
            kind=kind,
            namespaced=True,
            verbs={"list", "watch", "get", "patch", "create", "delete"},
            subresources={"status"} if kind != "Event" else set(),
        )


@pytest.fixture()
async def harness() -> AsyncIterator[Harness]:
    async with kmock.KubernetesEmulator() as mock, kmock.Server(mock) as server:
        declare(mock)
        h = Harness(mock, str(server.url).rstrip("/"))
        try:
            yield h
        finally:
            await h.stop()


def realm_body(name: str = "azeroth", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": GROUP_VERSION,
        "kind": "Realm",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "image": "ghcr.io/openrealm/openrealm:0.1.0",
            "maxPlayers": 1000,
            "database": {"name": "realm-db", "key": "url"},
            "redis": {"name": "realm-redis", "key": "url"},
            **spec,
        },
    }


def region_body(name: str = "elwynn", realm: str = "azeroth", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": GROUP_VERSION,
        "kind": "Region",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "realmRef": realm,
            # Regions named after no map region (other tests' durotar, barrens) run elwynn.
            "map": {"region": name if name in map_region_names() else "elwynn"},
            "playersPerServer": 100,
            "targetUtilisation": 0.5,
            "minServers": 1,
            "maxServers": 4,
            "scaleDownDelaySeconds": 2,
            "drainTimeoutSeconds": 600,
            **spec,
        },
    }
