"""Pure `build_*` functions: a validated spec in, a Kubernetes manifest (a plain dict) out.

They do no I/O and read no clock, so every manifest the operator can create is covered by
plain unit tests, and the handlers stay a thin fetch-decide-apply layer. This module is
also where the contract with `realm serve <role>` is written down: the arguments, the
`REALM_*` environment, the ports and the health endpoint every role must serve.
"""

from __future__ import annotations

import base64
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
GAME_PORT = 7777  # rcm: clients' UDP game traffic
GRPC_PORT = 50051  # rcm, oem, rwam, region: internal gRPC
HEALTH_PATH = "/healthz"  # 200 only while the role can take work (region: Ready)
LIVE_PATH = "/metrics"  # 200 while the process serves (a draining region server too)
TOKEN_SECRET_KEY = "key"
ID_BLOCKS = range(1, 4096)  # REALM_ID_BLOCK: entity ids (block << 20), see region/server.py

LABEL_PREFIX = "mmo.openrealm.dev"
LABEL_REALM = f"{LABEL_PREFIX}/realm"
LABEL_REGION = f"{LABEL_PREFIX}/region"
LABEL_ROLE = f"{LABEL_PREFIX}/role"
LABEL_SERVER = f"{LABEL_PREFIX}/server"
ANNOTATION_HASH = f"{LABEL_PREFIX}/spec-hash"
ANNOTATION_ORDINAL = f"{LABEL_PREFIX}/ordinal"
ANNOTATION_ID_BLOCK = f"{LABEL_PREFIX}/id-block"
LABEL_MAP_REGION = f"{LABEL_PREFIX}/map-region"
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


POD_IP_ENV: Manifest = {
    "name": "REALM_POD_IP",
    "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}},
}


def token_secret_name(realm: str) -> str:
    return f"{realm}-token-key"


def token_key_ref(realm: str, spec: RealmSpec) -> SecretKeyRef:
    """The Secret key holding the realm's token key: the one the spec names, else the one
    the operator creates for the realm (`build_token_secret`)."""
    if spec.token_key is not None:
        return spec.token_key
    return SecretKeyRef(name=token_secret_name(realm), key=TOKEN_SECRET_KEY)


def rcm_public_address(owner: Owner, spec: RealmSpec) -> str:
    """What the gateway tells clients to send UDP to: `spec.rcm.publicAddress`, else the
    RCM Service's cluster DNS name (reachable from inside the cluster only)."""
    if spec.rcm.public_address:
        return spec.rcm.public_address
    return f"{child_name(owner.name, 'rcm')}.{owner.namespace}.svc:{GAME_PORT}"


def common_env(realm: str) -> list[Manifest]:
    """What every role gets: who it is, where it binds, where /healthz and /metrics are."""
    return [
        _env("REALM_NAME", realm),
        _env("REALM_HOST", "0.0.0.0"),
        _env("REALM_METRICS_PORT", METRICS_PORT),
        _env("REALM_DATA_DIR", "/tmp/realm-data"),
    ]


def _oem(realm: str) -> Manifest:
    return _env("REALM_OEM_ADDRESS", f"{child_name(realm, 'oem')}:{GRPC_PORT}")


def _rwam(realm: str) -> Manifest:
    return _env("REALM_RWAM_ADDRESS", f"{child_name(realm, 'rwam')}:{GRPC_PORT}")


def role_env(owner: Owner, spec: RealmSpec, role: str) -> list[Manifest]:
    """Exactly the settings `realm serve <role>` reads (gameserver/roles/<role>.py); each
    role gets only the secrets it uses."""
    realm = owner.name
    db = _secret_env("REALM_POSTGRES_URL", spec.database)
    redis = _secret_env("REALM_REDIS_URL", spec.redis)
    token = _secret_env("REALM_TOKEN_KEY", token_key_ref(realm, spec))
    grpc = _env("REALM_GRPC_PORT", GRPC_PORT)
    q = spec.login_queue
    if role == "gateway":
        return [
            db,
            redis,
            token,
            _env("REALM_HTTP_PORT", HTTP_PORT),
            _env("REALM_RCM_ADDRESS", rcm_public_address(owner, spec)),
            _env("REALM_MAX_PLAYERS", spec.max_players),
            _env("REALM_LOGIN_RATE_PER_S", f"{q.admissions_per_second:g}"),
            _env("REALM_LOGIN_BURST", q.burst),
            _env("REALM_LOGIN_GRACE_S", f"{q.reconnect_grace_seconds:g}"),
        ]
    if role == "rcm":
        # The RCM's id is <pod IP>:<gRPC port>: the OEM calls it back there.
        return [
            redis,
            token,
            _env("REALM_UDP_PORT", GAME_PORT),
            grpc,
            POD_IP_ENV,
            _oem(realm),
            _rwam(realm),
            _env("REALM_TICK_RATE", spec.tick_rate),
            _env("REALM_LOGIN_GRACE_S", f"{q.reconnect_grace_seconds:g}"),
        ]
    if role == "oem":
        return [redis, grpc, _rwam(realm)]
    if role == "rwam":
        # Redis: routes and presence for realm-wide actions (notices, online economy).
        return [db, redis, grpc]
    raise ValueError(f"no such realm role: {role}")


def _role_ports(role: str) -> list[Manifest]:
    ports = [{"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"}]
    if role == "gateway":
        ports.append({"name": "http", "containerPort": HTTP_PORT, "protocol": "TCP"})
    if role == "rcm":
        ports.append({"name": "game", "containerPort": GAME_PORT, "protocol": "UDP"})
    if role in ("rcm", "oem", "rwam", "region"):
        ports.append({"name": "grpc", "containerPort": GRPC_PORT, "protocol": "TCP"})
    return ports


#: What each role's Service exposes: clients' ports (gateway HTTP, RCM UDP) and the gRPC of
#: the roles peers call by Service name. The RCM's gRPC is called on its pod IP (its id)
#: and /metrics is scraped per pod, so neither is on a Service (nor on a LoadBalancer).
SERVICE_PORTS = {"gateway": ("http",), "rcm": ("game",), "oem": ("grpc",), "rwam": ("grpc",)}


def _probe(path: str, initial_delay: int, period: int, failures: int) -> Manifest:
    return {
        "httpGet": {"path": path, "port": "metrics"},
        "initialDelaySeconds": initial_delay,
        "periodSeconds": period,
        "failureThreshold": failures,
        "timeoutSeconds": 2,
    }


SCRAPE_ANNOTATIONS = {"prometheus.io/scrape": "true", "prometheus.io/port": str(METRICS_PORT)}

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
        # Ready: /healthz (503 while starting, stopping, or a region server not Ready).
        # Alive: /metrics, which answers while the event loop runs, so a region server
        # draining for minutes (not Ready, on purpose) is not killed by its probe.
        "readinessProbe": _probe(HEALTH_PATH, 2, 5, 3),
        "livenessProbe": _probe(LIVE_PATH, 10, 10, 6),
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
    env = common_env(owner.name) + role_env(owner, spec, role)
    pod_spec: Manifest = {
        "securityContext": POD_SECURITY,
        "containers": [_container(role, spec, env, resources)],
        "volumes": [{"name": "tmp", "emptyDir": {}}],
        "enableServiceLinks": False,
    }
    if role == "rcm":
        pod_spec["terminationGracePeriodSeconds"] = 60  # every client told, characters saved
    body: Manifest = {
        "replicas": component.replicas,
        "selector": {"matchLabels": selector},
        "template": {
            "metadata": {"labels": labels, "annotations": SCRAPE_ANNOTATIONS},
            "spec": pod_spec,
        },
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(child_name(owner.name, role), owner, labels, spec_hash(body)),
        "spec": body,
    }


def build_service(owner: Owner, spec: RealmSpec, role: str) -> Manifest:
    """The Service of one realm role (`SERVICE_PORTS`); the RCM's game port is UDP, with
    client-IP affinity so one client's datagrams keep reaching the same RCM."""
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
        if p["name"] in SERVICE_PORTS[role]
    ]
    body: Manifest = {
        "type": component.service_type.value,
        "selector": {LABEL_REALM: owner.name, LABEL_ROLE: role},
        "ports": ports,
    }
    if role == "rcm":
        body["sessionAffinity"] = "ClientIP"
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(child_name(owner.name, role), owner, labels, spec_hash(body)),
        "spec": body,
    }


def build_token_secret(owner: Owner, key_hex: str) -> Manifest:
    """The realm's token-key Secret, for a Realm that names none. `key_hex` is random and
    chosen once: the operator only ever creates this Secret, never rewrites it."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": token_secret_name(owner.name),
            "namespace": owner.namespace,
            "labels": realm_labels(owner.name, "token-key"),
            "ownerReferences": [owner.reference()],
        },
        "data": {TOKEN_SECRET_KEY: base64.b64encode(key_hex.encode()).decode()},
    }


def build_realm_children(owner: Owner, spec: RealmSpec) -> list[Manifest]:
    out: list[Manifest] = []
    for role in ROLES:
        out.append(build_deployment(owner, spec, role))
        out.append(build_service(owner, spec, role))
    return out


def build_server_pod(
    owner: Owner,
    realm: str,
    realm_spec: RealmSpec,
    spec: RegionSpec,
    ordinal: int,
    id_block: int,
) -> Manifest:
    """One region server: a bare Pod, so the operator (not a ReplicaSet) decides which
    server goes. `restartPolicy: Never`: a crashed server is retired with its id and
    replaced by a fresh pod, its players recovered from their checkpoints.

    `id_block` (REALM_ID_BLOCK) must differ from every other live server's of the realm:
    the caller allocates it (`regions.IdBlocks`)."""
    if id_block not in ID_BLOCKS:
        raise ValueError(f"id block {id_block} outside {ID_BLOCKS}")
    name = server_pod_name(owner.name, ordinal)
    tpl = spec.pod_template
    map_region = spec.map_region
    labels = {
        **(tpl.labels or {}),
        **region_labels(realm, owner.name),
        LABEL_SERVER: name,
        LABEL_MAP_REGION: map_region.name,
    }
    tick_rate = spec.tick_rate or realm_spec.tick_rate
    snapshot_every, snapshot_budget = spec.snapshots(realm_spec)
    env = [
        *common_env(realm),
        _secret_env("REALM_POSTGRES_URL", realm_spec.database),
        _secret_env("REALM_REDIS_URL", realm_spec.redis),
        _oem(realm),
        _env("REALM_GRPC_PORT", GRPC_PORT),
        POD_IP_ENV,  # the gRPC address it heartbeats: <pod IP>:<gRPC port>
        _env("REALM_REGION", map_region.name),
        _env("REALM_SERVER_ID", name),
        _env("REALM_ID_BLOCK", id_block),
        _env("REALM_TICK_RATE", tick_rate),
        _env("REALM_PLAYERS_PER_SERVER", spec.players_per_server),
        _env("REALM_SNAPSHOT_EVERY", snapshot_every),
        _env("REALM_SNAPSHOT_BUDGET_BYTES", snapshot_budget),
    ]
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
        ANNOTATION_ID_BLOCK: str(id_block),
        **SCRAPE_ANNOTATIONS,
    }
    if spec.kind is RegionKind.INSTANCE:
        labels[f"{LABEL_PREFIX}/kind"] = "instance"
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": pod_spec}
