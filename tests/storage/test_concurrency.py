"""Races the realm will run into: many servers grabbing one character, saves crossing,
two players picking the same name at the same instant."""

from __future__ import annotations

import asyncio

import pytest

from gameserver.metrics import REGISTRY
from gameserver.storage.interfaces import Conflict, StaleFence
from gameserver.storage.models import CharacterState

from .support import Stores


async def test_one_winner_among_concurrent_acquires(stores: Stores) -> None:
    grants = await asyncio.gather(
        *(stores.hot.acquire("character:9", f"server-{i}", 60_000) for i in range(20))
    )
    winners = [g for g in grants if g is not None]
    assert len(winners) == 1
    assert await stores.hot.get("character:9") == winners[0]


async def test_crossing_saves_keep_the_largest_fence(stores: Stores) -> None:
    acc = await stores.db.create_account("alice", "h")
    start = CharacterState(region="r", x=0, y=0)
    ch = await stores.db.create_character(acc.id, "Thrall", "orc", "shaman", "horde", start)
    fences = [5, 3, 9, 1, 7, 9, 2, 8]

    async def save(fence: int) -> bool:
        try:
            await stores.db.save_character(ch.id, start.model_copy(update={"xp": fence}), fence)
        except StaleFence:
            return False
        return True

    await asyncio.gather(*(save(f) for f in fences))
    got = await stores.db.get_character(ch.id)
    assert got is not None and got.save_fence == 9 and got.state.xp == 9


async def test_one_winner_for_a_name(stores: Stores) -> None:
    async def create(name: str) -> bool:
        try:
            await stores.db.create_account(name, "h")
        except Conflict:
            return False
        return True

    results = await asyncio.gather(*(create(n) for n in ["Zed", "zed", "ZED", "zEd", "zeD"]))
    assert sum(results) == 1


async def test_operations_are_timed(stores: Stores) -> None:
    backend = "sqlite" if stores.name == "embedded" else "postgres"

    def count() -> float:
        value = REGISTRY.get_sample_value(
            "realm_storage_operation_seconds_count",
            {"realm": "home", "backend": backend, "operation": "get_account"},
        )
        return value or 0.0

    before = count()
    await stores.db.get_account(1)
    assert count() == before + 1


@pytest.mark.parametrize("n", [300])
async def test_many_saves_are_quick_enough(stores: Stores, n: int) -> None:
    """Not a benchmark, a tripwire: a save path that became 10x slower fails here."""
    import time

    acc = await stores.db.create_account("alice", "h")
    state = CharacterState(region="r", x=0, y=0)
    ch = await stores.db.create_character(acc.id, "Thrall", "orc", "shaman", "horde", state)
    start = time.perf_counter()
    for i in range(n):
        await stores.db.save_character(ch.id, state.model_copy(update={"xp": i}), 1)
    per_save = (time.perf_counter() - start) / n
    assert per_save < 0.02
