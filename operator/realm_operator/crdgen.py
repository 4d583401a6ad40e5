"""Generate the CRD YAML from the pydantic models in `realm_operator.resources`.

Run `python -m realm_operator.crdgen` after changing a model; it rewrites `crds/` and
`charts/openrealm/crds/`. A test regenerates in memory and fails when the checked-in files
differ, so the API server's schema and the operator's validation cannot drift apart.

Pydantic emits JSON Schema 2020-12; Kubernetes wants a *structural* OpenAPI v3.0 subset.
The conversion inlines `$ref`s, turns `anyOf [X, null]` into `nullable`, numeric
`exclusiveMinimum` into the boolean form, and drops what the API server refuses (`title`,
`$defs`, `additionalProperties: false`, `default: null`).
"""

from __future__ import annotations

import argparse
import copy
from pathlib import Path
from typing import Any

import yaml

from realm_operator.resources import (
    GROUP,
    VERSION,
    RealmSpec,
    RealmStatus,
    RegionSpec,
    RegionStatus,
)

REPO = Path(__file__).resolve().parents[2]
TARGETS = (REPO / "crds", REPO / "charts" / "openrealm" / "crds")

Schema = dict[str, Any]


def _resolve(node: Any, defs: dict[str, Schema]) -> Any:
    if isinstance(node, list):
        return [_resolve(n, defs) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = copy.deepcopy(defs[node["$ref"].rsplit("/", 1)[-1]])
        extra = {k: v for k, v in node.items() if k != "$ref"}
        return _resolve({**target, **extra}, defs)
    return {k: _resolve(v, defs) for k, v in node.items() if k != "$defs"}


def _structural(node: Any) -> Any:
    if isinstance(node, list):
        return [_structural(n) for n in node]
    if not isinstance(node, dict):
        return node
    node = dict(node)
    node.pop("title", None)
    if node.get("x-kubernetes-int-or-string"):
        node.pop("anyOf", None)
        return node
    any_of = node.get("anyOf")
    if isinstance(any_of, list):
        non_null = [s for s in any_of if s.get("type") != "null"]
        if len(non_null) == 1 and len(non_null) < len(any_of):
            del node["anyOf"]
            node = {**non_null[0], **node, "nullable": True}
            node.pop("title", None)
    if node.get("default", 0) is None:
        del node["default"]
    if node.get("additionalProperties") is False:
        del node["additionalProperties"]
    if node.get("additionalProperties") is True:
        del node["additionalProperties"]
        node["x-kubernetes-preserve-unknown-fields"] = True
    for bound, plain in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        value = node.get(bound)
        if isinstance(value, int | float) and not isinstance(value, bool):
            node[plain] = value
            node[bound] = True
    if "enum" in node and "type" not in node:
        node["type"] = "string"
    return {k: _structural(v) for k, v in node.items()}


def openapi_schema(model: type[Any]) -> Schema:
    """The structural openAPIV3Schema of one pydantic model."""
    raw = model.model_json_schema(by_alias=True, mode="validation")
    defs = raw.pop("$defs", {})
    result: Schema = _structural(_resolve(raw, defs))
    return result


def _crd(
    kind: str,
    plural: str,
    short: list[str],
    spec: type[Any],
    status: type[Any],
    columns: list[dict[str, str]],
) -> dict[str, Any]:
    status_schema = openapi_schema(status)
    status_schema.pop("required", None)
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": kind,
                "listKind": f"{kind}List",
                "plural": plural,
                "singular": kind.lower(),
                "shortNames": short,
                "categories": ["openrealm"],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": columns,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "required": ["spec"],
                            "properties": {
                                "apiVersion": {"type": "string"},
                                "kind": {"type": "string"},
                                "metadata": {"type": "object"},
                                "spec": openapi_schema(spec),
                                "status": status_schema,
                            },
                        }
                    },
                }
            ],
        },
    }


def _col(name: str, path: str, typ: str = "string", priority: int = 0) -> dict[str, Any]:
    col: dict[str, Any] = {"name": name, "type": typ, "jsonPath": path}
    if priority:
        col["priority"] = priority
    return col


def generate() -> dict[str, dict[str, Any]]:
    """File name -> CRD manifest, for every custom resource the operator serves."""
    age = _col("Age", ".metadata.creationTimestamp", "date")
    realm = _crd(
        "Realm",
        "realms",
        ["rlm"],
        RealmSpec,
        RealmStatus,
        [
            _col("Phase", ".status.phase"),
            _col("Players", ".status.onlinePlayers", "integer"),
            _col("Queue", ".status.queueLength", "integer"),
            _col("Servers", ".status.readyServers", "integer"),
            _col("Capacity", ".status.readyCapacity", "integer"),
            _col("Tick p99", ".status.tickP99Ms"),
            age,
        ],
    )
    region = _crd(
        "Region",
        "regions",
        ["rgn"],
        RegionSpec,
        RegionStatus,
        [
            _col("Realm", ".spec.realmRef"),
            _col("Map", ".status.mapRegion"),
            _col("Phase", ".status.phase"),
            _col("Players", ".status.players", "integer"),
            _col("Queue", ".status.queueDemand", "integer"),
            _col("Servers", ".status.readyServers", "integer"),
            _col("Desired", ".status.desiredServers", "integer"),
            _col("Tick p99", ".status.tickP99Ms"),
            _col("Kind", ".status.kind", priority=1),
            age,
        ],
    )
    return {"realms.yaml": realm, "regions.yaml": region}


HEADER = "# Generated by `python -m realm_operator.crdgen` from realm_operator/resources.py.\n"
HEADER += "# Do not edit by hand: a test fails when this file and the models differ.\n"


def render(manifest: dict[str, Any]) -> str:
    return HEADER + str(yaml.safe_dump(manifest, sort_keys=False, width=100))


def write(targets: tuple[Path, ...] = TARGETS) -> list[Path]:
    written = []
    for directory in targets:
        directory.mkdir(parents=True, exist_ok=True)
        for name, manifest in generate().items():
            path = directory / name
            path.write_text(render(manifest), encoding="utf-8")
            written.append(path)
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("dirs", nargs="*", type=Path, help="output folders (default: repo's)")
    args = parser.parse_args(argv)
    for path in write(tuple(args.dirs) or TARGETS):
        print(path)


if __name__ == "__main__":
    main()
