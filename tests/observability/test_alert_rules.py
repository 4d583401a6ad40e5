"""The chart's alert rules: off by default, well-formed for promtool, about real metrics,
and proven by promtool unit cases (alerts_test.yaml) that each alert fires when it should
and stays quiet for its healthy neighbour.

The rule file checked is the one Helm renders (rule groups extracted from the
PrometheusRule), so a templating mistake fails here as well as a PromQL one.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml
from helm_python import lint

from .contract import (
    CHART,
    RULE_VALUES,
    Json,
    alert_rules,
    render_chart,
    require_tool,
    rule_groups,
    selector_problems,
    series_catalogue,
    write_rules,
)

UNIT_CASES = Path(__file__).with_name("alerts_test.yaml")

# What the issue asks alerts for, and the rule that answers each.
REQUIRED_ALERTS = {
    "tick rate below target for N minutes": "RealmTickRateBelowTarget",
    "tick p99 over budget": "RealmTickP99OverBudget",
    "login queue growing": "RealmLoginQueueGrowing",
    "operator unable to scale": "RealmOperatorCannotScale",
    "a region server gone": "RealmRegionServerGone",
}


def test_prometheus_rule_is_off_by_default() -> None:
    assert not [d for d in render_chart({}) if d["kind"] == "PrometheusRule"]


def test_chart_lints_clean_with_rules_and_dashboards() -> None:
    result = lint(str(CHART), RULE_VALUES, strict=True)
    assert not result["errors"], result
    assert all(m["severity"] <= 1 for m in result["messages"]), result["messages"]


def test_prometheus_rule_follows_values() -> None:
    values: Json = {
        "prometheusRule": {
            "enabled": True,
            "namespace": "monitoring",
            "labels": {"release": "kube-prometheus-stack"},
            "ruleLabels": {"team": "realm-ops"},
            "runbookBaseUrl": "https://runbooks.example/openrealm",
            "tickRate": {"ratio": 0.8, "for": "3m"},
        }
    }
    (rule,) = [d for d in render_chart(values) if d["kind"] == "PrometheusRule"]
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["metadata"]["namespace"] == "monitoring"
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    alerts = alert_rules(rule["spec"])
    for a in alerts:
        assert a["labels"]["team"] == "realm-ops"
        assert a["annotations"]["runbook_url"].startswith("https://runbooks.example/openrealm#")
    (tick,) = [a for a in alerts if a["alert"] == "RealmTickRateBelowTarget"]
    assert tick["expr"] == "realm_tick_rate_hz < 0.8 * realm_tick_target_hz"
    assert tick["for"] == "3m"
    # Without a ServiceMonitor there is no operator scrape job to watch.
    assert "RealmOperatorDown" not in {a["alert"] for a in alerts}


def test_every_alert_is_annotated_and_about_real_metrics() -> None:
    catalogue = series_catalogue()
    alerts = alert_rules(rule_groups())
    names = [a["alert"] for a in alerts]
    assert len(names) == len(set(names))
    assert set(REQUIRED_ALERTS.values()) <= set(names)
    problems: list[str] = []
    for a in alerts:
        if a["labels"].get("severity") not in ("warning", "critical"):
            problems.append(f"{a['alert']}: severity {a['labels'].get('severity')}")
        for key in ("summary", "description"):
            if len(a["annotations"].get(key, "")) < 15:
                problems.append(f"{a['alert']}: no useful {key}")
        problems += [f"{a['alert']}: {e}" for e in selector_problems(a["expr"], catalogue)]
    assert not problems, "\n".join(problems)


def test_promtool_check_rules(tmp_path: Path) -> None:
    promtool = require_tool("promtool")
    rules = write_rules(tmp_path / "rules.yaml")
    r = subprocess.run(
        [promtool, "check", "rules", str(rules)], capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"SUCCESS: {len(alert_rules(rule_groups()))} rules found" in r.stdout


def test_promtool_unit_cases_cover_and_pass(tmp_path: Path) -> None:
    promtool = require_tool("promtool")
    write_rules(tmp_path / "rules.yaml")
    cases = shutil.copy(UNIT_CASES, tmp_path / UNIT_CASES.name)
    spec = yaml.safe_load(UNIT_CASES.read_text())
    tested = {
        case["alertname"]
        for test in spec["tests"]
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    untested = {a["alert"] for a in alert_rules(rule_groups())} - tested
    assert not untested, f"alerts without a firing case in {UNIT_CASES.name}: {untested}"
    r = subprocess.run(
        [promtool, "test", "rules", str(cases)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stdout + r.stderr
