"""Observability: the dashboards, alert rules and metrics docs checked against the metrics
the realm really exports (statically, with promtool, and through a real Prometheus)."""
