"""End-to-end: a Realm gets its role Deployments and Services, owned and wired, and a
token-key Secret made once."""

from __future__ import annotations

import asyncio
import base64

from conftest import DEPLOYMENTS, REALMS, SECRETS, SERVICES, Harness, realm_body

ROLES = ("gateway", "rcm", "oem", "rwam")


async def _children(h: Harness, realm: str = "azeroth") -> None:
    await h.until(
        lambda: (
            all(h.get(DEPLOYMENTS, f"{realm}-{r}") for r in ROLES)
            and all(h.get(SERVICES, f"{realm}-{r}") for r in ROLES)
        ),
        what="realm children",
    )


def _env(h: Harness, role: str, realm: str = "azeroth") -> dict[str, dict[str, object]]:
    dep = h.get(DEPLOYMENTS, f"{realm}-{role}")
    assert dep is not None
    (container,) = dep["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e for e in container["env"]}


async def test_realm_creates_owned_deployments_and_services(harness: Harness) -> None:
    await harness.start()
    await harness.apply("realms", realm_body())
    await _children(harness)
    realm = harness.get(REALMS, "azeroth")
    assert realm is not None
    uid = realm["metadata"]["uid"]
    for role in ROLES:
        dep = harness.get(DEPLOYMENTS, f"azeroth-{role}")
        svc = harness.get(SERVICES, f"azeroth-{role}")
        assert dep is not None and svc is not None
        for obj in (dep, svc):
            (ref,) = obj["metadata"]["ownerReferences"]
            assert ref["uid"] == uid and ref["kind"] == "Realm" and ref["controller"] is True
        (container,) = dep["spec"]["template"]["spec"]["containers"]
        assert container["args"] == ["serve", role]
        env = {e["name"]: e for e in container["env"]}
        assert env["REALM_NAME"]["value"] == "azeroth"
        if role in ("gateway", "rwam"):
            assert env["REALM_POSTGRES_URL"]["valueFrom"]["secretKeyRef"] == {
                "name": "realm-db",
                "key": "url",
            }
        if role != "rwam":
            assert env["REALM_REDIS_URL"]["valueFrom"]["secretKeyRef"]["name"] == "realm-redis"
        assert container["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
        assert container["livenessProbe"]["httpGet"] == {"path": "/metrics", "port": "metrics"}
    svc = harness.get(SERVICES, "azeroth-rcm")
    assert svc is not None
    assert [(p["name"], p["protocol"]) for p in svc["spec"]["ports"]] == [("game", "UDP")]
    # The RCM's id is <pod IP>:<gRPC port>; the OEM calls it back there.
    rcm = harness.get(DEPLOYMENTS, "azeroth-rcm")
    assert rcm is not None
    (container,) = rcm["spec"]["template"]["spec"]["containers"]
    assert {"name": "grpc", "containerPort": 50051, "protocol": "TCP"} in container["ports"]
    env = _env(harness, "rcm")
    assert env["REALM_GRPC_PORT"]["value"] == "50051"
    assert env["REALM_POD_IP"]["valueFrom"] == {"fieldRef": {"fieldPath": "status.podIP"}}
    assert env["REALM_OEM_ADDRESS"]["value"] == "azeroth-oem:50051"
    # The gateway hands clients the RCM Service's address (no publicAddress: cluster DNS).
    assert _env(harness, "gateway")["REALM_RCM_ADDRESS"]["value"] == "azeroth-rcm.games.svc:7777"
    status = await harness.until(
        lambda: (harness.get(REALMS, "azeroth") or {}).get("status", {}).get("phase"),
        what="realm status",
    )
    assert status in ("Progressing", "Running")


async def test_token_key_secret_is_made_once_and_shared_by_gateway_and_rcm(
    harness: Harness,
) -> None:
    h = harness
    await h.start()
    await h.apply("realms", realm_body())
    await h.apply("realms", realm_body("kalimdor", tokenKey={"name": "mine", "key": "hex"}))
    await _children(h)
    await _children(h, "kalimdor")
    secret = await h.until(lambda: h.get(SECRETS, "azeroth-token-key"), what="token secret")
    realm = h.get(REALMS, "azeroth")
    assert realm is not None
    assert secret["metadata"]["ownerReferences"][0]["uid"] == realm["metadata"]["uid"]
    key = base64.b64decode(secret["data"]["key"]).decode()
    assert len(bytes.fromhex(key)) == 32
    for role in ("gateway", "rcm"):
        ref = _env(h, role)["REALM_TOKEN_KEY"]["valueFrom"]
        assert ref == {"secretKeyRef": {"name": "azeroth-token-key", "key": "key"}}
        # A Realm naming its own key gets that one, and no Secret is made for it.
        ref = _env(h, role, "kalimdor")["REALM_TOKEN_KEY"]["valueFrom"]
        assert ref == {"secretKeyRef": {"name": "mine", "key": "hex"}}
    for role in ("oem", "rwam"):
        assert "REALM_TOKEN_KEY" not in _env(h, role)
    # Timer ticks never ask again (the restart test shows a restart does not replace it).
    await asyncio.sleep(h.interval * 4)
    posts = [r.data["metadata"]["name"] for r in h.requests("post", SECRETS)]
    assert posts == ["azeroth-token-key"]
    after = h.get(SECRETS, "azeroth-token-key")
    assert after is not None and after["data"] == secret["data"]
