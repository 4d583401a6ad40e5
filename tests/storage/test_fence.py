"""The guarantee leases exist for: a holder that lost its lease cannot overwrite the
character a newer holder saved, even if it does not know yet that it lost it."""

from __future__ import annotations

import pytest

from gameserver.storage.interfaces import StaleFence
from gameserver.storage.models import CharacterState

from .support import Stores


async def test_stale_lease_holder_save_is_refused(stores: Stores) -> None:
    db, hot = stores.db, stores.hot
    acc = await db.create_account("alice", "h")
    start = CharacterState(region="elwynn", x=0, y=0)
    ch = await db.create_character(acc.id, "Thrall", "orc", "shaman", "horde", start)
    key = f"character:{ch.id}"

    a = await hot.acquire(key, "server-a", 80)
    assert a is not None
    await stores.clock.advance(120)  # server A stalls; its lease expires
    b = await hot.acquire(key, "server-b", 60_000)
    assert b is not None and b.fence > a.fence

    by_b = start.model_copy(update={"x": 50.0, "gold": 10})
    await db.save_character(ch.id, by_b, b.fence)
    await hot.put_checkpoint(ch.id, by_b, b.fence)

    by_a = start.model_copy(update={"x": -1.0, "gold": 999_999})
    with pytest.raises(StaleFence):
        await db.save_character(ch.id, by_a, a.fence)
    with pytest.raises(StaleFence):
        await hot.put_checkpoint(ch.id, by_a, a.fence)

    got = await db.get_character(ch.id)
    assert got is not None and got.state == by_b and got.save_fence == b.fence
    assert await hot.get_checkpoint(ch.id) == (by_b, b.fence)


async def test_fences_beat_a_previous_process(stores: Stores) -> None:
    """A restarted hot store (empty memory, or a Redis that lost its data) must still
    hand out fences above those the database remembers, or every save would be refused
    after a restart."""
    if stores.name != "embedded":
        pytest.skip("restarting the shared Redis is not this test's business")
    from gameserver.storage.memory import MemoryHotState

    old = MemoryHotState()
    lease = await old.acquire("character:1", "server-a", 1000)
    fresh = MemoryHotState()
    again = await fresh.acquire("character:1", "server-a", 1000)
    assert lease is not None and again is not None and again.fence >= lease.fence
