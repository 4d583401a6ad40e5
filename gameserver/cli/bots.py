"""`realm bots`: headless bot clients against a running realm's gateway."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer

HELP = (
    "Run N headless bots against a realm: each signs up, logs in, creates a character, "
    "enters the world, walks around for --duration seconds and logs out. Prints (or writes "
    "with --json) a summary of what they saw."
)


def bots(
    gateway: Annotated[str, typer.Option(help="Gateway URL, e.g. http://127.0.0.1:8080.")],
    count: Annotated[
        int, typer.Option("--count", "-n", min=1, max=5000, help="How many bots.")
    ] = 10,
    duration: Annotated[
        float, typer.Option(min=0.5, help="Seconds each bot walks in the world.")
    ] = 20.0,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the summary as JSON here.")
    ] = None,
) -> None:
    from realm_client.bot import run_bots, summarise

    reports = asyncio.run(run_bots(gateway, count, duration))
    summary = summarise(reports)
    text = json.dumps(summary, indent=2)
    if json_out is not None:
        json_out.write_text(text)
    else:
        typer.echo(text)
    if summary["bot_errors"]:
        raise typer.Exit(1)
