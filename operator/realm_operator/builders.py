"""Pure `build_*` functions: a validated spec in, a Kubernetes manifest (a plain dict) out.

They do no I/O and read no clock, so every manifest the operator can create is covered by
plain unit tests, and the handlers stay a thin fetch-decide-apply layer. This module is
also where the contract with `realm serve <role>` is written down: the arguments, the
`REALM_*` environment, the ports and the health endpoint every role must serve.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from realm_operator.resources import (
    API_VERSION,
    ComponentSpec,
    RealmSpec,
    RegionKind,
    RegionSpec,
    SecretKeyRef,
)

Manifest = dict[str, Any]

ROLES = ("gateway", "rcm", "oem", "rwam")

METRICS_PORT = 9100  # Prometheus /metrics and /healthz, on every role
HTTP_PORT = 8080  # gateway: accounts, login, queue, patch files
GAME_PORT = 7777  # rcm and region: UDP game traffic
GRPC_PORT = 50051  # oem, rwam, region: internal gRPC
HEALTH_PATH = "/healthz"

LABEL_PREFIX = "mmo.openrealm.dev"
LABEL_REALM = f"{LABEL_PREFIX}/realm"
LABEL_REGION = f"{LABEL_PREFIX}/region"
LABEL_ROLE = f"{LABEL_PREFIX}/role"
LABEL_SERVER = f"{LABEL_PREFIX}/server"
ANNOTATION_HASH = f"{LABEL_PREFIX}/spec-hash"
ANNOTATION_ORDINAL = f"{LABEL_PREFIX}/ordinal"
MANAGED_BY = "realm-operator"


@dataclass(frozen=True)
class Owner:
    """The custom resource that owns a child (for its ownerReference)."""

    kind: str
    name: str
    uid: str
    namespace: str

    def reference(self) -> Manifest:
        return {
            "apiVersion": API_VERSION,
            "kind": self.kind,
            "name": self.name,
            "uid": self.uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }


def spec_hash(obj: Any) -> str:
    """A short digest of what we asked for, stored on the child so drift is cheap to see."""
    raw = json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(raw).hexdigest()[:16]


def realm_labels(realm: str, role: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "openrealm",
        "app.kubernetes.io/instance": realm,
        "app.kubernetes.io/component": role,
        "app.kubernetes.io/managed-by": MANAGED_BY,
        LABEL_REALM: realm,
        LABEL_ROLE: role,
    }


def region_labels(realm: str, region: str) -> dict[str, str]:
    return {**realm_labels(realm, "region"), LABEL_REGION: region}


def child_name(realm: str, role: str) -> str:
    return f"{realm}-{role}"


def server_pod_name(region: str, ordinal: int) -> str:
    """Deterministic and never reused within a Region's life (the ordinal only grows), so a
    heartbeat left by a deleted server can never be mistaken for its successor's."""
    return f"{region}-server-{ordinal}"


def _secret_env(name: str, ref: SecretKeyRef) -> Manifest:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": ref.name, "key": ref.key}}}


def _env(name: str, value: object) -> Manifest:
    return {"name": name, "value": str(value)}


def common_env(realm: str, spec: RealmSpec) -> list[Manifest]:
    """What every role gets: who it is, where the shared state lives, where peers are."""
    env = [
        _env("REALM_NAME", realm),
        _secret_env("REALM_POSTGRES_URL", spec.database),
        _secret_env("REALM_REDIS_URL", spec.redis),
        _env("REALM_HOST", "0.0.0.0"),
        _env("REALM_METRICS_PORT", METRICS_PORT),
        _env("REALM_MAX_PLAYERS", spec.max_players),
        _env("REALM_AUTH_MODE", spec.auth_mode.value),
        _env("REALM_DATA_DIR", "/tmp/realm-data"),
        _env("REALM_OEM_ADDRESS", f"{child_name(realm, 'oem')}:{GRPC_PORT}"),
        _env("REALM_RWAM_ADDRESS", f"{child_name(realm, 'rwam')}:{GRPC_PORT}"),
        _env("REALM_GATEWAY_ADDRESS", f"{child_name(realm, 'gateway')}:{HTTP_PORT}"),
        {"name": "REALM_POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
    ]
    if spec.token_key is not None:
        env.append(_secret_env("REALM_TOKEN_KEY", spec.token_key))
    return env


def _role_ports(role: str) -> list[Manifest]:
    ports = [{"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"}]
    if role == "gateway":
        ports.append({"name": "http", "containerPort": HTTP_PORT, "protocol": "TCP"})
    if role in ("rcm", "region"):
        ports.append({"name": "game", "containerPort": GAME_PORT, "protocol": "UDP"})
    if role in ("oem", "rwam", "region"):
        ports.append({"name": "grpc", "containerPort": GRPC_PORT, "protocol": "TCP"})
    return ports


def _role_env(role: str, spec: RealmSpec) -> list[Manifest]:
    if role == "gateway":
        q = spec.login_queue
        return [
            _env("REALM_HTTP_PORT", HTTP_PORT),
            _env("REALM_LOGIN_QUEUE_ENABLED", str(q.enabled).lower()),
            _env("REALM_LOGIN_ADMISSIONS_PER_SECOND", q.admissions_per_second),
            _env("REALM_RECONNECT_GRACE_S", q.reconnect_grace_seconds),
        ]
    if role == "rcm":
        return [_env("REALM_UDP_PORT", GAME_PORT)]
    return [_env("REALM_GRPC_PORT", GRPC_PORT)]


def _probe(initial_delay: int, period: int, failures: int) -> Manifest:
    return {
        "httpGet": {"path": HEALTH_PATH, "port": "metrics"},
        "initialDelaySeconds": initial_delay,
        "periodSeconds": period,
        "failureThreshold": failures,
        "timeoutSeconds": 2,
    }


CONTAINER_SECURITY: Manifest = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "capabilities": {"drop": ["ALL"]},
}
POD_SECURITY: Manifest = {
    "runAsNonRoot": True,
    "runAsUser": 10001,
    "runAsGroup": 10001,
    "fsGroup": 10001,
    "seccompProfile": {"type": "RuntimeDefault"},
}


def _container(
    role: str,
    spec: RealmSpec,
    env: list[Manifest],
    resources: Manifest | None,
) -> Manifest:
    container: Manifest = {
        "name": role,
        "image": spec.image,
        "imagePullPolicy": spec.image_pull_policy,
        "args": ["serve", role],
        "env": env,
        "ports": _role_ports(role),
        "readinessProbe": _probe(2, 5, 3),
        "livenessProbe": _probe(10, 10, 6),
        "securityContext": CONTAINER_SECURITY,
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    if resources:
        container["resources"] = resources
    return container


def _metadata(name: str, owner: Owner, labels: dict[str, str], digest: str) -> Manifest:
    return {
        "name": name,
        "namespace": owner.namespace,
        "labels": labels,
        "annotations": {ANNOTATION_HASH: digest},
        "ownerReferences": [owner.reference()],
    }


def build_deployment(owner: Owner, spec: RealmSpec, role: str) -> Manifest:
    """The Deployment of one stateless realm role. Region servers are never Deployments."""
    component: ComponentSpec = getattr(spec, role)
    labels = realm_labels(owner.name, role)
    selector = {LABEL_REALM: owner.name, LABEL_ROLE: role}
    resources = component.resources.dump() if component.resources else None
    env = common_env(owner.name, spec) + _role_env(role, spec)
    body: Manifest = {
        "replicas": component.replicas,
        "selector": {"matchLabels": selector},
        "template": {
            "metadata": {"labels": labels},
            "spec": {
                "securityContext": POD_SECURITY,
                "containers": [_container(role, spec, env, resources)],
                "volumes": [{"name": "tmp", "emptyDir": {}}],
                "enableServiceLinks": False,
            },
        },
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(child_name(owner.name, role), owner, labels, spec_hash(body)),
        "spec": body,
    }


def build_service(owner: Owner, spec: RealmSpec, role: str) -> Manifest:
    """The Service of one realm role; the RCM's game port is UDP."""
    component: ComponentSpec = getattr(spec, role)
    labels = realm_labels(owner.name, role)
    ports = [
        {
            "name": p["name"],
            "port": p["containerPort"],
            "targetPort": p["name"],
            "protocol": p["protocol"],
        }
        for p in _role_ports(role)
    ]
    body: Manifest = {
        "type": component.service_type.value,
        "selector": {LABEL_REALM: owner.name, LABEL_ROLE: role},
        "ports": ports,
    }
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(child_name(owner.name, role), owner, labels, spec_hash(body)),
        "spec": body,
    }


def build_realm_children(owner: Owner, spec: RealmSpec) -> list[Manifest]:
    out: list[Manifest] = []
    for role in ROLES:
        out.append(build_deployment(owner, spec, role))
        out.append(build_service(owner, spec, role))
    return out


def build_server_pod(
    owner: Owner, realm: str, realm_spec: RealmSpec, spec: RegionSpec, ordinal: int
) -> Manifest:
    """One region server: a bare Pod, so the operator (not a ReplicaSet) decides which
    server goes. `restartPolicy: Never`: a crashed server is retired with its id and
    replaced by a fresh pod, its players recovered from their checkpoints."""
    name = server_pod_name(owner.name, ordinal)
    tpl = spec.pod_template
    labels = {**(tpl.labels or {}), **region_labels(realm, owner.name), LABEL_SERVER: name}
    tick_rate = spec.tick_rate or realm_spec.tick_rate
    env = [
        *common_env(realm, realm_spec),
        _env("REALM_REGION", owner.name),
        _env("REALM_SERVER_ID", name),
        _env("REALM_MAP", spec.map),
        _env("REALM_REGION_KIND", spec.kind.value),
        _env("REALM_TICK_RATE", tick_rate),
        _env("REALM_PLAYERS_PER_SERVER", spec.players_per_server),
        _env("REALM_UDP_PORT", GAME_PORT),
        _env("REALM_GRPC_PORT", GRPC_PORT),
        {"name": "REALM_PUBLIC_HOST", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
    ]
    if spec.bounds is not None:
        b = spec.bounds
        env.append(_env("REALM_BOUNDS", f"{b.min_x:g},{b.min_y:g},{b.max_x:g},{b.max_y:g}"))
    env += [_env(e.name, e.value) for e in tpl.env or []]
    resources = tpl.resources.dump() if tpl.resources else None
    pod_spec: Manifest = {
        "restartPolicy": "Never",
        "securityContext": POD_SECURITY,
        "terminationGracePeriodSeconds": 60,
        "enableServiceLinks": False,
        "containers": [_container("region", realm_spec, env, resources)],
        "volumes": [{"name": "tmp", "emptyDir": {}}],
    }
    if tpl.node_selector:
        pod_spec["nodeSelector"] = dict(tpl.node_selector)
    if tpl.tolerations:
        pod_spec["tolerations"] = [dict(t) for t in tpl.tolerations]
    if tpl.affinity:
        pod_spec["affinity"] = dict(tpl.affinity)
    if tpl.priority_class_name:
        pod_spec["priorityClassName"] = tpl.priority_class_name
    meta = _metadata(name, owner, labels, spec_hash(pod_spec))
    meta["annotations"] = {
        **(tpl.annotations or {}),
        **meta["annotations"],
        ANNOTATION_ORDINAL: str(ordinal),
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(METRICS_PORT),
    }
    if spec.kind is RegionKind.INSTANCE:
        labels[f"{LABEL_PREFIX}/kind"] = "instance"
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": pod_spec}
