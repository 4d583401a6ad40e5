"""`realm up`: the whole realm in one process, optionally with bots playing in it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from realm_client.bot import headline
from rich.console import Console
from rich.live import Live
from rich.table import Table

from gameserver.config import RealmSettings
from gameserver.embedded.realm import EmbeddedRealm
from gameserver.storage.interfaces import StorageError

HELP = (
    "Start a realm in one process: gateway (HTTP), RCM (UDP), RWAM, OEM and the region "
    "servers, on SQLite in --data-dir and in-memory hot state (or PostgreSQL/Redis with "
    "--postgres/--redis). Ctrl-C or --duration stops it cleanly, saving every character."
)

console = Console(stderr=True)


def up(
    data_dir: Annotated[
        Path | None, typer.Option(help="Where the SQLite database lives [./realm-data].")
    ] = None,
    host: Annotated[str | None, typer.Option(help="Address to bind [127.0.0.1].")] = None,
    http_port: Annotated[
        int | None, typer.Option(help="Gateway HTTP port [8080]; 0 picks one.")
    ] = None,
    udp_port: Annotated[int | None, typer.Option(help="RCM UDP port [7777]; 0 picks one.")] = None,
    metrics_port: Annotated[
        int | None, typer.Option(help="Prometheus port [9100]; 0 picks one.")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Realm name [home].")] = None,
    tick_rate: Annotated[
        int | None, typer.Option(help="Region server ticks per second [20].")
    ] = None,
    snapshot_every: Annotated[
        int | None,
        typer.Option(help="A snapshot per client every N ticks, N times the per-tick budget [2]."),
    ] = None,
    postgres: Annotated[str | None, typer.Option(help="PostgreSQL URL instead of SQLite.")] = None,
    redis: Annotated[
        str | None, typer.Option(help="Redis URL instead of in-memory hot state.")
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help="TOML config file.", exists=True, dir_okay=False)
    ] = None,
    bots: Annotated[
        int, typer.Option(min=0, max=5000, help="Headless bots to run against the realm.")
    ] = 0,
    duration: Annotated[
        float | None, typer.Option(min=1, help="Stop after this many seconds.")
    ] = None,
    summary_json: Annotated[
        Path | None, typer.Option(help="Write the exit summary as JSON here.")
    ] = None,
    status: Annotated[bool, typer.Option(help="Show the live status table.")] = True,
    log_level: Annotated[str, typer.Option(help="Python log level.")] = "WARNING",
    distributed: Annotated[
        bool,
        typer.Option(
            help="Run every role as its own process over gRPC (needs --postgres and --redis)."
        ),
    ] = False,
) -> None:
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        settings = RealmSettings.load(
            config,
            data_dir=data_dir,
            host=host,
            http_port=http_port,
            udp_port=udp_port,
            metrics_port=metrics_port,
            name=name,
            tick_rate=tick_rate,
            snapshot_every=snapshot_every,
            postgres_url=postgres,
            redis_url=redis,
        )
    except ValidationError as e:
        print(f"realm up: error: {RealmSettings.describe_error(e)}", file=sys.stderr)
        raise typer.Exit(2) from None
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - Windows
        pass
    if distributed:
        from gameserver.cli.up_distributed import up_distributed

        up_distributed(settings, bots, duration, summary_json, log_level)
        return
    try:
        summary = asyncio.run(_run(settings, bots, duration, status))
    except StorageError as e:
        console.print(f"realm up: error: {e}")
        raise typer.Exit(1) from None
    except OSError as e:
        console.print(f"realm up: error: cannot open a port: {e}")
        raise typer.Exit(1) from None
    _print_summary(summary)
    if summary_json is not None:
        summary_json.write_text(json.dumps(summary, indent=2))
    if bots and (summary["bots_in_world"] != bots or summary["bot_errors"]):
        raise typer.Exit(1)


def _status_table(realm: EmbeddedRealm, started: float) -> Table:
    t = Table(
        title=f"realm {realm.settings.name} - up {time.monotonic() - started:5.0f} s", expand=False
    )
    for col in ("server", "region", "state", "players", "tick Hz", "tick p99 ms"):
        t.add_column(col)
    for r in realm.regions:
        t.add_row(
            r.server_id,
            r.region.name,
            r.state.value,
            str(r.players),
            f"{r.achieved_hz:.1f}",
            f"{r.tick_percentile_ms(99):.2f}",
        )
    rcm = realm.rcm
    if rcm is not None:
        drops = ", ".join(f"{k}={v}" for k, v in sorted(rcm.dropped.items())) or "none"
        t.caption = f"connections {len(rcm.sessions)} | dropped packets: {drops}"
    return t


async def _run(
    settings: RealmSettings, n_bots: int, duration: float | None, show_status: bool
) -> dict[str, Any]:
    realm = EmbeddedRealm(settings)
    addrs = await realm.start()
    started = time.monotonic()
    console.print(f"[bold]realm {settings.name}[/] is up")
    console.print(f"  gateway (HTTP)  {addrs.http}")
    console.print(f"  RCM (UDP)       {addrs.udp}")
    console.print(f"  metrics         {addrs.metrics}")
    console.print(
        f"  database        {settings.postgres_url or settings.data_dir / 'realm.sqlite3'}"
    )

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)

    bot_proc: asyncio.subprocess.Process | None = None
    bot_json = Path(tempfile.mkstemp(prefix="realm-bots-", suffix=".json")[1])
    if n_bots:
        walk = max(3.0, duration - 10.0) if duration else 10**6
        bot_proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "gameserver.cli.main",
            "bots",
            "--gateway",
            addrs.http,
            "--count",
            str(n_bots),
            "--duration",
            str(walk),
            "--json",
            str(bot_json),
        )

    async def wait_end() -> None:
        waits: list[asyncio.Task[Any]] = [asyncio.create_task(stop.wait())]
        if duration is not None:
            waits.append(asyncio.create_task(asyncio.sleep(duration)))
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for w in waits:
            w.cancel()

    if show_status and console.is_terminal:
        with Live(_status_table(realm, started), console=console, refresh_per_second=2) as live:
            ender = asyncio.create_task(wait_end())
            while not ender.done():
                live.update(_status_table(realm, started))
                await asyncio.sleep(0.5)
    else:
        await wait_end()

    # Let the bots log out on their own first (their --duration ends before ours).
    if bot_proc is not None:
        if bot_proc.returncode is None and not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(bot_proc.wait(), timeout=15)
        if bot_proc.returncode is None:
            bot_proc.terminate()
            await bot_proc.wait()

    ticks = sum(r.ticks for r in realm.regions)
    p99 = max((r.tick_percentile_ms(99) for r in realm.regions), default=0.0)
    dropped = dict(realm.rcm.dropped) if realm.rcm else {}
    await realm.stop()
    saved_ids = set().union(*(r.saved_ids for r in realm.regions)) if realm.regions else set()
    bots_summary: dict[str, Any] = {
        "bots": n_bots,
        "bots_in_world": 0,
        "bots_saw_others": 0,
        "bot_errors": [],
    }
    if n_bots:
        try:
            data = json.loads(await asyncio.to_thread(bot_json.read_text))
            bots_summary.update(headline(data))
        except (OSError, ValueError, KeyError):
            bots_summary["bot_errors"] = ["the bot process left no report"]
    await asyncio.to_thread(bot_json.unlink, missing_ok=True)
    return {
        **bots_summary,
        "ticks": ticks,
        "tick_p99_ms": round(p99, 3),
        "characters_saved": len(saved_ids),
        "uptime_s": round(time.monotonic() - started, 1),
        "packets_dropped": dropped,
        "addresses": {"http": addrs.http, "udp": addrs.udp, "metrics": addrs.metrics},
    }


def _print_summary(summary: dict[str, Any]) -> None:
    t = Table(title="realm summary")
    t.add_column("")
    t.add_column("")
    bot_counts = [k for k, v in summary.items() if k.startswith("bots") and isinstance(v, int)]
    for key in (*bot_counts, "ticks", "tick_p99_ms", "characters_saved", "uptime_s"):
        t.add_row(key, str(summary.get(key)))
    if summary.get("bot_errors"):
        t.add_row("bot errors", "; ".join(summary["bot_errors"][:5]))
    console.print(t)
