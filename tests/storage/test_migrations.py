"""A database built by an older release is upgraded in place, its data intact."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from gameserver.storage.models import CharacterState
from gameserver.storage.sqlite import SqliteDatabase
from gameserver.storage.sqlite.database import MIGRATIONS as SQLITE_MIGRATIONS

START = CharacterState(region="elwynn", x=3, y=4, gold=12)
LATEST = len(SQLITE_MIGRATIONS)  # the newest schema version this build knows


async def test_sqlite_upgrade_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "old" / "realm.sqlite3"
    db = await SqliteDatabase.open(path, migrate=False)
    assert await db.migrate(target=1) == 1
    await db.close()
    # Rows as a version-1 realm wrote them (today's code would also fill v2 columns).
    with sqlite3.connect(path) as raw:
        raw.execute(
            "INSERT INTO accounts (username, username_key, password_hash, created_at)"
            " VALUES ('Alice', 'alice', 'h', '2025-01-01T00:00:00+00:00')"
        )
        raw.execute(
            "INSERT INTO characters (account_id, name, name_key, race, char_class, faction,"
            " state, created_at, saved_at, save_fence) VALUES (1, 'Thrall', 'thrall', 'orc',"
            f" 'shaman', 'horde', '{START.model_dump_json()}', '2025-01-01T00:00:00+00:00',"
            " '2025-01-02T00:00:00+00:00', 41)"
        )

    db = await SqliteDatabase.open(path)  # migrates to current
    try:
        assert await db.schema_version() == LATEST
        alice = await db.get_account_by_name("alice")
        assert alice is not None and alice.username == "Alice" and alice.last_login_at is None
        chars = await db.list_characters(alice.id)
        assert [(c.name, c.state, c.save_fence) for c in chars] == [("Thrall", START, 41)]
        await db.record_login(alice.id)  # the v2 column works on upgraded rows
    finally:
        await db.close()
    with sqlite3.connect(path) as raw:
        versions = [r[0] for r in raw.execute("SELECT version FROM schema_migrations")]
        indexes = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert versions == list(range(1, LATEST + 1))
    assert "characters_account_id" in indexes


async def test_sqlite_pragmas_and_parent_dir(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "realm.sqlite3"
    db = await SqliteDatabase.open(path)
    await db.close()
    assert path.exists()
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_sqlite_refuses_newer_schema(tmp_path: Path) -> None:
    path = tmp_path / "realm.sqlite3"
    db = await SqliteDatabase.open(path)
    await db.close()
    with sqlite3.connect(path) as raw:
        raw.execute("INSERT INTO schema_migrations VALUES (99, 'future')")
    with pytest.raises(Exception, match="newer than this build"):
        await SqliteDatabase.open(path)


async def test_sqlite_failed_migration_rolls_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gameserver.storage._common import Migration
    from gameserver.storage.sqlite import database

    broken = [
        *database.MIGRATIONS,
        Migration(
            LATEST + 1, "9999_broken.sql", "CREATE TABLE half (id INTEGER);\nSELECT x FROM nowhere;"
        ),
    ]
    monkeypatch.setattr(database, "MIGRATIONS", broken)
    db = SqliteDatabase(tmp_path / "realm.sqlite3")
    await db.connect()
    try:
        with pytest.raises(Exception, match="9999_broken"):
            await db.migrate()
        assert await db.schema_version() == LATEST
    finally:
        await db.close()
    with sqlite3.connect(tmp_path / "realm.sqlite3") as raw:
        tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "half" not in tables



async def test_postgres_upgrade_keeps_data(pg_factory: Callable[[], str]) -> None:
    import asyncpg

    from gameserver.storage.postgres import PostgresDatabase
    from gameserver.storage.postgres.database import MIGRATIONS as PG_MIGRATIONS

    assert [m.version for m in PG_MIGRATIONS] == [m.version for m in SQLITE_MIGRATIONS]
    url = pg_factory()
    db = await PostgresDatabase.open(url, migrate=False)
    try:
        assert await db.schema_version() == 0
        assert await db.migrate(target=1) == 1
    finally:
        await db.close()

    raw = await asyncpg.connect(url, timeout=3)
    try:
        columns = await raw.fetch(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'accounts'"
        )
        assert "last_login_at" not in {c["column_name"] for c in columns}
        await raw.execute(
            "INSERT INTO accounts (username, username_key, password_hash, created_at)"
            " VALUES ('Alice', 'alice', 'h', '2025-01-01T00:00:00+00:00')"
        )
        await raw.execute(
            "INSERT INTO characters (account_id, name, name_key, race, char_class, faction,"
            " state, created_at, saved_at, save_fence) VALUES (1, 'Thrall', 'thrall', 'orc',"
            " 'shaman', 'horde', $1::jsonb, now(), now(), 41)",
            START.model_dump_json(),
        )
    finally:
        await raw.close()

    db = await PostgresDatabase.open(url)
    try:
        assert await db.schema_version() == LATEST
        alice = await db.get_account_by_name("ALICE")
        assert alice is not None and alice.last_login_at is None
        chars = await db.list_characters(alice.id)
        assert [(c.name, c.state, c.save_fence) for c in chars] == [("Thrall", START, 41)]
        await db.record_login(alice.id)
        # A second release starting at the same time finds nothing to do.
        assert await db.migrate() == LATEST
    finally:
        await db.close()

    raw = await asyncpg.connect(url, timeout=3)
    try:
        versions = [r["version"] for r in await raw.fetch("SELECT version FROM schema_migrations")]
        index = await raw.fetchval("SELECT to_regclass('characters_account_id') IS NOT NULL")
    finally:
        await raw.close()
    assert versions == list(range(1, LATEST + 1)) and index


async def test_postgres_concurrent_migrations(pg_factory: Callable[[], str]) -> None:
    """Several pods starting together: the advisory lock lets one migrate, the rest wait."""
    import asyncio

    from gameserver.storage.postgres import PostgresDatabase

    url = pg_factory()
    dbs = [PostgresDatabase(url) for _ in range(4)]
    for db in dbs:
        await db.connect()
    try:
        assert await asyncio.gather(*(db.migrate() for db in dbs)) == [LATEST] * 4
    finally:
        for db in dbs:
            await db.close()
