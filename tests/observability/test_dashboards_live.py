"""THE test of the dashboards: a real Prometheus scrapes a running realm with bots and the
real operator, and the query of every panel of every dashboard must return data.

What runs (each its own process, as in production):
- `realm up` with bots: every game metric, from the embedded realm's /metrics;
- the realm operator's real handlers against kmock (kmock_operator.py), scaling a Region up
  and down: the operator metrics, from its own /metrics;
- Prometheus (Debian's `prometheus` package) with a 1 s scrape interval, a temporary TSDB,
  and the chart's alert rules loaded, so they are evaluated against real series too.
A few malformed and oversized datagrams are sent to the RCM, as players would, so the drop
panels show real drops.

Then, for each dashboard, the template variables are resolved through Prometheus the way
Grafana does (label_values), and every panel's queries are evaluated twice: with each
variable set to one real value (the strict pass: a wrong label filter returns nothing) and
with every variable at "All". A query passes when Prometheus accepts it, returns at least one
series with a finite value, and every `{{label}}` of its legend is a label of the result.

Panels whose metrics belong to features still being built are listed in
`PENDING_FEATURE_PANELS` with their issue: their queries must still be accepted by
Prometheus, but they may return nothing yet, and the test warns once they return data so
the entry can be removed. Nothing else is excused.
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.error import HTTPError
from urllib.parse import quote, urlencode
from urllib.request import urlopen

import pytest
import yaml

from .contract import (
    LABEL_VALUES,
    OPERATOR_JOB,
    Json,
    dashboard_files,
    data_panels,
    load_dashboard,
    require_tool,
    variable_query,
    variables,
    write_rules,
)

REALM = "azeroth"  # the embedded realm
OPERATOR_REALM = "kalimdor"  # the Realm the operator manages on kmock
OPERATOR_REGIONS = ("durotar", "barrens")
SEATS = 6  # the realm's player limit, and the bots in the world at the end
LEAVERS = 2  # bots that walk a few seconds and log out, freeing seats
LEAVERS_WALK_S = 4
QUEUED = 2  # bots that arrive at a full realm and queue
TICK_RATE = 20
GARBAGE = {"oversized": b"\x00" * 1500, "malformed": b"\x01\x02\x03"}
GARBAGE_EACH = 5

# Grafana's built-in variables, as a 1 s scrape interval makes them ($__range and
# $__range_s are set to the span Prometheus has watched, per check).
BUILTINS = {"__rate_interval": "15s", "__interval": "1s"}
STEP = "1s"

# Panels whose metrics come from features still being built by other issues. Their
# queries must parse and evaluate; they may be empty. Remove an entry when its feature
# lands (the test warns when an entry's panel starts returning data).
PENDING_FEATURE_PANELS: dict[tuple[str, str], str] = {}


class PendingPanelHasData(UserWarning):
    """A panel on the pending list returns data now: take it off the list."""


# --- processes ------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def tail(self, n: int = 40) -> str:
        lines = self.log.read_text(errors="replace").splitlines()[-n:]
        return f"--- {self.name} ({self.log}) ---\n" + "\n".join(lines)

    def wait_for_line(self, pattern: str, timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern, re.MULTILINE)
        while time.monotonic() < deadline:
            m = rx.search(self.log.read_text(errors="replace"))
            if m:
                return m
            if self.popen.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"{self.name} never printed /{pattern}/\n{self.tail()}")

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=5)


def _spawn(name: str, args: list[str], tmp: Path, env: dict[str, str] | None = None) -> Proc:
    log = tmp / f"{name}.log"
    with log.open("wb") as out:
        popen = subprocess.Popen(
            args,
            stdin=subprocess.PIPE,  # kmock_operator.py ends when this closes
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            cwd=tmp,
        )
    return Proc(name, popen, log)


# --- Prometheus's HTTP API -----------------------------------------------------------------
class PromError(Exception):
    pass


@dataclass
class Prometheus:
    url: str

    def _get(self, path: str, params: dict[str, str] | None = None) -> Any:
        url = f"{self.url}{path}" + (f"?{urlencode(params)}" if params else "")
        try:
            with urlopen(url, timeout=10) as r:
                body = json.load(r)
        except HTTPError as e:
            body = json.loads(e.read() or b"{}")
        if body.get("status") != "success":
            raise PromError(f"{body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query(self, expr: str) -> list[Json]:
        data = self._get("/api/v1/query", {"query": expr})
        if data["resultType"] == "scalar":
            return [{"metric": {}, "value": data["result"]}]
        result: list[Json] = data["result"]
        return result

    def query_range(self, expr: str, start: float, end: float, step: str) -> list[Json]:
        """What Grafana asks for a time series or stat panel: the expr over a range."""
        params = {"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": step}
        result: list[Json] = self._get("/api/v1/query_range", params)["result"]
        return result

    def value(self, expr: str) -> float | None:
        result = self.query(expr)
        return float(result[0]["value"][1]) if result else None

    def label_values(self, label: str, match: str | None) -> list[str]:
        params = {"match[]": match} if match else None
        values: list[str] = self._get(f"/api/v1/label/{quote(label)}/values", params)
        return sorted(values)

    def rules(self) -> list[Json]:
        groups = self._get("/api/v1/rules")["groups"]
        return [r for g in groups for r in g["rules"]]


def _until(check: Callable[[], bool], timeout: float, what: str, logs: Callable[[], str]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (PromError, OSError):
            pass
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}\n{logs()}")


# --- the running system ------------------------------------------------------------------
@dataclass
class Live:
    prom: Prometheus
    procs: list[Proc] = field(default_factory=list)
    started: float = field(default_factory=time.time)  # when Prometheus began scraping

    def logs(self) -> str:
        return "\n".join(p.tail() for p in self.procs)


def _send_garbage(udp: str) -> None:
    host, port = udp.rsplit(":", 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for payload in GARBAGE.values():
            for _ in range(GARBAGE_EACH):
                s.sendto(payload, (host, int(port)))


def _bots(name: str, gateway: str, count: int, walk_s: float, tmp: Path) -> Proc:
    args = f"bots --gateway {gateway} --count {count} --duration {walk_s}".split()
    json_out = ["--json", str(tmp / f"{name}.json")]
    return _spawn(name, [sys.executable, "-m", "gameserver.cli.main", *args, *json_out], tmp)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    prometheus = require_tool("prometheus")
    tmp = tmp_path_factory.mktemp("live")
    procs: list[Proc] = []
    try:
        ports = "--http-port 0 --udp-port 0 --metrics-port 0"
        up = f"up --name {REALM} {ports} --tick-rate {TICK_RATE} --duration 300 --no-status"
        realm = _spawn(
            "realm",
            [
                sys.executable,
                "-m",
                "gameserver.cli.main",
                *up.split(),
                "--data-dir",
                str(tmp / "data"),
            ],
            tmp,
            env={
                # A full realm, so the last bots queue (and the queue panels get data).
                "REALM_MAX_PLAYERS": str(SEATS),
                # A seat frees as soon as its player logs out.
                "REALM_LOGIN_GRACE_S": "0",
                # Checkpoints every 2 s, so character saves show within the test's window.
                "REALM_CHECKPOINT_INTERVAL_S": "2",
                # A cheap password hash, so the bots log in fast.
                "REALM_ARGON2_TIME_COST": "1",
                "REALM_ARGON2_MEMORY_KIB": "1024",
            },
        )
        procs.append(realm)
        driver = str(Path(__file__).with_name("kmock_operator.py"))
        regions = ",".join(OPERATOR_REGIONS)
        operator = _spawn(
            "operator",
            [sys.executable, driver, "--realm", OPERATOR_REALM, "--regions", regions],
            tmp,
        )
        procs.append(operator)
        realm_metrics = realm.wait_for_line(r"metrics\s+http://([\d.]+:\d+)/metrics", 30)[1]
        gateway = realm.wait_for_line(r"gateway \(HTTP\)\s+(http://[\d.]+:\d+)", 5)[1]
        udp = realm.wait_for_line(r"RCM \(UDP\)\s+([\d.]+:\d+)", 5)[1]
        op_metrics = operator.wait_for_line(r"metrics http://([\d.]+:\d+)/metrics", 30)[1]

        rules = write_rules(tmp / "rules.yaml")
        config = {
            "global": {
                "scrape_interval": "1s",
                "scrape_timeout": "1s",
                "evaluation_interval": "1s",
            },
            "rule_files": [str(rules)],
            "scrape_configs": [
                {"job_name": "realm", "static_configs": [{"targets": [realm_metrics]}]},
                # The job name the chart's ServiceMonitor gives the operator.
                {"job_name": OPERATOR_JOB, "static_configs": [{"targets": [op_metrics]}]},
            ],
        }
        (tmp / "prometheus.yml").write_text(yaml.safe_dump(config))
        port = _free_port()
        procs.append(
            _spawn(
                "prometheus",
                [
                    prometheus,
                    f"--config.file={tmp / 'prometheus.yml'}",
                    f"--storage.tsdb.path={tmp / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{port}",
                    "--log.level=warn",
                ],
                tmp,
            )
        )
        live = Live(Prometheus(f"http://127.0.0.1:{port}"), procs)
        p = live.prom
        sel = f'realm="{REALM}"'

        def until(expr: str, what: str, timeout: float = 60) -> None:
            _until(lambda: bool(p.query(expr)), timeout, what, live.logs)

        def ready() -> bool:
            with urlopen(f"{p.url}/-/ready", timeout=2) as r:
                return bool(r.status == 200)

        _until(ready, 20, "Prometheus to start", live.logs)
        live.started = time.time()
        until(f'sum(up{{job=~"realm|{OPERATOR_JOB}"}}) == 2', "both targets scraped")

        # The story Prometheus watches: the realm fills up, latecomers queue, the first
        # players leave, the queue admits the latecomers.
        procs.append(_bots("bots-leaving", gateway, LEAVERS, LEAVERS_WALK_S, tmp))
        procs.append(_bots("bots-staying", gateway, SEATS - LEAVERS, 300, tmp))
        until(f"sum(realm_players{{{sel}}}) == {SEATS}", f"{SEATS} bots in the world")
        procs.append(_bots("bots-queued", gateway, QUEUED, 300, tmp))
        until(
            f"max_over_time(sum(realm_login_queue_length{{{sel}}})[1m:1s]) >= {QUEUED}",
            f"{QUEUED} bots in the login queue",
        )
        _send_garbage(udp)
        operator.wait_for_line(r"^ready$", 30)
        waits = [
            (
                f"sum(realm_login_queue_wait_seconds_count{{{sel}}}) >= {QUEUED}",
                "the queued bots admitted",
            ),
            # Bots in the world again, for 10 s: rate windows hold a steady realm.
            (
                f"min_over_time(sum(realm_players{{{sel}}})[10s:1s]) == {SEATS}",
                f"{SEATS} bots in the world for 10 s",
            ),
            (f"sum(realm_character_saves_total{{{sel}}}) > 0", "a character checkpoint"),
            # The bots start near the Elwynn/Westfall border and wander across it; one of
            # them is a mild speed hacker.
            (
                f"count(sum by (region) (increase("
                f"realm_handoff_duration_seconds_count{{{sel}}}[5m])) > 0) >= 2",
                "bots handed across the border both ways",
            ),
            (
                f"sum(realm_anticheat_detections_total{{{sel}}}) > 0",
                "the speed-hacking bot corrected",
            ),
            (
                f'sum(realm_packets_dropped_total{{{sel}, reason="oversized"}}) >= {GARBAGE_EACH}',
                "the oversized datagrams counted",
            ),
            (
                f'sum(realm_operator_scale_events_total{{realm="{OPERATOR_REALM}", '
                'direction="down"}) > 0',
                "the operator to scale a region down",
            ),
        ]
        for expr, what in waits:
            until(expr, what)
        _until(
            lambda: all(r.get("lastEvaluation", "").startswith("2") for r in p.rules()),
            20,
            "every alert rule evaluated",
            live.logs,
        )
        yield live
    finally:
        for proc in reversed(procs):
            proc.stop()


# --- filling template variables ------------------------------------------------------------
_GRAFANA_REGEX_SPECIALS = re.compile(r"([\\^$*+?.()|\[\]{}])")


def _regex_value(values: list[str]) -> str:
    """A multi-value variable as Grafana writes it into a Prometheus query: regex-escaped
    (backslashes doubled for the PromQL string), alternatives in parentheses."""
    escaped = [_GRAFANA_REGEX_SPECIALS.sub(r"\\\\\1", v) for v in values]
    return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"


def _fill(text: str, chosen: dict[str, str]) -> str:
    def sub(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2) or m.group(3)
        if name in chosen:
            return chosen[name]
        raise AssertionError(f"no value for ${name} in {text}")

    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]", sub, text)


# The value the strict pass picks, where a variable lists more than the realm under test
# ("" = any dashboard); otherwise the first value listed. The Operator dashboard is about
# the realm the operator manages (the embedded realm's local supervisor may list its own).
PREFERRED = {("", "realm"): REALM, ("openrealm-operator", "realm"): OPERATOR_REALM}


def _resolve(prom: Prometheus, dashboard: Json, everything: bool) -> dict[str, str]:
    """Variables as Grafana would fill them: each label_values query run against
    Prometheus (it must list values), then one real value each, or "All"."""
    chosen: dict[str, str] = dict(BUILTINS)
    for var in variables(dashboard):
        if var["type"] != "query":
            continue
        m = LABEL_VALUES.match(_fill(variable_query(var), chosen))
        assert m, f"{dashboard['uid']}: variable {var['name']} is not label_values()"
        values = prom.label_values(m["label"], m["match"])
        name = var["name"]
        assert values, f"{dashboard['uid']}: variable ${name} lists no values ({m[0]})"
        want = PREFERRED.get((dashboard["uid"], name)) or PREFERRED.get(("", name))
        if want is not None:
            assert want in values, f"{dashboard['uid']}: ${name} lists {values}, not {want}"
        one = want or values[0]
        chosen[name] = var["allValue"] if everything else _regex_value([one])
    return chosen


# --- the checks ----------------------------------------------------------------------------
def _finite(series: list[Json]) -> bool:
    return any(math.isfinite(float(v)) for s in series for _, v in s["values"])


def _legend_problems(legend: str, series: list[Json]) -> list[str]:
    wanted = set(re.findall(r"\{\{\s*(\w+)\s*\}\}", legend))
    return [
        f"legend {{{{{label}}}}} is not a label of the result {s['metric']}"
        for s in series[:1]
        for label in sorted(wanted - set(s["metric"]))
    ]


def _check_dashboard(live: Live, dashboard: Json, everything: bool) -> list[str]:
    """Every panel's queries as Grafana runs them: a range query over the time Prometheus
    has watched the realm (the dashboard's time range), at a 1 s step."""
    prom = live.prom
    end = time.time()
    span = int(end - live.started)
    chosen = {**BUILTINS, "__range": f"{span}s", "__range_s": str(span)}
    chosen |= _resolve(prom, dashboard, everything)
    problems: list[str] = []
    for panel in data_panels(dashboard):
        pending = PENDING_FEATURE_PANELS.get((dashboard["uid"], panel["title"]))
        for target in panel["targets"]:
            where = f"{dashboard['uid']} / {panel['title']!r} {target['refId']}"
            expr = _fill(target["expr"], chosen)
            try:
                series = prom.query_range(expr, live.started, end, STEP)
            except PromError as e:
                problems.append(f"{where}: Prometheus refused the query ({e}): {expr}")
                continue
            has_data = bool(series) and _finite(series)
            if pending is not None:
                if has_data:
                    warnings.warn(
                        f"{where} returns data now: remove it from PENDING_FEATURE_PANELS "
                        f"({pending})",
                        PendingPanelHasData,
                        stacklevel=1,
                    )
                continue
            if not series:
                problems.append(f"{where}: no data for {expr}")
            elif not has_data:
                problems.append(f"{where}: only NaN/Inf for {expr}")
            else:
                problems += [
                    f"{where}: {e}"
                    for e in _legend_problems(target.get("legendFormat", ""), series)
                ]
    return problems


PATHS = dashboard_files()


def test_the_pending_list_names_real_panels() -> None:
    titles = {
        (load_dashboard(p)["uid"], panel["title"])
        for p in PATHS
        for panel in data_panels(load_dashboard(p))
    }
    stale = set(PENDING_FEATURE_PANELS) - titles
    assert not stale, f"PENDING_FEATURE_PANELS names panels that do not exist: {stale}"


@pytest.mark.timeout(180)
@pytest.mark.parametrize("everything", [False, True], ids=["one-value-each", "all-values"])
@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.stem)
def test_every_panel_shows_data(live: Live, path: Path, everything: bool) -> None:
    problems = _check_dashboard(live, load_dashboard(path), everything)
    assert not problems, "\n".join(problems) + "\n" + live.logs()


@pytest.mark.timeout(180)
def test_the_metrics_tell_what_the_realm_does(live: Live) -> None:
    """The numbers behind the panels are right, not just present."""
    p = live.prom
    sel = f'realm="{REALM}"'
    everyone = SEATS + QUEUED
    assert p.value(f"sum(realm_players{{{sel}}})") == SEATS
    assert p.value(f"sum(realm_online_players{{{sel}}})") == SEATS
    assert p.value(f"sum(realm_capacity_ready{{{sel}}})") == SEATS
    assert p.value(f"sum(realm_connections{{{sel}}})") == SEATS
    assert p.value(f'sum(realm_logins_total{{{sel}, result="ok"}})') == everyone
    assert p.value(f'sum(realm_signups_total{{{sel}, result="ok"}})') == everyone
    # The latecomers queued, then were admitted from the queue, which is empty again.
    assert p.value(f"max_over_time(realm_login_queue_length{{{sel}}}[5m])") == QUEUED
    assert p.value(f"sum(realm_login_queue_length{{{sel}}})") == 0
    assert p.value(f'sum(realm_login_admissions_total{{{sel}, path="queue"}})') == QUEUED
    assert p.value(f"sum(realm_login_queue_wait_seconds_count{{{sel}}})") == QUEUED
    assert p.value(f"min(realm_tick_target_hz{{{sel}}})") == TICK_RATE
    rate = p.value(f"min(avg_over_time(realm_tick_rate_hz{{{sel}}}[10s]))")
    assert rate is not None and rate > TICK_RATE * 0.5, f"tick rate {rate}"
    for reason in GARBAGE:
        dropped = p.value(f'sum(realm_packets_dropped_total{{{sel}, reason="{reason}"}})')
        assert dropped is not None and dropped >= GARBAGE_EACH, (reason, dropped)
    # Ticks counted by the histogram and by the counter agree (same server, same ticks).
    hist = p.value(f"sum(realm_tick_duration_seconds_count{{{sel}}})")
    ticks = p.value(f"sum(realm_ticks_total{{{sel}}})")
    assert hist is not None and ticks is not None and abs(hist - ticks) <= 2 * TICK_RATE
    # The operator scaled durotar up for load and back down, and says so.
    op = f'realm="{OPERATOR_REALM}", region="{OPERATOR_REGIONS[0]}"'
    assert p.value(f'sum(realm_operator_scale_events_total{{{op}, direction="up"}})')
    assert p.value(f'sum(realm_operator_scale_events_total{{{op}, direction="down"}})')
    assert p.value(f'sum(realm_operator_reconciles_total{{realm="{OPERATOR_REALM}", result="ok"}})')


@pytest.mark.timeout(180)
def test_alert_rules_evaluate_cleanly_on_real_series(live: Live) -> None:
    """promtool checks syntax; only evaluation on real series shows, e.g., a vector match
    that fails at run time ("many-to-many matching not allowed")."""
    rules = live.prom.rules()
    assert rules, "Prometheus loaded no rules"
    bad = [
        f"{r['name']}: {r['health']} {r.get('lastError', '')}" for r in rules if r["health"] != "ok"
    ]
    assert not bad, "\n".join(bad)
    # A healthy realm with every server at its target must not be paging about it.
    active = {
        r["name"] for r in rules for a in r.get("alerts", []) if a["labels"].get("realm") == REALM
    }
    assert not active & {
        "RealmRegionServerDown",
        "RealmRegionServerNotTicking",
        "RealmRegionServerGone",
    }, active
