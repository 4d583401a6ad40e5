"""`realm db migrate`: bring a realm database to the current schema, in place."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from gameserver.config import RealmSettings
from gameserver.storage.factory import open_storage
from gameserver.storage.interfaces import StorageError

MIGRATE_HELP = (
    "Apply pending schema migrations to the realm database (SQLite in --data-dir, or "
    "PostgreSQL with --postgres). Data is kept; an up-to-date database is left alone."
)


def migrate(
    data_dir: Annotated[
        Path | None, typer.Option(help="Directory of the embedded SQLite database.")
    ] = None,
    postgres: Annotated[str | None, typer.Option(help="PostgreSQL URL (postgresql://...).")] = None,
    config: Annotated[
        Path | None, typer.Option(help="TOML config file.", exists=True, dir_okay=False)
    ] = None,
) -> None:
    settings = RealmSettings.load(config, data_dir=data_dir, postgres_url=postgres)

    async def run() -> int:
        db, hot = await open_storage(settings.postgres_url, None, settings.data_dir)
        try:
            return await db.schema_version()
        finally:
            await db.close()
            await hot.close()

    try:
        version = asyncio.run(run())
    except StorageError as e:
        raise click_error(str(e)) from None
    typer.echo(f"schema at version {version}")


def click_error(message: str) -> typer.Exit:
    typer.echo(f"realm: error: {message}", err=True)
    return typer.Exit(1)
