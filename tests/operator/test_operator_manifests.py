"""Static checks: CRDs match the models, the chart renders to valid manifests, the
examples validate against the CRD schemas, and the pure builders produce what we mean."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from helm_python import Chart
from realm_operator import crdgen
from realm_operator.builders import (
    Owner,
    build_realm_children,
    build_server_pod,
    build_token_secret,
)
from realm_operator.resources import (
    InvalidSpec,
    RealmSpec,
    RegionSpec,
    parse_realm_spec,
    parse_region_spec,
)

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "openrealm"
K8S_VERSION = "1.30.0"


def test_checked_in_crds_match_the_models() -> None:
    for directory in crdgen.TARGETS:
        for name, manifest in crdgen.generate().items():
            path = directory / name
            assert path.exists(), f"{path} missing: run python -m realm_operator.crdgen"
            assert path.read_text() == crdgen.render(manifest), (
                f"{path} is stale: run python -m realm_operator.crdgen"
            )


@pytest.mark.parametrize("name", ["realms.yaml", "regions.yaml"])
def test_crds_are_valid_kubernetes(name: str) -> None:
    doc = yaml.safe_load((ROOT / "crds" / name).read_text())
    kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    version = doc["spec"]["versions"][0]
    cols = {c["name"] for c in version["additionalPrinterColumns"]}
    assert {"Phase", "Players", "Queue", "Servers", "Tick p99"} <= cols
    assert version["subresources"] == {"status": {}}


def _schemas() -> dict[str, dict[str, Any]]:
    out = {}
    for name in ("realms.yaml", "regions.yaml"):
        crd = yaml.safe_load((ROOT / "crds" / name).read_text())
        out[crd["spec"]["names"]["kind"]] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return out


def _example_docs() -> list[tuple[str, dict[str, Any]]]:
    docs = []
    for path in sorted((ROOT / "examples").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                docs.append((path.name, doc))
    return docs


def test_examples_validate_against_crd_schemas_and_models() -> None:
    schemas = _schemas()
    seen = set()
    for filename, doc in _example_docs():
        kind = doc["kind"]
        if kind in schemas:
            # OpenAPI v3.0 keeps draft-4 semantics (boolean exclusiveMinimum).
            jsonschema.Draft4Validator(schemas[kind]).validate(doc)
            parse = parse_realm_spec if kind == "Realm" else parse_region_spec
            parse(doc["spec"])  # the operator's own, stricter validation (unknown fields)
            seen.add(kind)
        else:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        assert filename
    assert seen == {"Realm", "Region"}


def test_crd_schema_rejects_bad_example() -> None:
    schema = _schemas()["Region"]
    bad = {
        "apiVersion": "mmo.openrealm.dev/v1alpha1",
        "kind": "Region",
        "metadata": {},
        "spec": {"realmRef": "a", "playersPerServer": 0},
    }
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft4Validator(schema).validate(bad)


def _render(values: dict[str, Any]) -> list[dict[str, Any]]:
    rendered = Chart.load(str(CHART)).render(values, name="openrealm", namespace="ops")
    docs: list[dict[str, Any]] = []
    for text in rendered.values():
        docs.extend(d for d in yaml.safe_load_all(text) if d)
    return docs


NON_DEFAULT = {
    "image": {"repository": "registry.example/openrealm", "tag": "9.9.9", "pullPolicy": "Always"},
    "operator": {
        "logLevel": "DEBUG",
        "watchNamespaces": ["azeroth", "kalimdor"],
        "redisUrlSecret": {"name": "ops-redis", "key": "url"},
        "redisPrefix": "realm",
    },
    "rbac": {"readSecrets": False},
    "serviceAccount": {"name": "realm-operator", "annotations": {"a": "b"}},
    "metrics": {"serviceMonitor": {"enabled": True, "labels": {"release": "prom"}}},
    "resources": {"requests": {"cpu": "100m"}},
    "nodeSelector": {"pool": "system"},
    "imagePullSecrets": [{"name": "regcred"}],
}


@pytest.mark.parametrize("values", [{}, NON_DEFAULT], ids=["default", "custom"])
def test_chart_renders_valid_manifests(values: dict[str, Any]) -> None:
    docs = _render(values)
    kinds = {d["kind"] for d in docs}
    assert {"Deployment", "ServiceAccount"} <= kinds
    for doc in docs:
        if doc["kind"] == "ServiceMonitor":
            assert doc["apiVersion"] == "monitoring.coreos.com/v1"
            continue
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    (dep,) = [d for d in docs if d["kind"] == "Deployment"]
    pod = dep["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    assert c["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    rules = [r for d in docs if d["kind"] in ("ClusterRole", "Role") for r in d["rules"]]
    assert all("*" not in r["verbs"] and "*" not in r["resources"] for r in rules)
    secret_verbs = {v for r in rules if "secrets" in r["resources"] for v in r["verbs"]}
    # The operator runs `realm operator`, the image's CLI entry point (Dockerfile).
    assert "command" not in c and c["args"] == ["operator"]
    if values:
        # Without Secret reads it can still create a realm's token-key Secret.
        assert "ServiceMonitor" in kinds and secret_verbs == {"create"}
        assert {d["metadata"].get("namespace") for d in docs if d["kind"] == "Role"} == {
            "azeroth",
            "kalimdor",
        }
        assert c["image"] == "registry.example/openrealm:9.9.9"
    else:
        assert "ServiceMonitor" not in kinds and secret_verbs == {"get", "create"}
        assert "Role" not in kinds


OWNER = Owner(kind="Realm", name="azeroth", uid="u1", namespace="games")


def test_builders_produce_valid_owned_manifests() -> None:
    realm = RealmSpec.model_validate(
        {
            "image": "img:1",
            "database": {"name": "db"},
            "redis": {"name": "r"},
            "tokenKey": {"name": "tk", "key": "hex"},
        }
    )
    for manifest in [*build_realm_children(OWNER, realm), build_token_secret(OWNER, "ab" * 32)]:
        kubernetes_validate.validate(manifest, K8S_VERSION, strict=True)
        assert manifest["metadata"]["ownerReferences"][0]["uid"] == "u1"
    region = RegionSpec.model_validate(
        {
            "realmRef": "azeroth",
            "map": {"region": "elwynn"},
            "podTemplate": {
                "nodeSelector": {"a": "b"},
                "tolerations": [{"key": "k", "operator": "Exists"}],
                "resources": {"limits": {"memory": "1Gi", "cpu": 2}},
                "env": [{"name": "X", "value": "1"}, {"name": "REALM_LEASE_TTL_S", "value": "20"}],
            },
        }
    )
    owner = Owner(kind="Region", name="elwynn", uid="u2", namespace="games")
    pod = build_server_pod(owner, "azeroth", realm, region, 7, id_block=12)
    kubernetes_validate.validate(pod, K8S_VERSION, strict=True)
    assert pod["metadata"]["name"] == "elwynn-server-7"
    env = {e["name"]: e.get("value") for e in pod["spec"]["containers"][0]["env"]}
    assert env["REALM_SERVER_ID"] == "elwynn-server-7" and env["X"] == "1"
    assert env["REALM_REGION"] == "elwynn" and env["REALM_ID_BLOCK"] == "12"


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"realmRef": "a", "minServers": 3, "maxServers": 1}, "maxServers"),
        ({"realmRef": "a", "playersPerServer": 0}, "spec.playersPerServer"),
        ({"realmRef": "a", "targetUtilisation": 2}, "spec.targetUtilisation"),
        ({"map": {"region": "elwynn"}}, "spec.realmRef"),
        ({"realmRef": "a", "map": {"region": "mordor"}}, "spec.map.region"),
        ({"realmRef": "a", "map": "elwynn"}, "spec.map"),
        ({"realmRef": "a", "bounds": {"minX": 0}}, "spec.bounds"),
        ({"realmRef": "a", "typo": 1}, "spec.typo"),
        ({"realmRef": "a", "snapshotEvery": 11}, "spec.snapshotEvery"),
        (
            {"realmRef": "a", "snapshotEvery": 10, "snapshotBudgetBytes": 200},
            "spec: snapshotBudgetBytes x snapshotEvery = 2000 bytes per snapshot",
        ),
        (
            {"realmRef": "a", "podTemplate": {"env": [{"name": "REALM_BOUNDS", "value": "1"}]}},
            "spec.podTemplate.env.0.name: REALM_BOUNDS is not a realm setting",
        ),
    ],
)
def test_invalid_region_specs_name_the_field(spec: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidSpec, match=re.escape(field)):
        parse_region_spec(spec, "elwynn")


def test_map_region_defaults_to_the_region_name_only_if_it_is_a_map_region() -> None:
    assert parse_region_spec({"realmRef": "a"}, "westfall").map_region.name == "westfall"
    explicit = parse_region_spec({"realmRef": "a", "map": {"region": "westfall"}}, "west-2")
    assert explicit.map_region.name == "westfall"
    with pytest.raises(InvalidSpec, match=r"spec\.map\.region: required.*'durotar'.*elwynn"):
        parse_region_spec({"realmRef": "a"}, "durotar")


def test_snapshot_settings_combine_the_regions_and_the_realms() -> None:
    realm = parse_realm_spec(
        {"image": "i", "database": {"name": "db"}, "redis": {"name": "r"}, "snapshotEvery": 5}
    )
    assert (realm.snapshot_every, realm.snapshot_budget_bytes) == (5, 200)
    assert parse_region_spec({"realmRef": "a"}, "elwynn").snapshots(realm) == (5, 200)
    own = parse_region_spec({"realmRef": "a", "snapshotBudgetBytes": 300}, "elwynn")
    assert own.snapshots(parse_realm_spec({**realm.dump(), "snapshotEvery": 2})) == (2, 300)
    with pytest.raises(InvalidSpec, match="1500 bytes per snapshot"):
        own.snapshots(realm)  # 5 x 300: fine alone, too big together
    with pytest.raises(InvalidSpec, match="2000 bytes per snapshot"):
        parse_realm_spec({**realm.dump(), "snapshotBudgetBytes": 400})
