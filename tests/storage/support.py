"""Types the storage tests share (kept out of conftest so tests can import them)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Protocol

from gameserver.storage.interfaces import HotState, RealmDatabase


class TestClock(Protocol):
    """How a test lets time pass: instantly on a fake clock, by sleeping on a real one."""

    async def advance(self, ms: int) -> None: ...


class FakeClock:
    def __init__(self, start_ms: int = 1_000_000) -> None:
        self.now_ms = start_ms

    def __call__(self) -> int:
        return self.now_ms

    async def advance(self, ms: int) -> None:
        self.now_ms += ms


class RealClock:
    async def advance(self, ms: int) -> None:
        await asyncio.sleep(ms / 1000)


@dataclass
class Stores:
    name: str
    db: RealmDatabase
    hot: HotState
    clock: TestClock
