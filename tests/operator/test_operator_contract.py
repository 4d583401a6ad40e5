"""The contract between the operator's manifests and `realm serve <role>`.

Every Deployment and Pod the operator can build is rendered here, its environment resolved
as the kubelet would (secret refs from the Secrets, status.podIP from the downward API),
and each role's real composition root (`gameserver/roles/<role>.py`) is started with it up
to the point where it would open storage. A variable the operator forgets, misnames or
sets to an unusable value fails here, not in a cluster.
"""

from __future__ import annotations

import base64
import importlib
import os
from typing import Any, cast

import aiohttp
import pytest
from realm_operator.builders import (
    ANNOTATION_ID_BLOCK,
    GRPC_PORT,
    METRICS_PORT,
    Owner,
    build_realm_children,
    build_server_pod,
    build_token_secret,
)
from realm_operator.resources import (
    OPERATOR_REGION_ENV,
    RealmSpec,
    RegionSpec,
    parse_realm_spec,
    parse_region_spec,
)
from realm_operator.signals import ROLE_PREFIX, RedisSignals

from gameserver.config import RealmSettings
from gameserver.roles.runtime import RoleConfigError, advertise_host, serve_metrics

Manifest = dict[str, Any]
REALM = Owner(kind="Realm", name="azeroth", uid="u1", namespace="games")
POD_IP = "10.1.2.3"
SECRETS = {
    ("db", "url"): "postgresql://realm:pw@postgres:5432/azeroth",
    ("redis", "url"): "redis://redis:6379/0",
    ("own-key", "hex"): "ab" * 32,
}
TOKEN = build_token_secret(REALM, "cd" * 32)
SECRETS[(TOKEN["metadata"]["name"], "key")] = base64.b64decode(TOKEN["data"]["key"]).decode()

DEFAULT = {"image": "img:1", "database": {"name": "db"}, "redis": {"name": "redis"}}
CUSTOM = {
    **DEFAULT,
    "tokenKey": {"name": "own-key", "key": "hex"},
    "maxPlayers": 3000,
    "tickRate": 30,
    "snapshotEvery": 1,
    "snapshotBudgetBytes": 300,
    "loginQueue": {"admissionsPerSecond": 2.5, "burst": 7, "reconnectGraceSeconds": 0},
    "rcm": {"serviceType": "LoadBalancer", "publicAddress": "play.example.com:7777"},
}


def _region(name: str = "elwynn", **spec: Any) -> RegionSpec:
    return parse_region_spec({"realmRef": "azeroth", **spec}, name)


def _containers(realm: RealmSpec) -> list[tuple[str, Manifest, Manifest]]:
    """(role, container, pod metadata) of every workload the operator builds for a realm."""
    out = []
    for doc in build_realm_children(REALM, realm):
        if doc["kind"] == "Deployment":
            tpl = doc["spec"]["template"]
            (c,) = tpl["spec"]["containers"]
            out.append((c["name"], c, tpl["metadata"]))
    for name, spec in (
        ("elwynn", _region()),
        (
            "azeroth-westfall",
            _region("azeroth-westfall", map={"region": "westfall"}, tickRate=10, snapshotEvery=3),
        ),
    ):
        owner = Owner(kind="Region", name=name, uid="u2", namespace="games")
        pod = build_server_pod(owner, "azeroth", realm, spec, 3, id_block=17)
        (c,) = pod["spec"]["containers"]
        out.append(("region", c, pod["metadata"]))
    return out


SPECS = {"default": parse_realm_spec(DEFAULT), "custom": parse_realm_spec(CUSTOM)}


def _resolve(env: list[Manifest]) -> dict[str, str]:
    """The environment as the kubelet would give it to the container."""
    out = {}
    for e in env:
        if "value" in e:
            out[e["name"]] = e["value"]
            continue
        ref = e["valueFrom"]
        if "secretKeyRef" in ref:
            key = (ref["secretKeyRef"]["name"], ref["secretKeyRef"]["key"])
            out[e["name"]] = SECRETS[key]
        else:
            assert ref == {"fieldRef": {"fieldPath": "status.podIP"}}, e
            out[e["name"]] = POD_IP
    return out


@pytest.mark.parametrize("which", list(SPECS))
def test_every_realm_env_the_operator_sets_is_a_setting(which: str) -> None:
    """Drift guard: a REALM_* variable no `RealmSettings` field reads is silently ignored
    by the roles, so the operator must not set one."""
    for role, container, _ in _containers(SPECS[which]):
        names = [e["name"] for e in container["env"]]
        assert len(names) == len(set(names)), f"{role}: duplicate env {names}"
        for name in names:
            assert name.startswith("REALM_"), f"{role}: {name}"
            assert name.removeprefix("REALM_").lower() in RealmSettings.model_fields, (
                f"{role} sets {name}, which no RealmSettings field reads"
            )
        if role == "region":
            assert set(names) == OPERATOR_REGION_ENV


@pytest.fixture()
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for key in list(os.environ):
        if key.startswith("REALM_"):
            monkeypatch.delenv(key)
    return monkeypatch


class Reached(Exception):
    """The role got past every settings check and went on to open its storage."""


async def _reached(*_: Any, **__: Any) -> Any:
    raise Reached


def _start_until_storage(mp: pytest.MonkeyPatch, role: str, env: dict[str, str]) -> Any:
    for key, value in env.items():
        mp.setenv(key, value)
    settings = RealmSettings()
    module = importlib.import_module(f"gameserver.roles.{role}")
    for opener in ("open_storage", "open_hot_state", "open_database"):
        if hasattr(module, opener):
            mp.setattr(module, opener, _reached)
    return settings, module.start(settings)


@pytest.mark.parametrize("which", list(SPECS))
async def test_every_role_starts_with_the_env_the_operator_gives_it(
    which: str, clean_env: pytest.MonkeyPatch
) -> None:
    spec = SPECS[which]
    seen = set()
    for role, container, meta in _containers(spec):
        env = _resolve(container["env"])
        with pytest.MonkeyPatch.context() as mp:
            for key in list(os.environ):
                if key.startswith("REALM_"):
                    mp.delenv(key)
            settings, started = _start_until_storage(mp, role, env)
            with pytest.raises(Reached):
                await started
        seen.add(role)
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        # /healthz and /metrics where the probes look for them.
        assert settings.metrics_port == ports["metrics"] == METRICS_PORT
        assert container["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
        assert container["livenessProbe"]["httpGet"] == {"path": "/metrics", "port": "metrics"}
        assert settings.host == "0.0.0.0"
        if role in ("rcm", "region"):
            # Peers reach it at <pod IP>:<gRPC port>: the RCM's id, the region's heartbeat.
            assert advertise_host(settings) == POD_IP
            assert settings.grpc_port == ports["grpc"] == GRPC_PORT
        if role in ("gateway", "rcm"):
            assert len(bytes.fromhex(settings.token_key)) == 32
        if role == "gateway":
            from gameserver.roles.gateway import rcm_endpoint

            assert settings.http_port == ports["http"]
            q = spec.login_queue
            assert settings.login_rate_per_s == q.admissions_per_second
            assert settings.login_burst == q.burst
            assert settings.login_grace_s == q.reconnect_grace_seconds
            assert settings.max_players == spec.max_players
            want = (
                ("play.example.com", 7777) if which == "custom" else ("azeroth-rcm.games.svc", 7777)
            )
            assert rcm_endpoint(settings) == want
        if role == "rcm":
            assert settings.udp_port == ports["game"]
            assert settings.tick_rate == spec.tick_rate
        if role == "region":
            assert settings.region in ("elwynn", "westfall")
            assert settings.server_id == meta["name"]
            assert settings.id_block == int(meta["annotations"][ANNOTATION_ID_BLOCK]) == 17
            # The Region's own snapshot interval (westfall), else the realm's.
            every = 3 if settings.region == "westfall" else spec.snapshot_every
            assert settings.snapshot_every == every
            assert settings.snapshot_budget_bytes == spec.snapshot_budget_bytes
    assert seen == {"gateway", "rcm", "oem", "rwam", "region"}


@pytest.mark.parametrize(
    ("role", "drop"),
    [
        ("gateway", "REALM_TOKEN_KEY"),
        ("rcm", "REALM_TOKEN_KEY"),
        ("rcm", "REALM_OEM_ADDRESS"),
        ("oem", "REALM_RWAM_ADDRESS"),
        ("rwam", "REALM_POSTGRES_URL"),
        ("region", "REALM_REGION"),
    ],
)
async def test_the_contract_check_catches_a_missing_variable(
    role: str, drop: str, clean_env: pytest.MonkeyPatch
) -> None:
    """The test above is not vacuous: without a variable the role needs, it fails."""
    (container,) = [c for r, c, _ in _containers(SPECS["default"]) if r == role][:1]
    env = _resolve(container["env"])
    del env[drop]
    _, started = _start_until_storage(clean_env, role, env)
    with pytest.raises(RoleConfigError, match=drop):
        await started


async def test_probe_endpoints_health_follows_readiness_and_metrics_stays_up() -> None:
    """Readiness reads /healthz (503 while a region server is Starting or Draining);
    liveness reads /metrics, which answers regardless, so draining is never killed."""
    healthy = False
    runner, port = await serve_metrics("127.0.0.1", 0, lambda: healthy, "azeroth")
    try:
        async with aiohttp.ClientSession() as http:
            base = f"http://127.0.0.1:{port}"
            async with http.get(f"{base}/healthz") as r:
                assert r.status == 503
            async with http.get(f"{base}/metrics") as r:
                assert r.status == 200
            healthy = True
            async with http.get(f"{base}/healthz") as r:
                assert r.status == 200
    finally:
        await runner.cleanup()


async def test_operator_reads_the_hot_state_keys_the_roles_write(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The roles open Redis under one prefix per realm; the operator must read the same
    keys, or it sees no heartbeats and no queue."""
    from gameserver.storage.factory import open_hot_state
    from gameserver.storage.redis import RedisHotState

    opened: dict[str, Any] = {}

    async def fake_open(cls: Any, /, url: str, **kw: Any) -> Any:
        opened.update(kw)
        raise Reached

    monkeypatch.setattr(RedisHotState, "open", classmethod(fake_open))
    with pytest.raises(Reached):
        await open_hot_state("redis://redis:6379/0", realm="azeroth")

    signals = RedisSignals(api=None, url="redis://127.0.0.1:1/0")  # type: ignore[arg-type]
    got = await signals(REALM.namespace, "azeroth", SPECS["default"])
    try:
        assert got.registry._p == opened["prefix"] == ROLE_PREFIX.format(realm="azeroth")  # type: ignore[attr-defined]
        assert got.queue is cast(Any, got.registry)  # both on the one hot state
    finally:
        await signals.close()
