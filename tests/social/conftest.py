"""One environment for the realm-actions tests, on both storage pairs.

`env` is parametrized like the storage suite: `embedded` (SQLite + in-memory hot state)
and `distributed` (the real PostgreSQL and Redis of this machine; a missing server skips,
or fails under CI=true). It holds a `RealmActions` on a fake clock, a recording notifier,
and two real region servers (elwynn and westfall), so online characters are simulated
and saved exactly as in the realm.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from gameserver.api.region import PlayerJoin
from gameserver.embedded.world import RegionWorld
from gameserver.region.server import RegionServer
from gameserver.rwam.actions import RealmActions
from gameserver.rwam.notify import RecordingNotifier
from gameserver.storage.interfaces import HotState, RealmDatabase
from gameserver.storage.memory import MemoryHotState
from gameserver.storage.models import Character, CharacterState, ItemStack
from gameserver.storage.realmdata import EconomyAudit
from gameserver.storage.sqlite import SqliteDatabase
from gameserver.world.map import DEFAULT_MAP

try:  # the storage suite's servers and fixtures (tests/ may or may not be a package)
    from tests.storage.conftest import (
        REDIS_URL,
        pg_factory,
        pg_url,
        redis_check,
        redis_cleanup,
    )
except ImportError:  # pragma: no cover - tests/ on sys.path instead
    from storage.conftest import (  # type: ignore[no-redef]
        REDIS_URL,
        pg_factory,
        pg_url,
        redis_check,
        redis_cleanup,
    )

__all__ = ["pg_factory", "pg_url"]  # re-exported fixtures

ALL_TABLES = (
    "held_items, economy_sinks, mail, auctions, relations, guild_members, guild_ranks, guilds,"
    " characters, accounts"
)


class Clock:
    def __init__(self, start_ms: int = 1_700_000_000_000) -> None:
        self.now_ms = start_ms

    def __call__(self) -> int:
        return self.now_ms

    def advance(self, ms: int) -> None:
        self.now_ms += ms


class NullOutbox:
    def __init__(self) -> None:
        self.kicked: list[tuple[int, str]] = []

    def deliver(self, conn_id: int, payload: bytes) -> None:
        pass

    def kick(self, conn_id: int, reason: str) -> None:
        self.kicked.append((conn_id, reason))

    def __getattr__(self, name: str) -> Any:  # other Outbox methods: ignore
        return lambda *a, **k: None


@dataclass
class Env:
    name: str
    db: RealmDatabase
    hot: HotState
    clock: Clock
    notifier: RecordingNotifier
    servers: dict[str, RegionServer]
    actions: RealmActions
    outbox: NullOutbox
    _n: int = field(default=0)

    async def character(
        self, name: str, *, gold: int = 0, items: int = 0, region: str = "elwynn"
    ) -> Character:
        self._n += 1
        acc = await self.db.create_account(f"acc{self._n}_{uuid.uuid4().hex[:6]}", "h")
        stacks = tuple(
            ItemStack(uid=uuid.uuid4().hex, item_id=2589, count=1 + i % 3) for i in range(items)
        )
        x = 100.0 if region == "elwynn" else -100.0
        state = CharacterState(region=region, x=x, y=100.0, gold=gold, items=stacks)
        return await self.db.create_character(acc.id, name, "human", "warrior", "alliance", state)

    async def enter(self, ch: Character, x: float | None = None, y: float = 100.0) -> None:
        """Put the character in the world the way the OEM does (lease, load, admit)."""
        lease = await self.hot.acquire(f"character:{ch.id}", f"test/{ch.id}", 30_000)
        assert lease is not None
        stored = await self.db.get_character(ch.id)
        assert stored is not None
        state = stored.state
        if x is not None:
            state = state.model_copy(update={"x": x, "y": y})
        server = self.servers[state.region]
        await server.add_player(PlayerJoin(stored, state, lease, conn_id=ch.id))
        await self.actions.character_entered(ch.id, ch.account_id, ch.name)

    async def leave(self, ch: Character) -> None:
        await self.actions.character_left(ch.id)
        for server in self.servers.values():
            if server.holds(ch.id):
                await server.remove_player(ch.id)

    async def stored(self, ch: Character) -> CharacterState:
        c = await self.db.get_character(ch.id)
        assert c is not None
        return c.state

    async def audit(self) -> EconomyAudit:
        return await self.db.audit()


async def _build(name: str, db: RealmDatabase, hot: HotState) -> Env:
    clock = Clock()
    notifier = RecordingNotifier()
    outbox = NullOutbox()
    servers = {
        r.name: RegionServer(
            realm="test", region=r, server_id=f"{r.name}-0", db=db, hot=hot, outbox=outbox
        )
        for r in DEFAULT_MAP.regions
        if r.name in ("elwynn", "westfall")
    }
    world = RegionWorld(lambda: servers.values())
    actions = RealmActions(db, hot, world, notifier, clock=clock, realm="test")
    return Env(name, db, hot, clock, notifier, servers, actions, outbox)


@pytest.fixture(params=["embedded", "distributed"])
async def env(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Env]:
    if request.param == "embedded":
        db: RealmDatabase = await SqliteDatabase.open(tmp_path / "realm.sqlite3")
        hot: HotState = MemoryHotState()
        prefix = ""
    else:
        import asyncpg

        from gameserver.storage.postgres import PostgresDatabase
        from gameserver.storage.redis import RedisHotState

        url = request.getfixturevalue("pg_url")
        await redis_check()
        conn = await asyncpg.connect(url, timeout=3)
        try:
            await conn.execute(f"TRUNCATE {ALL_TABLES} RESTART IDENTITY CASCADE")
        finally:
            await conn.close()
        db = await PostgresDatabase.open(url, max_size=20)
        prefix = f"test:{uuid.uuid4().hex[:12]}:"
        hot = await RedisHotState.open(REDIS_URL, prefix=prefix)
    e = await _build(request.param, db, hot)
    try:
        yield e
    finally:
        await hot.close()
        await db.close()
        if prefix:
            await redis_cleanup(prefix)
