"""Fixtures for the login-queue tests: the queue store on both backends.

`queue_store` is parametrized over `memory` (MemoryHotState on a fake clock: time moves
when the test says so) and `redis` (RedisHotState against the real Redis at
127.0.0.1:6379, or OPENREALM_TEST_REDIS, under a random key prefix deleted afterwards;
time really passes, so the tests that need it sleep tens of milliseconds). A missing Redis
skips with the reason, except under CI=true, where it fails the run.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, NoReturn

import pytest

from gameserver.storage.interfaces import HotState
from gameserver.storage.memory import MemoryHotState

CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
REDIS_URL = os.environ.get("OPENREALM_TEST_REDIS", "redis://127.0.0.1:6379/0")


def server_missing(reason: str) -> NoReturn:
    if CI:
        pytest.fail(f"{reason} (CI=true: a missing server fails the run)", pytrace=False)
    pytest.skip(reason)


class FakeClock:
    def __init__(self, start_ms: int = 1_000_000) -> None:
        self.now_ms = start_ms

    def __call__(self) -> int:
        return self.now_ms

    async def advance(self, ms: int) -> None:
        self.now_ms += ms


class RealClock:
    async def advance(self, ms: int) -> None:
        await asyncio.sleep(ms / 1000)


@dataclass
class QueueStore:
    name: str
    hot: HotState
    clock: FakeClock | RealClock


async def redis_cleanup(prefix: str) -> None:
    import redis.asyncio as aioredis

    client: Any = aioredis.Redis.from_url(REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    try:
        keys = [k async for k in client.scan_iter(match=f"{prefix}*", count=1000)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture(params=["memory", "redis"])
async def queue_store(request: pytest.FixtureRequest) -> AsyncIterator[QueueStore]:
    if request.param == "memory":
        clock = FakeClock()
        yield QueueStore("memory", MemoryHotState(clock), clock)
        return
    from gameserver.storage.interfaces import Unavailable
    from gameserver.storage.redis import RedisHotState

    prefix = f"test:{uuid.uuid4().hex[:12]}:"
    try:
        hot = await RedisHotState.open(REDIS_URL, prefix=prefix, connect_timeout_s=1.0)
    except Unavailable as exc:
        server_missing(str(exc))
    try:
        yield QueueStore("redis", hot, RealClock())
    finally:
        await hot.close()
        await redis_cleanup(prefix)
