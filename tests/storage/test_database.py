"""The durable store's contract, run against SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gameserver.storage.interfaces import Conflict, NotFound, StaleFence
from gameserver.storage.models import CharacterState, ItemStack
from gameserver.storage.sqlite.database import MIGRATIONS

from .support import Stores

START = CharacterState(region="elwynn", x=1.5, y=-2.0)


async def test_accounts_round_trip(stores: Stores) -> None:
    db = stores.db
    acc = await db.create_account("Alice", "argon2id$hash")
    assert acc.id > 0 and acc.username == "Alice" and not acc.banned
    assert acc.created_at.tzinfo is not None
    assert await db.get_account(acc.id) == acc
    assert await db.get_account_by_name("alice") == acc
    assert await db.get_account_by_name("ALICE") == acc
    assert await db.get_account_by_name("bob") is None
    assert await db.get_account(acc.id + 1000) is None


async def test_username_unique_case_insensitive(stores: Stores) -> None:
    await stores.db.create_account("Alice", "h")
    with pytest.raises(Conflict):
        await stores.db.create_account("aLiCe", "h2")
    # Unicode folds the same way on both backends (SQLite's own lower() would not).
    await stores.db.create_account("Émile", "h")
    with pytest.raises(Conflict):
        await stores.db.create_account("éMILE", "h")


async def test_record_login(stores: Stores) -> None:
    acc = await stores.db.create_account("alice", "h")
    assert acc.last_login_at is None
    at = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    await stores.db.record_login(acc.id, at)
    got = await stores.db.get_account(acc.id)
    assert got is not None and got.last_login_at == at
    with pytest.raises(NotFound):
        await stores.db.record_login(acc.id + 1000)


async def test_characters(stores: Stores) -> None:
    db = stores.db
    alice = await db.create_account("alice", "h")
    bob = await db.create_account("bob", "h")
    state = START.model_copy(
        update={"items": (ItemStack(uid="i-1", item_id=25, count=1, slot="main_hand"),)}
    )
    thrall = await db.create_character(alice.id, "Thrall", "orc", "shaman", "horde", state)
    jaina = await db.create_character(alice.id, "Jaina", "human", "mage", "alliance", START)
    await db.create_character(bob.id, "Rexxar", "orc", "hunter", "horde", START)

    assert thrall.state == state and thrall.save_fence == 0
    assert thrall.saved_at == thrall.created_at
    assert await db.get_character(thrall.id) == thrall
    assert await db.get_character_by_name("THRALL") == thrall
    assert await db.get_character_by_name("nobody") is None
    assert await db.get_character(10_000) is None
    assert [c.name for c in await db.list_characters(alice.id)] == ["Thrall", "Jaina"]
    assert await db.list_characters(alice.id) == [thrall, jaina]
    assert await db.list_characters(10_000) == []
    assert await db.count_characters() == 3


async def test_character_name_unique_case_insensitive(stores: Stores) -> None:
    a = await stores.db.create_account("alice", "h")
    b = await stores.db.create_account("bob", "h")
    await stores.db.create_character(a.id, "Thrall", "orc", "shaman", "horde", START)
    with pytest.raises(Conflict):
        await stores.db.create_character(b.id, "thRALL", "orc", "warrior", "horde", START)
    assert await stores.db.count_characters() == 1


async def test_character_for_missing_account(stores: Stores) -> None:
    with pytest.raises(NotFound):
        await stores.db.create_character(999, "Ghost", "orc", "shaman", "horde", START)


async def test_save_and_fence(stores: Stores) -> None:
    db = stores.db
    acc = await db.create_account("alice", "h")
    ch = await db.create_character(acc.id, "Thrall", "orc", "shaman", "horde", START)
    moved = START.model_copy(update={"x": 10.0, "gold": 5})
    await db.save_character(ch.id, moved, fence=7)
    got = await db.get_character(ch.id)
    assert got is not None and got.state == moved and got.save_fence == 7
    assert got.saved_at >= ch.saved_at

    # The same holder saves again under the same fence: accepted.
    again = moved.model_copy(update={"x": 11.0})
    await db.save_character(ch.id, again, fence=7)

    # An older holder: refused, and nothing changes.
    with pytest.raises(StaleFence):
        await db.save_character(ch.id, START, fence=6)
    got = await db.get_character(ch.id)
    assert got is not None and got.state == again and got.save_fence == 7

    with pytest.raises(NotFound):
        await db.save_character(ch.id + 1000, START, fence=1)


async def test_schema_is_current(stores: Stores) -> None:
    assert await stores.db.schema_version() == len(MIGRATIONS)
    assert await stores.db.migrate() == len(MIGRATIONS)  # idempotent
