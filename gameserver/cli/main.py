"""`realm`: the one command line of the project. Each subcommand is a thin shell around a
library entry point, so everything it does is also usable (and tested) from Python."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

try:  # typer >= 0.20 carries its own copy of click; older ones use the package
    from typer._click import exceptions as click
except ImportError:  # pragma: no cover
    from click import exceptions as click  # type: ignore[no-redef]

from gameserver.cli import bots as bots_cmd
from gameserver.cli import db as db_cmd
from gameserver.cli import serve as serve_cmd
from gameserver.cli import up as up_cmd

app = typer.Typer(
    name="realm",
    help="openrealm: an MMO realm backend. `realm up` runs a whole realm in one process.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
app.command("up", help=up_cmd.HELP)(up_cmd.up)
app.command("bots", help=bots_cmd.HELP)(bots_cmd.bots)
app.command("serve", help=serve_cmd.HELP)(serve_cmd.serve)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
db_app.command("migrate", help=db_cmd.MIGRATE_HELP)(db_cmd.migrate)
app.add_typer(db_app, name="db")

dev_app = typer.Typer(help="Tools for developers of openrealm itself.", no_args_is_help=True)


@dev_app.command("gen-wire")
def gen_wire(
    out: Annotated[
        Path, typer.Option(help="Repository root to write gameserver/wire/fb/ under.")
    ] = Path("."),
) -> None:
    """Regenerate the FlatBuffers Python code from gameserver/wire/schema/realm.fbs."""
    from gameserver.wire.codegen import generate

    generate(out)
    typer.echo(f"generated into {out / 'gameserver/wire/fb'}")


@dev_app.command("gen-rpc")
def gen_rpc(
    out: Annotated[
        Path, typer.Option(help="Repository root to write gameserver/rpc/realm_pb2*.py under.")
    ] = Path("."),
) -> None:
    """Regenerate the gRPC Python code from gameserver/rpc/realm.proto."""
    from gameserver.rpc.codegen import generate

    generate(out)
    typer.echo(f"generated into {out / 'gameserver/rpc'}")


app.add_typer(dev_app, name="dev")


@app.command("operator")
def operator_cmd() -> None:
    """Run the Kubernetes operator for Realm and Region resources (configured by
    environment variables; see docs/operator.md). The Helm chart runs this."""
    from realm_operator.main import main as operator_main

    operator_main()


@app.command("bench")
def bench_cmd(
    players: Annotated[list[int] | None, typer.Option(help="Player counts to sweep.")] = None,
    npcs: Annotated[int, typer.Option(help="NPC spawn points.")] = 2000,
    runs: Annotated[int, typer.Option(help="Runs per count (medians are shown).")] = 3,
    seconds: Annotated[float, typer.Option(help="Measured seconds per run.")] = 15.0,
    warmup: Annotated[float, typer.Option(help="Seconds before measuring.")] = 5.0,
    every: Annotated[
        int, typer.Option(help="Snapshot interval per client in ticks (0: the server default).")
    ] = 0,
    inprocess: Annotated[
        bool, typer.Option(help="Time the tick alone in this process (no sockets, low noise).")
    ] = False,
) -> None:
    """Benchmark one region server against bots in other processes (bench/region_bench.py,
    from a source checkout; method and results in docs/performance.md)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from bench.region_bench import main as bench_main
    from bench.region_bench import main_inprocess

    counts = players or [100, 250, 500, 1000]
    if inprocess:
        main_inprocess(counts, npcs, every)
    else:
        bench_main(counts, npcs, runs, seconds, warmup, every)


def main() -> None:
    """Run the CLI; usage errors are one line (`realm: error: ...`), not a traceback."""
    try:
        rc = app(standalone_mode=False)
    except click.NoArgsIsHelpError as e:
        print(e.ctx.get_help() if e.ctx else "see `realm --help`")
        rc = 0
    except click.UsageError as e:
        cmd = e.ctx.command_path if e.ctx else "realm"
        print(f"{cmd}: error: {e.format_message()} (see `{cmd} --help`)", file=sys.stderr)
        rc = 2
    except click.ClickException as e:
        print(f"realm: error: {e.format_message()}", file=sys.stderr)
        rc = e.exit_code
    except KeyboardInterrupt:
        rc = 130
    sys.exit(rc if isinstance(rc, int) else 0)


if __name__ == "__main__":
    main()
