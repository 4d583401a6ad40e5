"""The process shell every role shares: settings checks, health and metrics, signals.

- **Configuration errors are one line naming the variable** (`REALM_OEM_ADDRESS is
  required for the rcm role`), raised before anything binds a port.
- **/healthz and /metrics** on `metrics_port` (the operator's probes and Prometheus):
  /healthz answers 200 once the role is serving and 503 while it starts or stops, so a
  pod is Ready only when it can take work.
- **SIGTERM and SIGINT** stop the role in its own order (the region server saves every
  character first); a second signal does not interrupt the saves.
- **The world map** is the built-in one, or `REALM_MAP_FILE` (a `WorldMap` as JSON);
  every role that reads the map (rwam, oem, region) must be given the same file.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import socket
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import ValidationError

from gameserver import metrics
from gameserver.config import RealmSettings
from gameserver.world.map import DEFAULT_MAP, WorldMap

log = logging.getLogger(__name__)


class RoleConfigError(ValueError):
    """A setting the role needs is missing or unusable; the message names the variable."""


def require(settings: RealmSettings, role: str, *fields: str) -> None:
    missing = [f"REALM_{f.upper()}" for f in fields if not getattr(settings, f)]
    if missing:
        raise RoleConfigError(f"{', '.join(missing)} required for the {role} role")


def advertise_host(settings: RealmSettings) -> str:
    """How peers reach this process: the pod IP, else the public host, else the bind
    address (or the host name when bound to every interface)."""
    for candidate in (settings.pod_ip, settings.public_host, settings.host):
        if candidate and candidate not in ("0.0.0.0", "::"):
            return candidate
    return socket.gethostname()


def world_map(settings: RealmSettings) -> WorldMap:
    """The realm's map: `REALM_MAP_FILE` (JSON) if set, else the built-in one."""
    path = settings.map_file
    if path is None:
        return DEFAULT_MAP
    try:
        return WorldMap.model_validate_json(path.read_bytes())
    except OSError as e:
        raise RoleConfigError(f"REALM_MAP_FILE={str(path)!r} cannot be read: {e}") from e
    except ValidationError as e:
        raise RoleConfigError(
            f"REALM_MAP_FILE={str(path)!r} is not a world map: {RealmSettings.describe_error(e)}"
        ) from e


def token_key(settings: RealmSettings, role: str) -> bytes:
    """The realm's token key: gateways and RCMs must share it, so neither invents one."""
    require(settings, role, "token_key")
    return bytes.fromhex(settings.token_key)


@dataclass
class Running:
    """A started role: what it serves, whether it is healthy, and how it stops."""

    role: str
    ports: dict[str, int]
    stop: Callable[[], Awaitable[None]]
    healthy: Callable[[], bool] = lambda: True
    info: dict[str, Any] = field(default_factory=dict)
    # Set when the role is done on its own (a drained region server): the process exits.
    finished: asyncio.Event | None = None


async def serve_metrics(
    host: str, port: int, healthy: Callable[[], bool], realm: str
) -> tuple[web.AppRunner, int]:
    app = web.Application()

    async def scrape(_: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(metrics.REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    async def healthz(_: web.Request) -> web.Response:
        ok = healthy()
        return web.json_response({"ok": ok, "realm": realm}, status=200 if ok else 503)

    app.router.add_get("/metrics", scrape)
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner, int(runner.addresses[-1][1])


async def run_role(
    role: str,
    settings: RealmSettings,
    start: Callable[[RealmSettings], Awaitable[Running]],
    *,
    stop_after_s: float | None = None,
) -> None:
    """Start a role, serve /healthz and /metrics, and stop it cleanly on SIGTERM/SIGINT.

    Prints one JSON line when ready (`{"role": ..., "ports": {...}}`), so a parent process
    that asked for port 0 learns what was bound."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    serving = False
    # Health first: the probe answers 503 while the role starts, then 200.
    runner, metrics_port = await serve_metrics(
        settings.host, settings.metrics_port, lambda: serving and running.healthy(), settings.name
    )
    running: Running
    try:
        running = await start(settings)
    except BaseException:
        await runner.cleanup()
        raise
    serving = True
    ready = {"role": role, "ports": {**running.ports, "metrics": metrics_port}, **running.info}
    print(json.dumps(ready), flush=True)
    log.info("%s ready: %s", role, ready)
    try:
        waits = [asyncio.ensure_future(stop.wait())]
        if running.finished is not None:
            waits.append(asyncio.ensure_future(running.finished.wait()))
        await asyncio.wait(waits, timeout=stop_after_s, return_when=asyncio.FIRST_COMPLETED)
        for w in waits:
            w.cancel()
        if running.finished is not None and running.finished.is_set():
            log.info("%s finished on its own", role)
    finally:
        serving = False
        for sig in (signal.SIGINT, signal.SIGTERM):  # saves must not be interrupted
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, lambda: None)
        try:
            await running.stop()
        finally:
            await runner.cleanup()
            print(json.dumps({"role": role, "stopped": True}), flush=True)
            sys.stdout.flush()
