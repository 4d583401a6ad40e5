"""End-to-end: a Realm gets its role Deployments and Services, owned and wired."""

from __future__ import annotations

from conftest import DEPLOYMENTS, REALMS, SERVICES, Harness, realm_body


async def test_realm_creates_owned_deployments_and_services(harness: Harness) -> None:
    await harness.start()
    await harness.apply("realms", realm_body())
    roles = ("gateway", "rcm", "oem", "rwam")
    await harness.until(
        lambda: (
            all(harness.get(DEPLOYMENTS, f"azeroth-{r}") for r in roles)
            and all(harness.get(SERVICES, f"azeroth-{r}") for r in roles)
        ),
        what="realm children",
    )
    realm = harness.get(REALMS, "azeroth")
    assert realm is not None
    uid = realm["metadata"]["uid"]
    for role in roles:
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
        assert env["REALM_POSTGRES_URL"]["valueFrom"]["secretKeyRef"] == {
            "name": "realm-db",
            "key": "url",
        }
        assert env["REALM_REDIS_URL"]["valueFrom"]["secretKeyRef"]["name"] == "realm-redis"
        for probe in ("readinessProbe", "livenessProbe"):
            assert container[probe]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    rcm_ports = {
        p["name"]: p["protocol"] for p in harness.get(SERVICES, "azeroth-rcm")["spec"]["ports"]
    }  # type: ignore[index]
    assert rcm_ports["game"] == "UDP"
    status = await harness.until(
        lambda: (harness.get(REALMS, "azeroth") or {}).get("status", {}).get("phase"),
        what="realm status",
    )
    assert status in ("Progressing", "Running")
