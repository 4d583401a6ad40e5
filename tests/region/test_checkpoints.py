"""The hot checkpoint: every player in one batch, a stale fence handled per character, and
a player who leaves while the batch is in flight does not get an old checkpoint back."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from gameserver.api.region import PlayerJoin
from gameserver.region.server import RegionServer
from gameserver.storage.memory import MemoryHotState
from gameserver.storage.models import CharacterState
from gameserver.storage.sqlite import SqliteDatabase
from gameserver.world.map import DEFAULT_MAP


class Outbox:
    def deliver(self, conn_id: int, payload: bytes) -> None:
        pass

    def kick(self, conn_id: int, reason: str) -> None:
        pass


class SlowHot(MemoryHotState):
    """A hot store whose batch write takes a round trip the test controls."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[int] = []
        self.gate: asyncio.Event | None = None

    async def put_checkpoints(
        self, checkpoints: Sequence[tuple[int, CharacterState, int]]
    ) -> list[int]:
        self.batches.append(len(checkpoints))
        if self.gate is not None:
            await self.gate.wait()
        return await super().put_checkpoints(checkpoints)


async def _server(tmp_path: Path, players: int) -> tuple[RegionServer, SlowHot, list[int]]:
    db = await SqliteDatabase.open(tmp_path / "realm.sqlite3")
    hot = SlowHot()
    region = DEFAULT_MAP.region("elwynn")
    server = RegionServer(
        realm="t", region=region, server_id="e-0", db=db, hot=hot, outbox=Outbox()
    )
    ids = []
    for i in range(players):
        acc = await db.create_account(f"a{i}", "h")
        st = CharacterState(region="elwynn", x=10.0 + i, y=10.0)
        ch = await db.create_character(
            acc.id, f"Ch{'abcdefghijklmnop'[i]}", "human", "mage", "a", st
        )
        lease = await hot.acquire(f"character:{ch.id}", "t", 30_000)
        assert lease is not None
        server.admit(PlayerJoin(ch, st, lease, conn_id=ch.id))
        ids.append(ch.id)
    return server, hot, ids


async def test_one_batch_for_every_player(tmp_path: Path) -> None:
    server, hot, ids = await _server(tmp_path, 5)
    assert await server.hot_checkpoint() == 5
    assert hot.batches == [5]
    for cid in ids:
        got = await hot.get_checkpoint(cid)
        assert got is not None and got[0].region == "elwynn"
    await server.db.close()


async def test_a_player_leaving_mid_batch_keeps_no_stale_checkpoint(tmp_path: Path) -> None:
    server, hot, ids = await _server(tmp_path, 3)
    hot.gate = asyncio.Event()
    checkpoint = asyncio.create_task(server.hot_checkpoint())
    await asyncio.sleep(0.01)  # the batch is built and in flight
    assert hot.batches == [3]
    await server.remove_player(ids[0])  # logout: durable save, hot checkpoint deleted
    hot.gate.set()
    await checkpoint
    assert await hot.get_checkpoint(ids[0]) is None  # not written back with an older state
    assert await hot.get_checkpoint(ids[1]) is not None
    await server.db.close()


async def test_a_stale_fence_drops_only_that_player(tmp_path: Path) -> None:
    server, hot, ids = await _server(tmp_path, 3)
    # Another session took character ids[1] over: a newer lease and its checkpoint.
    await hot.break_lease(f"character:{ids[1]}")
    newer = await hot.acquire(f"character:{ids[1]}", "elsewhere", 30_000)
    assert newer is not None
    await hot.put_checkpoint(ids[1], CharacterState(region="elwynn", x=1, y=1), newer.fence)
    assert await server.hot_checkpoint() == 2
    assert not server.holds(ids[1]) and server.holds(ids[0]) and server.holds(ids[2])
    await server.db.close()
