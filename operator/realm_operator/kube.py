"""A small async facade over the official `kubernetes` client: only the calls the operator
makes, with plain dicts in and out.

kopf watches and patches the custom resources itself; this is for the children (pods,
Deployments, Services) and the secret holding a realm's Redis URL. The client is blocking,
so every call runs in a worker thread. Being one narrow class, it is also the list of
verbs the RBAC in the chart must grant, and nothing more.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

Manifest = dict[str, Any]
_MERGE = "application/merge-patch+json"


def _selector(labels: Mapping[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def _body(resp: Any) -> Manifest:
    data: Manifest = json.loads(resp.data or b"{}")
    return data


class KubeApi:
    """The operator's Kubernetes calls. `api_client` decides the cluster (in-cluster config,
    a kubeconfig, or a test server)."""

    def __init__(self, api_client: k8s.ApiClient) -> None:
        self.api_client = api_client
        self.core = k8s.CoreV1Api(api_client)
        self.apps = k8s.AppsV1Api(api_client)
        self._secrets_seen: set[tuple[str, str, str]] = set()

    # -- pods -----------------------------------------------------------------------
    async def list_pods(self, namespace: str, labels: Mapping[str, str]) -> list[Manifest]:
        """Pods matching `labels`. The caller filters again in code: a selector is a
        request, not a guarantee it has to trust (and test servers may ignore it)."""
        resp = await asyncio.to_thread(
            self.core.list_namespaced_pod,
            namespace,
            label_selector=_selector(labels),
            _preload_content=False,
        )
        items: list[Manifest] = _body(resp).get("items", [])
        return items

    async def create_pod(self, namespace: str, body: Manifest) -> bool:
        """Create; False if a pod of that name already exists (a previous run made it)."""
        return await self._create(self.core.create_namespaced_pod, namespace, body)

    async def delete_pod(self, namespace: str, name: str) -> bool:
        try:
            await asyncio.to_thread(
                self.core.delete_namespaced_pod, name, namespace, _preload_content=False
            )
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise
        return True

    # -- realm children -------------------------------------------------------------
    async def get(self, kind: str, namespace: str, name: str) -> Manifest | None:
        read = {
            "Deployment": self.apps.read_namespaced_deployment,
            "Service": self.core.read_namespaced_service,
        }[kind]
        try:
            resp = await asyncio.to_thread(read, name, namespace, _preload_content=False)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return _body(resp)

    async def create(self, body: Manifest) -> bool:
        create = {
            "Deployment": self.apps.create_namespaced_deployment,
            "Service": self.core.create_namespaced_service,
        }[body["kind"]]
        return await self._create(create, body["metadata"]["namespace"], body)

    async def patch(self, kind: str, namespace: str, name: str, patch: Manifest) -> None:
        call = {
            "Deployment": self.apps.patch_namespaced_deployment,
            "Service": self.core.patch_namespaced_service,
        }[kind]
        await asyncio.to_thread(
            call, name, namespace, patch, _content_type=_MERGE, _preload_content=False
        )

    # -- secrets --------------------------------------------------------------------
    async def create_secret_once(self, body: Manifest) -> bool:
        """Create a Secret unless it exists; never read or rewrite one (so RBAC needs only
        `create`). True when this call created it. Once seen (created here, or 409), this
        process does not ask again, so a realm's timer does not POST every tick."""
        meta = body["metadata"]
        owners = ",".join(r.get("uid", "") for r in meta.get("ownerReferences") or [])
        seen = (meta["namespace"], meta["name"], owners)
        if seen in self._secrets_seen:
            return False
        created = await self._create(self.core.create_namespaced_secret, seen[0], body)
        self._secrets_seen.add(seen)
        return created

    async def read_secret_key(self, namespace: str, name: str, key: str) -> str | None:
        import base64

        try:
            resp = await asyncio.to_thread(
                self.core.read_namespaced_secret, name, namespace, _preload_content=False
            )
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        data = _body(resp).get("data") or {}
        value = data.get(key)
        return base64.b64decode(value).decode() if value is not None else None

    async def _create(self, call: Any, namespace: str, body: Manifest) -> bool:
        try:
            await asyncio.to_thread(call, namespace, body, _preload_content=False)
        except ApiException as exc:
            if exc.status == 409:
                return False
            raise
        return True
