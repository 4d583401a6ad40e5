"""Open the realm's two stores from its settings: embedded unless URLs say otherwise.

This is the only place that names a backend; services receive the `RealmDatabase` and
`HotState` it returns and never learn which ones they got. The PostgreSQL and Redis
backends are imported only when asked for, so the embedded realm never loads their
client libraries.
"""

from __future__ import annotations

from pathlib import Path

from gameserver.storage.interfaces import HotState, RealmDatabase
from gameserver.storage.memory import MemoryHotState
from gameserver.storage.sqlite import SqliteDatabase

SQLITE_FILENAME = "realm.sqlite3"


async def open_database(
    postgres_url: str | None, data_dir: Path, *, realm: str = "home"
) -> RealmDatabase:
    """Open and migrate the durable store; `Unavailable` (naming the host and the cause)
    when PostgreSQL cannot be reached."""
    if postgres_url:
        from gameserver.storage.postgres import PostgresDatabase

        return await PostgresDatabase.open(postgres_url, realm=realm)
    return await SqliteDatabase.open(Path(data_dir) / SQLITE_FILENAME, realm=realm)


async def open_hot_state(redis_url: str | None, *, realm: str = "home") -> HotState:
    """Open the hot store; `Unavailable` (naming the host and the cause) when Redis cannot
    be reached."""
    if redis_url:
        from gameserver.storage.redis import RedisHotState

        return await RedisHotState.open(redis_url, realm=realm, prefix=f"openrealm:{realm}:")
    return MemoryHotState(realm=realm)


async def open_storage(
    postgres_url: str | None,
    redis_url: str | None,
    data_dir: Path,
    *,
    realm: str = "home",
) -> tuple[RealmDatabase, HotState]:
    """SQLite at `data_dir/realm.sqlite3` plus in-memory hot state by default; PostgreSQL
    and/or Redis when their URLs are given. The database is migrated before it is
    returned. The caller closes both."""
    db = await open_database(postgres_url, data_dir, realm=realm)
    try:
        hot = await open_hot_state(redis_url, realm=realm)
    except BaseException:
        await db.close()
        raise
    return db, hot
