"""`realm up --distributed`: the whole realm as separate local processes over gRPC.

The same topology the Kubernetes operator deploys (one `realm serve <role>` process per
role; see `gameserver/roles/local.py`), on the PostgreSQL and Redis given with
`--postgres` and `--redis`, with a token key generated for this run and shared by the
gateway and the RCM only. Bots run as with `realm up`; Ctrl-C or `--duration` stops the
roles in order, saving every character.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

import typer

from gameserver.config import RealmSettings
from gameserver.roles.local import LaunchError, LocalDistributedRealm, run_distributed


def up_distributed(
    settings: RealmSettings,
    bots: int,
    duration: float | None,
    summary_json: Path | None,
    log_level: str,
) -> None:
    if not settings.postgres_url or not settings.redis_url:
        print("realm up: error: --distributed needs --postgres and --redis", file=sys.stderr)
        raise typer.Exit(2)
    realm = LocalDistributedRealm(
        settings.postgres_url,
        settings.redis_url,
        Path(tempfile.mkdtemp(prefix="realm-distributed-")),
        name=settings.name,
        host=settings.host,
        http_port=settings.http_port,
        udp_port=settings.udp_port,
        tick_rate=settings.tick_rate,
        players_per_server=settings.players_per_server,
        autoscale=settings.autoscale,
        max_servers_per_region=settings.max_servers_per_region,
        target_utilisation=settings.target_utilisation,
        scale_down_window_s=settings.scale_down_window_s,
        log_level=log_level.upper(),
        extra_env={
            "REALM_ARGON2_TIME_COST": str(settings.argon2_time_cost),
            "REALM_ARGON2_MEMORY_KIB": str(settings.argon2_memory_kib),
            "REALM_MAX_PLAYERS": str(settings.max_players),
            "REALM_SNAPSHOT_EVERY": str(settings.snapshot_every),
            "REALM_SNAPSHOT_BUDGET_BYTES": str(settings.snapshot_budget_bytes),
        },
    )

    async def main() -> dict[str, Any]:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        return await run_distributed(realm, bots, duration, stop)

    try:
        summary = asyncio.run(main())
    except LaunchError as e:
        print(f"realm up: error: {e}", file=sys.stderr)
        raise typer.Exit(1) from None
    print(json.dumps(summary, indent=2))
    if summary_json is not None:
        summary_json.write_text(json.dumps(summary, indent=2))
    if summary["bot_errors"] or (bots and summary["bots_in_world"] != bots):
        raise typer.Exit(1)
