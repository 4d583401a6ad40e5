"""The hot store's contract, run against MemoryHotState and Redis alike.

Expiry is exercised with short TTLs and `clock.advance`, which moves a fake clock for
the memory store and really sleeps (tens of ms) for Redis.
"""

from __future__ import annotations

import pytest

from gameserver.storage.interfaces import StaleFence
from gameserver.storage.models import (
    CharacterState,
    Route,
    ServerHeartbeat,
    ServerKind,
    ServerState,
)

from .support import Stores

LONG = 60_000
SHORT = 80


async def test_lease_is_exclusive(stores: Stores) -> None:
    hot = stores.hot
    a = await hot.acquire("char:1", "server-a", LONG)
    assert a is not None and a.holder == "server-a" and a.key == "char:1"
    assert await hot.acquire("char:1", "server-b", LONG) is None
    assert await hot.get("char:1") == a
    # Another key is independent.
    assert await hot.acquire("char:2", "server-b", LONG) is not None


async def test_lease_expires_and_fence_grows(stores: Stores) -> None:
    hot = stores.hot
    a = await hot.acquire("char:1", "server-a", SHORT)
    assert a is not None
    await stores.clock.advance(SHORT + 40)
    assert await hot.get("char:1") is None
    b = await hot.acquire("char:1", "server-b", LONG)
    assert b is not None and b.fence > a.fence
    # The expired holder can neither renew nor release the new lease.
    assert await hot.renew(a, LONG) is None
    assert await hot.release(a) is False
    assert await hot.get("char:1") == b


async def test_renew_by_holder_only(stores: Stores) -> None:
    hot = stores.hot
    a = await hot.acquire("char:1", "server-a", SHORT)
    assert a is not None
    renewed = await hot.renew(a, LONG)
    assert renewed is not None
    assert renewed.fence == a.fence and renewed.holder == a.holder
    assert renewed.expires_at_ms > a.expires_at_ms
    await stores.clock.advance(SHORT + 40)
    assert await hot.get("char:1") == renewed  # renewal outlived the first TTL
    impostor = renewed.model_copy(update={"holder": "server-b"})
    assert await hot.renew(impostor, LONG) is None
    forged = renewed.model_copy(update={"fence": renewed.fence + 1})
    assert await hot.renew(forged, LONG) is None


async def test_release(stores: Stores) -> None:
    hot = stores.hot
    a = await hot.acquire("char:1", "server-a", LONG)
    assert a is not None
    assert await hot.release(a.model_copy(update={"holder": "server-b"})) is False
    assert await hot.release(a) is True
    assert await hot.get("char:1") is None
    assert await hot.release(a) is False
    b = await hot.acquire("char:1", "server-b", LONG)
    assert b is not None and b.fence > a.fence  # fences never repeat after a release


async def test_reacquire_by_same_holder_gets_new_fence(stores: Stores) -> None:
    a = await stores.hot.acquire("char:1", "server-a", LONG)
    a2 = await stores.hot.acquire("char:1", "server-a", LONG)
    assert a is not None and a2 is not None and a2.fence > a.fence
    assert await stores.hot.release(a) is False  # the first grant is superseded
    assert await stores.hot.get("char:1") == a2


async def test_checkpoints(stores: Stores) -> None:
    hot = stores.hot
    s1 = CharacterState(region="elwynn", x=1, y=2)
    s2 = s1.model_copy(update={"x": 3.0})
    assert await hot.get_checkpoint(7) is None
    await hot.put_checkpoint(7, s1, 5)
    assert await hot.get_checkpoint(7) == (s1, 5)
    await hot.put_checkpoint(7, s2, 5)
    assert await hot.get_checkpoint(7) == (s2, 5)
    with pytest.raises(StaleFence):
        await hot.put_checkpoint(7, s1, 4)
    assert await hot.get_checkpoint(7) == (s2, 5)
    await hot.put_checkpoint(7, s1, 6)
    assert await hot.get_checkpoint(7) == (s1, 6)
    # Many at once, one round trip: the stale one is refused and named, the rest stored.
    s3 = s1.model_copy(update={"x": 9.0})
    assert await hot.put_checkpoints([(7, s3, 5), (8, s3, 1), (9, s2, 2)]) == [7]
    assert await hot.get_checkpoint(7) == (s1, 6)
    assert await hot.get_checkpoint(8) == (s3, 1)
    assert await hot.get_checkpoint(9) == (s2, 2)
    assert await hot.put_checkpoints([]) == []
    await hot.delete_checkpoint(7)
    assert await hot.get_checkpoint(7) is None
    await hot.delete_checkpoint(7)  # deleting twice is fine


async def test_routes(stores: Stores) -> None:
    hot = stores.hot
    route = Route(account_id=1, character_id=2, rcm="rcm-0", server_id="r-1", region="elwynn")
    assert await hot.get_route(1) is None
    await hot.set_route(route)
    assert await hot.get_route(1) == route
    moved = route.model_copy(update={"server_id": "r-2"})
    await hot.set_route(moved)
    assert await hot.get_route(1) == moved
    await hot.clear_route(1)
    assert await hot.get_route(1) is None


def _beat(server_id: str, realm: str = "home", players: int = 0) -> ServerHeartbeat:
    return ServerHeartbeat(
        server_id=server_id,
        realm=realm,
        region="elwynn",
        kind=ServerKind.WORLD,
        address="10.0.0.1:7777",
        state=ServerState.READY,
        players=players,
        capacity=200,
        tick_p50_ms=2.5,
        tick_p99_ms=9.0,
        tick_rate_hz=20.0,
        sent_at_ms=123,
    )


async def test_registry_and_expiry(stores: Stores) -> None:
    hot = stores.hot
    await hot.heartbeat(_beat("r-1", players=3), LONG)
    await hot.heartbeat(_beat("r-2"), SHORT)
    await hot.heartbeat(_beat("x-1", realm="other"), LONG)
    assert [b.server_id for b in await hot.servers("home")] == ["r-1", "r-2"]
    assert (await hot.servers("home"))[0] == _beat("r-1", players=3)
    await stores.clock.advance(SHORT + 40)
    assert [b.server_id for b in await hot.servers("home")] == ["r-1"]
    # A fresh heartbeat brings an expired server back.
    await hot.heartbeat(_beat("r-2", players=9), LONG)
    assert [b.players for b in await hot.servers("home")] == [3, 9]
    await hot.remove("home", "r-1")
    assert [b.server_id for b in await hot.servers("home")] == ["r-2"]
    assert [b.server_id for b in await hot.servers("other")] == ["x-1"]
    assert await hot.servers("nowhere") == []


async def test_drain_flags(stores: Stores) -> None:
    hot = stores.hot
    await hot.heartbeat(_beat("r-1"), LONG)
    assert await hot.drain_requested("home", "r-1") is False
    await hot.request_drain("home", "r-1")
    assert await hot.drain_requested("home", "r-1") is True
    assert await hot.drain_requested("home", "r-2") is False
    assert await hot.drain_requested("other", "r-1") is False
    await hot.remove("home", "r-1")
    assert await hot.drain_requested("home", "r-1") is False


async def test_routes_on_a_server_follow_moves(stores: Stores) -> None:
    hot = stores.hot
    a = Route(account_id=1, character_id=11, rcm="rcm-0", server_id="s-1", region="elwynn")
    b = Route(account_id=2, character_id=12, rcm="rcm-0", server_id="s-1", region="elwynn")
    await hot.set_route(a)
    await hot.set_route(b)
    assert sorted(r.account_id for r in await hot.routes_on("s-1")) == [1, 2]
    await hot.set_route(b.model_copy(update={"server_id": "s-2"}))  # a handoff
    assert [r.account_id for r in await hot.routes_on("s-1")] == [1]
    assert [r.account_id for r in await hot.routes_on("s-2")] == [2]
    await hot.clear_route(1)
    assert await hot.routes_on("s-1") == []


async def test_a_broken_lease_is_free_and_its_holder_stays_fenced_out(stores: Stores) -> None:
    hot = stores.hot
    dead = await hot.acquire("character:7", "dead-server", 60_000)
    assert dead is not None
    assert await hot.acquire("character:7", "new-session", 60_000) is None
    await hot.break_lease("character:7")
    fresh = await hot.acquire("character:7", "new-session", 60_000)
    assert fresh is not None and fresh.fence > dead.fence
    assert await hot.renew(dead, 60_000) is None  # the old holder cannot take it back
