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


async def test_fences_beat_a_restarted_memory_store() -> None:
    """A restarted hot store (empty memory) must still hand out fences above those the
    database remembers, or every save would be refused after a restart."""
    from gameserver.storage.memory import MemoryHotState

    lease = await MemoryHotState().acquire("character:1", "server-a", 1000)
    again = await MemoryHotState().acquire("character:1", "server-a", 1000)
    assert lease is not None and again is not None and again.fence >= lease.fence


async def test_fences_beat_a_redis_that_lost_its_data() -> None:
    """The same for Redis, which runs without persistence: losing every key (simulated
    by deleting this test's prefix) must not restart fences below the old ones."""
    import uuid

    from gameserver.storage.redis import RedisHotState

    from .conftest import REDIS_URL, redis_check, redis_cleanup

    await redis_check()
    prefix = f"test:{uuid.uuid4().hex[:12]}:"
    hot = await RedisHotState.open(REDIS_URL, prefix=prefix)
    try:
        for _ in range(50):  # a burst within a few ms
            lease = await hot.acquire("character:1", "server-a", 1000)
        await redis_cleanup(prefix)
        again = await hot.acquire("character:1", "server-b", 1000)
        assert lease is not None and again is not None and again.fence > lease.fence
    finally:
        await hot.close()
        await redis_cleanup(prefix)
