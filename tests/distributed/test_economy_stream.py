"""`Region.Economy` over a real gRPC server: a region server lends a held character's live
state to one RWAM transaction and adopts what it wrote; a refused transaction leaves the
state alone; a transaction whose outcome is unknown (or an RWAM that vanishes mid-loan)
makes the server evict the character unsaved; a character not held here is a
`LookupError` for the router to route again."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from gameserver.rpc.actions import RemoteHolder, RemoteWorld
from gameserver.rpc.region import LinkHub, add_region
from gameserver.rpc.transport import start_server
from gameserver.rwam.economy import EconomyIndeterminate
from gameserver.rwam.errors import ActionError
from gameserver.storage.models import CharacterState

CID = 7


class FakeShard:
    """What `RegionServer.run_economy` does, without a world: lock, lend, adopt."""

    server_id = "elwynn-0"

    def __init__(self) -> None:
        self.state = CharacterState(region="elwynn", x=0.0, y=0.0, gold=100)
        self.lock = asyncio.Lock()
        self.evicted: list[int] = []

    async def run_economy(
        self, character_id: int, fn: Callable[[CharacterState, int], Awaitable[Any]]
    ) -> Any:
        if character_id != CID or self.evicted:
            raise LookupError(f"character {character_id} is not here")
        async with self.lock:
            written, result = await fn(self.state, 42)
            self.state = self.state.model_copy(update={"gold": written.gold})
            return result

    async def evict_unsaved(self, character_id: int, reason: str) -> None:
        self.evicted.append(character_id)

    def characters_near(self, character_id: int, radius: float) -> list[int]:
        return [character_id]


class FixedWorld(RemoteWorld):
    def __init__(self, address: str) -> None:
        super().__init__(hot=None, realm="home")  # type: ignore[arg-type]
        self.address = address

    async def server_of(self, character_id: int) -> tuple[str, str]:
        return self.address, "elwynn-0"


@pytest.fixture
async def region() -> AsyncIterator[tuple[FakeShard, FixedWorld]]:
    shard = FakeShard()
    server, port = await start_server(
        lambda g: add_region(g, shard, LinkHub()), "127.0.0.1", 0  # type: ignore[arg-type]
    )
    world = FixedWorld(f"127.0.0.1:{port}")
    try:
        yield shard, world
    finally:
        await world.close()
        await server.stop(grace=1)


async def _until(cond: Callable[[], bool]) -> None:
    for _ in range(250):
        if cond():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition never held")


async def test_committed_state_is_adopted(region: tuple[FakeShard, FixedWorld]) -> None:
    shard, world = region

    async def commit(state: CharacterState, fence: int) -> tuple[CharacterState, str]:
        assert (state.gold, fence) == (100, 42)
        return state.model_copy(update={"gold": 60}), "ok"

    assert await RemoteHolder(world, CID).run_economy(CID, commit) == "ok"
    assert shard.state.gold == 60 and not shard.evicted
    assert await world.nearby(CID, 20.0) == [CID]


async def test_refused_transaction_keeps_state(region: tuple[FakeShard, FixedWorld]) -> None:
    shard, world = region

    async def refuse(state: CharacterState, fence: int) -> tuple[CharacterState, None]:
        raise ActionError("not_enough_gold", "no")

    with pytest.raises(ActionError):
        await RemoteHolder(world, CID).run_economy(CID, refuse)
    assert shard.state.gold == 100 and not shard.evicted
    assert not shard.lock.locked()


async def test_unknown_outcome_evicts(region: tuple[FakeShard, FixedWorld]) -> None:
    shard, world = region

    async def unknown(state: CharacterState, fence: int) -> tuple[CharacterState, None]:
        raise EconomyIndeterminate("commit unknown")

    with pytest.raises(EconomyIndeterminate):
        await RemoteHolder(world, CID).run_economy(CID, unknown)
    await _until(lambda: shard.evicted == [CID])
    assert shard.state.gold == 100


async def test_rwam_gone_mid_loan_evicts(region: tuple[FakeShard, FixedWorld]) -> None:
    shard, world = region
    lent = asyncio.Event()

    async def hang(state: CharacterState, fence: int) -> tuple[CharacterState, None]:
        lent.set()
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    task = asyncio.create_task(RemoteHolder(world, CID).run_economy(CID, hang))
    await lent.wait()
    await world.close()  # the RWAM's channel goes away with the loan outstanding
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
    await _until(lambda: shard.evicted == [CID])


async def test_cancelled_transaction_evicts(region: tuple[FakeShard, FixedWorld]) -> None:
    """A caller cancelled mid-commit cannot say whether it landed: never keep the copy."""
    shard, world = region
    lent = asyncio.Event()

    async def hang(state: CharacterState, fence: int) -> tuple[CharacterState, None]:
        lent.set()
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    task = asyncio.create_task(RemoteHolder(world, CID).run_economy(CID, hang))
    await lent.wait()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await _until(lambda: shard.evicted == [CID])
    assert shard.state.gold == 100


async def test_not_held_is_lookup_error(region: tuple[FakeShard, FixedWorld]) -> None:
    _, world = region

    async def never(state: CharacterState, fence: int) -> tuple[CharacterState, None]:
        raise AssertionError("nothing should be lent")

    with pytest.raises(LookupError):
        await RemoteHolder(world, CID + 1).run_economy(CID + 1, never)
