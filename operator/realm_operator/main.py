"""Run the operator in a cluster: `realm operator` (the chart's args; `python -m
realm_operator` is the same).

Configuration comes from `REALM_OPERATOR_*` environment variables (see `OperatorSettings`).
The operator runs standalone (one replica, `Recreate` rollout): kopf peering would need
another CRD and buys nothing for a single active reconciler.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

import kopf
from prometheus_client import start_http_server
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from gameserver import metrics
from realm_operator.handlers import OperatorContext, register
from realm_operator.kube import KubeApi
from realm_operator.signals import RedisSignals


class OperatorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REALM_OPERATOR_", extra="ignore")

    namespaces: str = Field("", description="Comma-separated namespaces; empty: cluster-wide.")
    interval_seconds: float = Field(10.0, gt=0, description="Region and Realm timer period.")
    metrics_port: int = Field(9100, ge=0, le=65535, description="0 disables /metrics.")
    health_port: int = Field(8080, ge=1, le=65535, description="kopf liveness endpoint port.")
    redis_url: str = Field("", description="One Redis for every realm; empty: each realm's secret.")
    redis_prefix: str | None = Field(
        None, description="Hot-state key prefix ({realm}: the realm); default openrealm:{realm}:."
    )
    log_level: str = Field("INFO")


def _api_client() -> Any:
    from kubernetes import client, config

    try:
        config.load_incluster_config()  # type: ignore[no-untyped-call]
    except config.ConfigException:
        config.load_kube_config(config_file=os.environ.get("KUBECONFIG"))  # type: ignore[no-untyped-call]
    return client.ApiClient()


async def run(settings: OperatorSettings) -> None:
    api = KubeApi(_api_client())
    signals = RedisSignals(api, url=settings.redis_url or None, prefix=settings.redis_prefix)
    registry = kopf.OperatorRegistry()
    register(
        registry, OperatorContext(api=api, signals=signals, interval=settings.interval_seconds)
    )
    if settings.metrics_port:
        start_http_server(settings.metrics_port, registry=metrics.REGISTRY)
    namespaces = [n.strip() for n in settings.namespaces.split(",") if n.strip()]
    try:
        await kopf.operator(
            registry=registry,
            standalone=True,
            clusterwide=not namespaces,
            namespaces=namespaces,
            liveness_endpoint=f"http://0.0.0.0:{settings.health_port}/healthz",
        )
    finally:
        await signals.close()


def main() -> None:
    settings = OperatorSettings()
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    asyncio.run(run(settings))
