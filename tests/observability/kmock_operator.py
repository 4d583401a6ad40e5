"""The real realm operator against kmock, with its /metrics endpoint open: the operator half
of the live dashboard test (run as a subprocess by test_dashboards_live.py).

    python kmock_operator.py --realm azeroth --regions elwynn,westfall

It reuses the operator tests' harness (tests/operator/conftest.py): kmock serves the
Kubernetes API, kopf runs the operator's real handlers, and the harness plays the cluster
and the region servers' heartbeats. Load on the first region rises past one server's target
and falls again, so the operator really scales up, drains and deletes, and every operator
metric on the dashboards comes from the operator's own code paths. The metrics endpoint
serves `gameserver.metrics.REGISTRY` of this process only, as the operator's pod would.

Prints `metrics <url>` once the endpoint is up and `ready` once the resources are applied;
runs until stdin closes or it is terminated.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import logging
import os
import signal
import sys
from pathlib import Path
from types import ModuleType

from prometheus_client import start_http_server

from gameserver import metrics
from gameserver.storage.models import ServerState

HARNESS = Path(__file__).resolve().parents[1] / "operator" / "conftest.py"


def _harness_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("operator_harness", HARNESS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _players(region_index: int, pod: str, elapsed: float) -> tuple[int, ServerState]:
    """The load story: the first region's first server starts hot (120 players against a
    50-player target, so the operator adds servers), cools down after 4 s, and the extra
    servers report empty once asked to drain, so they are deleted."""
    if region_index != 0:
        return 20, ServerState.READY
    if pod.endswith("-0"):
        return (120 if elapsed < 4 else 30), ServerState.READY
    return 0, ServerState.READY


async def run(realm: str, regions: list[str], host: str) -> None:
    h = _harness_module()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_reader(sys.stdin.fileno(), lambda: stop.set() if not sys.stdin.read(1) else None)

    # kmock stores one of kopf's generateName events and refuses the rest: known and noisy.
    logging.getLogger("kopf._core.engines.posting").setLevel(logging.ERROR)
    server, _ = start_http_server(0, addr=host, registry=metrics.REGISTRY)
    print(f"metrics http://{host}:{server.server_port}/metrics", flush=True)
    import kmock

    async with kmock.KubernetesEmulator() as mock, kmock.Server(mock) as api:
        h.declare(mock)
        harness = h.Harness(mock, str(api.url).rstrip("/"))
        harness.interval = 0.5
        await harness.start()
        await harness.apply("realms", h.realm_body(realm))
        for name in regions:
            await harness.apply("regions", h.region_body(name, realm))
        print("ready", flush=True)
        started = loop.time()
        while not stop.is_set():
            elapsed = loop.time() - started
            for i, region in enumerate(regions):
                for pod in harness.pods(region):
                    players, state = _players(i, pod, elapsed)
                    if await harness.draining(realm, pod):
                        players, state = 0, ServerState.DRAINING
                    await harness.beat(realm, region, pod, players, state)
            try:
                await asyncio.wait_for(stop.wait(), timeout=0.25)
            except TimeoutError:
                pass
        # kopf's orderly stop (and kmock's, with kopf's watches open) takes seconds and
        # proves nothing here: the process just ends, as a killed pod would.
        sys.stdout.flush()
        os._exit(0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--realm", default="azeroth")
    parser.add_argument("--regions", default="elwynn,westfall")
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()
    asyncio.run(run(args.realm, args.regions.split(","), args.host))


if __name__ == "__main__":
    main()
