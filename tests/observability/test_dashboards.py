"""Fast, static checks of the Grafana dashboards and of the ConfigMaps that ship them.

Grafana accepts almost any JSON and shows an empty panel for a mistake, so these checks
hold what a reviewer would: the schema version, unique ids, every panel and query bound to
the templated Prometheus, a unit everywhere, variables that exist and are used, and every
series name and label matcher known to `gameserver.metrics`. Whether the queries return
data is the live test's job (test_dashboards_live.py).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import kubernetes_validate
import pytest

from .contract import (
    GRAFANA_BUILTINS,
    LABEL_VALUES,
    Json,
    dashboard_files,
    data_panels,
    load_dashboard,
    panels,
    render_chart,
    selector_problems,
    series_catalogue,
    var_refs,
    variable_query,
    variables,
)

SCHEMA_VERSION = 39
DS = {"type": "prometheus", "uid": "${datasource}"}

# The dashboards the issue asks for, with the variables each must offer.
REQUIRED = {
    "openrealm-overview": {"datasource", "realm", "region"},
    "openrealm-region-servers": {"datasource", "realm", "region", "server"},
    "openrealm-login-queue": {"datasource", "realm"},
    "openrealm-operator": {"datasource", "realm", "region"},
    "openrealm-network-storage": {"datasource", "realm", "server"},
}
# Constructs that hide a wrong query behind made-up data.
MASKING = re.compile(r"\bor\s+vector\(|\babsent(_over_time)?\(")
HARDCODED_WINDOW = re.compile(r"\[\s*\d+[smhdwy]\s*(:[^\]]*)?\]")

PATHS = dashboard_files()


def _ids(path: Path) -> str:
    return path.stem


def test_the_issues_dashboards_ship() -> None:
    uids = [load_dashboard(p)["uid"] for p in PATHS]
    assert len(uids) == len(set(uids)), f"duplicate dashboard uids: {uids}"
    assert set(REQUIRED) <= set(uids)


@pytest.mark.parametrize("path", PATHS, ids=_ids)
def test_dashboard_structure(path: Path) -> None:
    d = load_dashboard(path)
    assert d["schemaVersion"] == SCHEMA_VERSION
    assert d.get("id") is None, "a provisioned dashboard must not carry a database id"
    assert d["uid"].startswith("openrealm-") and len(d["uid"]) <= 40
    assert d["title"].startswith("openrealm / ")
    assert "openrealm" in d["tags"]

    ids = [p["id"] for p in panels(d)]
    assert all(isinstance(i, int) for i in ids)
    assert len(ids) == len(set(ids)), f"duplicate panel ids in {path.name}"

    problems: list[str] = []
    for p in panels(d):
        where = f"{path.name}: panel {p['id']} {p.get('title')!r}"
        pos = p.get("gridPos", {})
        if not {"h", "w", "x", "y"} <= set(pos) or pos["x"] + pos["w"] > 24:
            problems.append(f"{where}: bad gridPos {pos}")
        if not p.get("title"):
            problems.append(f"{where}: no title")
        if p.get("type") == "row":
            continue
        if not p.get("description"):
            problems.append(f"{where}: no description")
        if p.get("datasource") != DS:
            problems.append(f"{where}: panel datasource is {p.get('datasource')}, not {DS}")
        if not p.get("fieldConfig", {}).get("defaults", {}).get("unit"):
            problems.append(f"{where}: no unit")
        targets = p.get("targets", [])
        if not targets:
            problems.append(f"{where}: no queries")
        refs = [t.get("refId") for t in targets]
        if len(refs) != len(set(refs)) or not all(refs):
            problems.append(f"{where}: refIds {refs}")
        for t in targets:
            if t.get("datasource") != DS:
                problems.append(f"{where} {t.get('refId')}: datasource {t.get('datasource')}")
            if not t.get("expr", "").strip():
                problems.append(f"{where} {t.get('refId')}: empty expr")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", PATHS, ids=_ids)
def test_variables_are_templated_and_used(path: Path) -> None:
    d = load_dashboard(path)
    vars_ = {v["name"]: v for v in variables(d)}
    assert REQUIRED.get(d["uid"], {"datasource", "realm"}) <= set(vars_)
    ds = vars_["datasource"]
    assert ds["type"] == "datasource" and ds["query"] == "prometheus"

    used: set[str] = set()
    for p in data_panels(d):
        for t in p["targets"]:
            used |= var_refs(t["expr"]) | var_refs(t.get("legendFormat", ""))
    defined = set(vars_) | GRAFANA_BUILTINS
    for name, v in vars_.items():
        if v["type"] != "query":
            continue
        query = variable_query(v)
        assert v.get("datasource") == DS, f"variable {name}: datasource {v.get('datasource')}"
        assert LABEL_VALUES.match(query), f"variable {name}: not a label_values query: {query}"
        assert v.get("refresh") in (1, 2), f"variable {name} never refreshes"
        assert v.get("includeAll") and v.get("allValue") == ".*"
        refs = var_refs(query)
        assert refs <= defined, f"variable {name} uses undefined {refs - defined}"
        used |= refs
    undefined = used - defined
    assert not undefined, f"{path.name} uses undefined variables {undefined}"
    unused = set(vars_) - used - {"datasource"}
    assert not unused, f"{path.name} defines variables no panel uses: {unused}"


@pytest.mark.parametrize("path", PATHS, ids=_ids)
def test_queries_name_real_metrics_and_labels(path: Path) -> None:
    catalogue = series_catalogue()
    d = load_dashboard(path)
    problems: list[str] = []
    for v in variables(d):
        if v["type"] == "query":
            problems += [
                f"variable {v['name']}: {e}"
                for e in selector_problems(variable_query(v), catalogue)
            ]
    for p in data_panels(d):
        for t in p["targets"]:
            where = f"panel {p['id']} {p['title']!r} {t['refId']}"
            expr = t["expr"]
            problems += [f"{where}: {e}" for e in selector_problems(expr, catalogue)]
            if MASKING.search(expr):
                problems.append(f"{where}: `or vector()`/absent() would hide a wrong query")
            if HARDCODED_WINDOW.search(expr):
                problems.append(f"{where}: use $__rate_interval or $__range, not a fixed window")
            if not re.search(r"\brealm_", expr):
                problems.append(f"{where}: queries no realm metric")
    assert not problems, "\n".join(problems)


def _configmaps(values: Json) -> list[Json]:
    return [d for d in render_chart(values) if d["kind"] == "ConfigMap"]


def test_chart_ships_each_dashboard_as_a_sidecar_configmap() -> None:
    maps = _configmaps({})
    by_key = {k: cm for cm in maps for k in cm["data"]}
    assert set(by_key) == {p.name for p in PATHS}
    for cm in maps:
        kubernetes_validate.validate(cm, "1.30.0", strict=True)
        assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert cm["metadata"]["namespace"] == "ops"
        (key,) = cm["data"]
        assert json.loads(cm["data"][key]) == load_dashboard(
            next(p for p in PATHS if p.name == key)
        )


def test_dashboard_configmaps_follow_values() -> None:
    assert _configmaps({"grafanaDashboards": {"enabled": False}}) == []
    maps = _configmaps(
        {
            "grafanaDashboards": {
                "namespace": "monitoring",
                "label": "grafana_dashboard_openrealm",
                "labelValue": "yes",
                "folder": "Games",
                "annotations": {"note": "x"},
            }
        }
    )
    assert maps
    for cm in maps:
        meta = cm["metadata"]
        assert meta["namespace"] == "monitoring"
        assert meta["labels"]["grafana_dashboard_openrealm"] == "yes"
        assert meta["annotations"] == {"grafana_folder": "Games", "note": "x"}
