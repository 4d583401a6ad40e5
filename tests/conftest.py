"""Shared fixtures: a whole embedded realm on ephemeral ports in a temporary directory."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gameserver.config import RealmSettings
from gameserver.embedded.realm import EmbeddedRealm

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def realm_settings(tmp_path: Path, **overrides: object) -> RealmSettings:
    base: dict[str, object] = dict(
        name="test",
        data_dir=tmp_path / "data",
        http_port=0,
        udp_port=0,
        metrics_port=0,
        argon2_time_cost=1,
        argon2_memory_kib=1024,
    )
    base.update(overrides)
    return RealmSettings(**base)  # type: ignore[arg-type]


@pytest.fixture
async def realm(tmp_path: Path) -> AsyncIterator[EmbeddedRealm]:
    r = EmbeddedRealm(realm_settings(tmp_path))
    await r.start()
    try:
        yield r
    finally:
        await r.stop()


POSTGRES_ADMIN_URL = os.environ.get(
    "OPENREALM_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("OPENREALM_TEST_REDIS", "redis://127.0.0.1:6379/0")


def service_missing(reason: str) -> None:
    """Skip for a missing server, except under CI=true, where it fails the run."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: a missing server fails the run)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """A throwaway PostgreSQL database for one test, dropped afterwards."""
    import uuid

    import asyncpg

    name = f"openrealm_e2e_{uuid.uuid4().hex[:12]}"
    try:
        admin = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError) as e:
        service_missing(f"PostgreSQL at {POSTGRES_ADMIN_URL} unreachable: {e!r}")
        raise
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        admin = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=3)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture
async def redis_url() -> AsyncIterator[str]:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(REDIS_URL, socket_timeout=2)
    try:
        await client.ping()
    except (OSError, aioredis.RedisError) as e:
        service_missing(f"Redis at {REDIS_URL} unreachable: {e!r}")
    finally:
        await client.aclose()
    yield REDIS_URL
