"""`open_storage`: embedded by default, servers when asked, a clear error when down."""

from __future__ import annotations

from pathlib import Path

import pytest

from gameserver.storage.factory import open_storage
from gameserver.storage.interfaces import Unavailable
from gameserver.storage.memory import MemoryHotState
from gameserver.storage.sqlite import SqliteDatabase
from gameserver.storage.sqlite.database import MIGRATIONS


async def test_embedded_by_default(tmp_path: Path) -> None:
    db, hot = await open_storage(None, None, tmp_path / "data")
    try:
        assert isinstance(db, SqliteDatabase) and isinstance(hot, MemoryHotState)
        assert (tmp_path / "data" / "realm.sqlite3").exists()
        assert await db.schema_version() == len(MIGRATIONS)
    finally:
        await hot.close()
        await db.close()


async def test_postgres_down_is_a_clear_error(tmp_path: Path) -> None:
    # Port 1 on loopback: nothing listens, the connection is refused at once.
    with pytest.raises(Unavailable, match=r"127\.0\.0\.1:1") as info:
        await open_storage("postgresql://realm:secret@127.0.0.1:1/realm", None, tmp_path)
    assert "secret" not in str(info.value)


async def test_redis_down_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(Unavailable, match=r"127\.0\.0\.1:1"):
        await open_storage(None, "redis://127.0.0.1:1/0", tmp_path)


async def test_distributed_when_urls_given(pg_url: str, tmp_path: Path) -> None:
    from gameserver.storage.postgres import PostgresDatabase
    from gameserver.storage.redis import RedisHotState

    from .conftest import REDIS_URL, redis_check

    await redis_check()
    db, hot = await open_storage(pg_url, REDIS_URL, tmp_path)
    try:
        assert isinstance(db, PostgresDatabase) and isinstance(hot, RedisHotState)
        assert await db.schema_version() == len(MIGRATIONS)
        assert not (tmp_path / "realm.sqlite3").exists()
    finally:
        await hot.close()
        await db.close()
