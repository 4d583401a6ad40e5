"""The pieces the observability tests share: the metric contract read from
`gameserver.metrics`, the shipped dashboards, PromQL scanning, the rendered alert rules, and
the Prometheus tools.

The metric contract is read from the module's metric objects rather than from a scrape, so
a metric that is defined but not emitted yet still counts as defined: the static checks
catch typos in names and labels at once, and the live test (test_dashboards_live.py) is the
one that proves data really flows.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from helm_python import Chart
from prometheus_client.metrics import MetricWrapperBase

from gameserver import metrics

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "openrealm"
DASHBOARDS = CHART / "dashboards"
METRICS_DOC = ROOT / "docs" / "metrics.md"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

Json = dict[str, Any]

# Labels Prometheus itself attaches to every scraped series.
TARGET_LABELS = frozenset({"job", "instance"})


@dataclass(frozen=True)
class MetricInfo:
    name: str  # the family name as exposed (counters with their _total)
    type: str  # counter, gauge, histogram
    labels: tuple[str, ...]
    help: str

    def series_names(self) -> dict[str, frozenset[str]]:
        """Every series name this metric exposes, with the labels each may carry."""
        labels = frozenset(self.labels) | TARGET_LABELS
        if self.type == "histogram":
            return {
                f"{self.name}_bucket": labels | {"le"},
                f"{self.name}_count": labels,
                f"{self.name}_sum": labels,
            }
        return {self.name: labels}


def registered_metrics() -> dict[str, MetricInfo]:
    """Every metric `gameserver.metrics` defines, by exposed family name."""
    out: dict[str, MetricInfo] = {}
    for value in vars(metrics).values():
        if not isinstance(value, MetricWrapperBase):
            continue
        kind = str(value._type)
        name = value._name + ("_total" if kind == "counter" else "")
        out[name] = MetricInfo(name, kind, tuple(value._labelnames), value._documentation)
    return out


def series_catalogue() -> dict[str, frozenset[str]]:
    """Series name -> labels it may carry, over every registered metric."""
    out: dict[str, frozenset[str]] = {}
    for info in registered_metrics().values():
        out.update(info.series_names())
    return out


# --- dashboards -----------------------------------------------------------------------
def dashboard_files() -> list[Path]:
    return sorted(DASHBOARDS.glob("*.json"))


def load_dashboard(path: Path) -> Json:
    data: Json = json.loads(path.read_text())
    return data


def panels(dashboard: Json) -> Iterator[Json]:
    """Every panel, rows' nested panels included (collapsed rows keep theirs inside)."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def data_panels(dashboard: Json) -> Iterator[Json]:
    """Panels that query Prometheus (everything but row headers)."""
    return (p for p in panels(dashboard) if p.get("type") != "row")


def variables(dashboard: Json) -> list[Json]:
    result: list[Json] = dashboard.get("templating", {}).get("list", [])
    return result


def variable_query(var: Json) -> str:
    q = var.get("query")
    if isinstance(q, dict):
        return str(q.get("query", ""))
    return str(q or "")


LABEL_VALUES = re.compile(r"^label_values\(\s*(?:(?P<match>.+?)\s*,\s*)?(?P<label>\w+)\s*\)$")


# --- PromQL scanning --------------------------------------------------------------------
_SELECTOR = re.compile(r"\b(realm_[a-zA-Z0-9_]+)\s*(\{[^}]*\})?")
_MATCHER = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)")
GRAFANA_BUILTINS = frozenset({"__rate_interval", "__interval", "__range", "__range_s"})
_VAR_REF = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]")


def selectors(expr: str) -> list[tuple[str, list[str]]]:
    """(series name, label names matched) for each `realm_*` selector in a PromQL expr."""
    out = []
    for m in _SELECTOR.finditer(expr):
        body = m.group(2) or ""
        out.append((m.group(1), [lm.group(1) for lm in _MATCHER.finditer(body)]))
    return out


def selector_problems(expr: str, catalogue: dict[str, frozenset[str]]) -> list[str]:
    """Unknown series names and label matchers a series does not carry."""
    problems = []
    for name, labels in selectors(expr):
        if name not in catalogue:
            problems.append(f"unknown series {name}")
            continue
        for label in labels:
            if label not in catalogue[name]:
                problems.append(f"{name} has no label {label!r}")
    return problems


def var_refs(text: str) -> set[str]:
    return {a or b or c for a, b, c in _VAR_REF.findall(text)}


# --- alert rules -------------------------------------------------------------------------
def render_chart(values: Json) -> list[Json]:
    rendered = Chart.load(str(CHART)).render(values, name="openrealm", namespace="ops")
    docs: list[Json] = []
    for text in rendered.values():
        docs.extend(d for d in yaml.safe_load_all(text) if d)
    return docs


RULE_VALUES: Json = {
    "prometheusRule": {"enabled": True},
    # The operator-down rule needs the scrape job the ServiceMonitor defines.
    "metrics": {"serviceMonitor": {"enabled": True}},
}
OPERATOR_JOB = "openrealm-metrics"  # the metrics Service of release "openrealm"


def rule_groups(values: Json | None = None) -> Json:
    """The rule groups of the chart's PrometheusRule, as a Prometheus rule file."""
    docs = [d for d in render_chart(values or RULE_VALUES) if d["kind"] == "PrometheusRule"]
    assert len(docs) == 1, f"expected one PrometheusRule, got {len(docs)}"
    spec: Json = docs[0]["spec"]
    return {"groups": spec["groups"]}


def write_rules(path: Path) -> Path:
    path.write_text(yaml.safe_dump(rule_groups(), sort_keys=False))
    return path


def alert_rules(groups: Json) -> list[Json]:
    return [r for g in groups["groups"] for r in g["rules"] if "alert" in r]


# --- tools ---------------------------------------------------------------------------------
def require_tool(name: str) -> str:
    """Path of a Prometheus tool. Missing: a failure under CI (the CI script installs
    Debian's `prometheus` package), a skip on a developer machine."""
    path = shutil.which(name)
    if path:
        return path
    message = f"{name} not found: apt-get install -y prometheus (it brings promtool)"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)
