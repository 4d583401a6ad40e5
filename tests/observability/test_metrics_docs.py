"""docs/metrics.md lists every metric the realm exports, with its real type and labels.

The page is what an operator reads to write a query or an alert of their own; a metric
missing from it, or documented with labels it does not have, sends them to read code. The
tables are parsed as written: `| \\`name\\` | type | labels | meaning | emitted by |`.
"""

from __future__ import annotations

import re

from .contract import METRICS_DOC, registered_metrics

_ROW = re.compile(r"^\|\s*`(realm_\w+)`\s*\|\s*(\w+)\s*\|\s*([^|]*)\|\s*([^|]+)\|\s*([^|]+)\|")


def _documented() -> dict[str, tuple[str, tuple[str, ...], str, str]]:
    rows: dict[str, tuple[str, tuple[str, ...], str, str]] = {}
    for line in METRICS_DOC.read_text().splitlines():
        m = _ROW.match(line)
        if m:
            name, kind, labels, meaning, component = m.groups()
            assert name not in rows, f"{name} is documented twice"
            parsed = tuple(label.strip() for label in labels.split(",") if label.strip())
            rows[name] = (kind, parsed, meaning.strip(), component.strip())
    return rows


def test_every_metric_is_documented_with_its_type_and_labels() -> None:
    docs = _documented()
    problems = []
    for name, info in sorted(registered_metrics().items()):
        if name not in docs:
            problems.append(
                f"{name} is missing from docs/metrics.md: add a row "
                f"| `{name}` | {info.type} | {', '.join(info.labels)} | meaning | component |"
            )
            continue
        kind, labels, meaning, component = docs[name]
        if kind != info.type:
            problems.append(f"{name}: documented as {kind}, is a {info.type}")
        if labels != info.labels:
            problems.append(f"{name}: documented labels {labels}, real labels {info.labels}")
        if len(meaning) < 10 or len(component) < 3:
            problems.append(f"{name}: say what it means and which component emits it")
    assert not problems, "\n".join(problems)


def test_the_docs_list_no_metric_that_does_not_exist() -> None:
    gone = set(_documented()) - set(registered_metrics())
    assert not gone, f"docs/metrics.md documents metrics that no longer exist: {sorted(gone)}"
