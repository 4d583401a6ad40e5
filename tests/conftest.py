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
