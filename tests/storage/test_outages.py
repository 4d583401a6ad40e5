"""No storage call hangs: during an outage it fails with `Unavailable` at its deadline,
and once the server is back the same store works again without being reopened."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from urllib.parse import urlsplit

import pytest

from gameserver.storage.interfaces import Unavailable
from gameserver.storage.models import CharacterState

from .conftest import REDIS_URL, redis_check, redis_cleanup
from .proxy import TcpProxy

DEADLINE_S = 0.6


@pytest.fixture
async def pg_proxy(pg_url: str) -> AsyncIterator[tuple[TcpProxy, str]]:
    parts = urlsplit(pg_url)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    port = await proxy.start()
    user = f"{parts.username}@" if parts.username else ""
    try:
        yield proxy, f"postgresql://{user}127.0.0.1:{port}{parts.path}"
    finally:
        await proxy.stop()


async def _fails_in_time(call: Callable[[], object]) -> float:
    start = time.monotonic()
    with pytest.raises(Unavailable):
        await call()  # type: ignore[misc]
    return time.monotonic() - start


async def test_postgres_down_then_back(pg_proxy: tuple[TcpProxy, str]) -> None:
    from gameserver.storage.postgres import PostgresDatabase

    proxy, url = pg_proxy
    db = await PostgresDatabase.open(url, op_timeout_s=DEADLINE_S, connect_timeout_s=0.3)
    try:
        acc = await db.create_account("outage-alice", "h")
        await proxy.stop()
        took = await _fails_in_time(lambda: db.get_account(acc.id))
        assert took < DEADLINE_S + 0.5
        # A write that may have been sent is not retried blindly; it still fails in time.
        await _fails_in_time(lambda: db.create_account("outage-bob", "h"))
        await proxy.start()
        assert await db.get_account(acc.id) == acc  # the pool reconnected by itself
    finally:
        await db.close()


async def test_postgres_blackhole_does_not_hang(pg_proxy: tuple[TcpProxy, str]) -> None:
    from gameserver.storage.postgres import PostgresDatabase

    proxy, url = pg_proxy
    db = await PostgresDatabase.open(url, op_timeout_s=DEADLINE_S, connect_timeout_s=0.3)
    try:
        acc = await db.create_account("blackhole-alice", "h")
        ch = await db.create_character(
            acc.id, "Blackhole", "orc", "shaman", "horde", CharacterState(region="r", x=0, y=0)
        )
        proxy.blackhole = True
        took = await _fails_in_time(
            lambda: db.save_character(ch.id, CharacterState(region="r", x=1, y=1), 1)
        )
        assert took < DEADLINE_S + 0.5
        proxy.blackhole = False
        proxy.cut()  # the partition heals; stuck connections are reset
        await asyncio.sleep(0.05)
        assert await db.get_account(acc.id) == acc
    finally:
        await db.close()


@pytest.fixture
async def redis_proxy() -> AsyncIterator[tuple[TcpProxy, str, str]]:
    await redis_check()
    parts = urlsplit(REDIS_URL)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 6379)
    port = await proxy.start()
    prefix = f"test:outage:{time.monotonic_ns()}:"
    try:
        yield proxy, f"redis://127.0.0.1:{port}{parts.path}", prefix
    finally:
        await proxy.stop()
        await redis_cleanup(prefix)


async def test_redis_down_then_back(redis_proxy: tuple[TcpProxy, str, str]) -> None:
    from gameserver.storage.redis import RedisHotState

    proxy, url, prefix = redis_proxy
    hot = await RedisHotState.open(
        url, prefix=prefix, op_timeout_s=DEADLINE_S, connect_timeout_s=0.3
    )
    try:
        lease = await hot.acquire("character:1", "server-a", 60_000)
        assert lease is not None
        await proxy.stop()
        took = await _fails_in_time(lambda: hot.get("character:1"))
        assert took < DEADLINE_S + 0.5
        await proxy.start()
        assert await hot.get("character:1") == lease
    finally:
        await hot.close()


async def test_redis_blackhole_does_not_hang(redis_proxy: tuple[TcpProxy, str, str]) -> None:
    from gameserver.storage.redis import RedisHotState

    proxy, url, prefix = redis_proxy
    hot = await RedisHotState.open(
        url, prefix=prefix, op_timeout_s=DEADLINE_S, connect_timeout_s=0.3
    )
    try:
        await hot.request_drain("home", "r-1")
        proxy.blackhole = True
        took = await _fails_in_time(lambda: hot.drain_requested("home", "r-1"))
        assert took < DEADLINE_S + 0.5
        proxy.blackhole = False
        proxy.cut()
        assert await hot.drain_requested("home", "r-1") is True
    finally:
        await hot.close()
