"""Fixtures that run one storage suite against both backend pairs.

`stores` is parametrized: `embedded` (SQLite file + MemoryHotState on a fake clock) and
`distributed` (PostgreSQL + Redis, the real servers on this machine). The PostgreSQL side
gets a throwaway database per test session, emptied between tests; the Redis side gets a
random key prefix per test, deleted afterwards.

A missing server skips the distributed tests with the reason, except under CI=true,
where it fails the run: a CI that silently skips half the suite proves nothing.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import os
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import pytest

from gameserver.storage.memory import MemoryHotState
from gameserver.storage.sqlite import SqliteDatabase

from .support import FakeClock, RealClock, Stores

CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
POSTGRES_ADMIN_URL = os.environ.get(
    "OPENREALM_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
T = TypeVar("T")
REDIS_URL = os.environ.get("OPENREALM_TEST_REDIS", "redis://127.0.0.1:6379/0")


def server_missing(reason: str) -> NoReturn:
    if CI:
        pytest.fail(f"{reason} (CI=true: a missing server fails the run)", pytrace=False)
    pytest.skip(reason)


def run_async(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion on a private loop in a worker thread.

    Session fixtures do their setup this way: they may be first requested from inside a
    running test loop (through `getfixturevalue`), where `asyncio.run` is not allowed, and
    they must not be tied to any one test's loop."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()


def _with_admin(url: str, db: str) -> str:
    base = url.rsplit("/", 1)[0]
    return f"{base}/{db}"


async def _create_pg_database() -> str:
    import asyncpg

    name = f"openrealm_test_{uuid.uuid4().hex[:12]}"
    try:
        conn = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        raise ConnectionError(f"PostgreSQL at {POSTGRES_ADMIN_URL} unreachable: {exc!r}") from exc
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return name


async def _drop_pg_database(name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=3)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def pg_factory() -> Iterator[Callable[[], str]]:
    """Makes throwaway databases (created lazily, all dropped at the end of the session).

    Plain sync fixture driving its own event loops, so it can be session-scoped without
    tying the tests' function-scoped loops to it."""
    created: list[str] = []

    def make() -> str:
        try:
            name = run_async(_create_pg_database)
        except ConnectionError as exc:
            server_missing(str(exc))
        created.append(name)
        return _with_admin(POSTGRES_ADMIN_URL, name)

    yield make
    for name in created:
        run_async(functools.partial(_drop_pg_database, name))


@pytest.fixture(scope="session")
def pg_url(pg_factory: Callable[[], str]) -> str:
    """One migrated database shared by the session's tests (emptied before each)."""
    url = pg_factory()

    async def migrate() -> None:
        from gameserver.storage.postgres import PostgresDatabase

        db = await PostgresDatabase.open(url)
        await db.close()

    run_async(migrate)
    return url


async def redis_check() -> None:
    import redis.asyncio as aioredis

    client: Any = aioredis.Redis.from_url(REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    try:
        await client.ping()
    except (OSError, aioredis.RedisError) as exc:
        server_missing(f"Redis at {REDIS_URL} unreachable: {exc!r}")
    finally:
        await client.aclose()


async def redis_cleanup(prefix: str) -> None:
    import redis.asyncio as aioredis

    client: Any = aioredis.Redis.from_url(REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    try:
        keys = [k async for k in client.scan_iter(match=f"{prefix}*", count=500)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


async def _embedded(tmp_path: Path) -> AsyncIterator[Stores]:
    clock = FakeClock()
    db = await SqliteDatabase.open(tmp_path / "realm.sqlite3")
    hot = MemoryHotState(clock)
    try:
        yield Stores("embedded", db, hot, clock)
    finally:
        await hot.close()
        await db.close()


async def _distributed(pg: str) -> AsyncIterator[Stores]:
    import asyncpg

    from gameserver.storage.postgres import PostgresDatabase
    from gameserver.storage.redis import RedisHotState

    await redis_check()
    prefix = f"test:{uuid.uuid4().hex[:12]}:"

    conn = await asyncpg.connect(pg, timeout=3)
    try:
        await conn.execute("TRUNCATE characters, accounts RESTART IDENTITY CASCADE")
    finally:
        await conn.close()
    db = await PostgresDatabase.open(pg)
    hot = await RedisHotState.open(REDIS_URL, prefix=prefix)
    try:
        yield Stores("distributed", db, hot, RealClock())
    finally:
        await hot.close()
        await db.close()
        await redis_cleanup(prefix)


@pytest.fixture(params=["embedded", "distributed"])
async def stores(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Stores]:
    if request.param == "embedded":
        async for s in _embedded(tmp_path):
            yield s
    else:
        pg = request.getfixturevalue("pg_url")
        async for s in _distributed(pg):
            yield s
