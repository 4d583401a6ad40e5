"""`LoginQueue` and `SeatKeeper` over real stores, driven step by step (no loop, no
sockets): capacity from heartbeats, admission in order, pushes to waiters, estimates,
leaving, several gateways on one queue."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import pytest

from gameserver import metrics
from gameserver.gateway.accounts import AccountError
from gameserver.gateway.login_queue import (
    AdmissionRate,
    LoginQueue,
    QueueSettings,
    SeatKeeper,
    WaiterStatus,
)
from gameserver.storage.interfaces import HotState, Unavailable
from gameserver.storage.loginqueue import LoginResult
from gameserver.storage.memory import MemoryHotState
from gameserver.storage.models import ServerHeartbeat, ServerState

from .conftest import FakeClock, QueueStore

REALM = "svc"
KEY = b"t" * 32


def _settings(max_players: int = 1000, **kw: object) -> QueueSettings:
    base: dict[str, object] = dict(
        max_players=max_players, rate=AdmissionRate(1000.0, 1000), capacity_every_s=0.0
    )
    base.update(kw)
    return QueueSettings(**base)  # type: ignore[arg-type]


async def _server(hot: HotState, capacity: int, state: ServerState = ServerState.READY) -> None:
    beat = ServerHeartbeat(
        server_id=f"s{capacity}", realm=REALM, region="x", state=state, capacity=capacity
    )
    await hot.heartbeat(beat, ttl_ms=600_000)


def _queue(hot: HotState, clock: FakeClock, **kw: object) -> LoginQueue:
    settings = _settings(**kw)  # type: ignore[arg-type]
    return LoginQueue(REALM, hot, hot, settings, ticket_key=KEY, clock=lambda: clock.now_ms / 1000)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def hot(clock: FakeClock) -> MemoryHotState:
    return MemoryHotState(clock)


async def test_capacity_follows_ready_servers(hot: MemoryHotState, clock: FakeClock) -> None:
    q = _queue(hot, clock, max_players=3)
    await _server(hot, 2, ServerState.STARTING)
    assert await q.login(1) is not None  # nothing Ready: everyone waits
    await _server(hot, 2, ServerState.READY)
    await q.step()
    assert q.limit == 2
    assert await hot.holds_seat(REALM, 1)
    await _server(hot, 5)
    await q.step()
    assert q.limit == 3  # the realm's player limit caps Ready capacity (2 + 5)
    assert metrics.REALM_CAPACITY.labels(REALM)._value.get() == 3


async def test_waiters_are_told_positions_then_admitted_in_order(
    hot: MemoryHotState, clock: FakeClock
) -> None:
    await _server(hot, 2)
    q = _queue(hot, clock)
    assert await q.login(1) is None and await q.login(2) is None
    queued = [await q.login(a) for a in (3, 4, 5)]
    assert [x.position for x in queued if x is not None] == [1, 2, 3]
    waiters = {a: await q.attach(a) for a in (3, 4, 5)}
    assert [w.position for w in waiters.values()] == [1, 2, 3]
    admitted_before = metrics.LOGIN_ADMISSIONS.labels(REALM, "queue")._value.get()

    keeper = SeatKeeper(REALM, hot, grace_s=0)
    await keeper.session_closed(1, conn_id=11, reason="logout")
    clock.now_ms += 1000
    await q.step()
    assert waiters[3].status is WaiterStatus.ADMITTED
    assert waiters[4].queued and waiters[5].queued
    clock.now_ms += 1000  # the refresh of the others falls due
    await q.step()
    assert (waiters[4].position, waiters[5].position) == (1, 2)
    assert q.rate_estimate > 0 and waiters[5].eta_s is not None
    assert metrics.LOGIN_ADMISSIONS.labels(REALM, "queue")._value.get() == admitted_before + 1
    assert q.length == 2
    assert metrics.LOGIN_QUEUE_LENGTH.labels(REALM)._value.get() == 2


async def test_a_waiter_wakes_only_for_news(hot: MemoryHotState, clock: FakeClock) -> None:
    q = _queue(hot, clock)
    await q.login(1)
    w = await q.attach(1)
    assert w.position == 1
    assert not w.update(1, None)  # same place, still no estimate: nothing to push
    assert w.update(1, 30.0)
    assert not w.update(1, 30.5)  # within 10% (and a second): not worth a message
    assert w.update(1, 20.0)
    w.admit()
    assert not w.update(5, 1.0)  # admitted: positions no longer matter


async def test_leaving_the_queue_by_closing_the_socket(
    hot: MemoryHotState, clock: FakeClock
) -> None:
    q = _queue(hot, clock)
    for a in (1, 2, 3):
        await q.login(a)
    first, second = await q.attach(1), await q.attach(2)
    await q.detach(first)
    assert first.status is WaiterStatus.GONE
    assert await hot.queue_positions(REALM, [1, 2, 3]) == [None, 1, 2]
    # A second follower of the same account replaces the first.
    again = await q.attach(2)
    assert second.status is WaiterStatus.GONE and again.queued
    await q.detach(second)  # the replaced one leaving does not take the account out
    assert await hot.queue_positions(REALM, [2]) == [1]
    # A ticket nobody holds any more (left, never admitted) ends the follow at once.
    assert (await q.attach(1)).status is WaiterStatus.GONE


async def test_refresh_is_scheduled_not_per_admission(
    hot: MemoryHotState, clock: FakeClock
) -> None:
    """With 500 waiters and one admission per round, a round re-ranks only the waiters
    whose refresh is due, not all 500."""
    await _server(hot, 1)
    q = _queue(hot, clock, rate=AdmissionRate(10.0, 1), refresh_budget=10_000)
    assert await q.login(0) is None
    for a in range(1, 501):
        await q.login(a)
    for a in range(1, 501):
        await q.attach(a)
    calls: list[int] = []
    original = hot.queue_positions

    async def counting(realm: str, ids: Sequence[int]) -> list[int | None]:
        calls.append(len(ids))
        return await original(realm, ids)

    hot.queue_positions = counting  # type: ignore[method-assign,assignment]
    keeper = SeatKeeper(REALM, hot, grace_s=0)
    seated = 0
    for _ in range(100):  # 10 s of rounds at 0.1 s, a seat freed each round
        await keeper.session_closed(seated, conn_id=seated, reason="logout")
        clock.now_ms += 100
        await q.step()
        seated += 1
    assert q.length == 400
    # Rounds ran 100 times over 500 waiters: per-admission pushes would be ~45,000
    # re-ranks; the schedule does a small fraction of that.
    assert sum(calls) < 5_000, sum(calls)


async def test_two_gateways_share_one_queue(queue_store: QueueStore) -> None:
    """A waiter followed on gateway B is told of its admission by gateway A's round (the
    admissions log), not only when B happens to re-rank it."""
    hot = queue_store.hot
    await hot.heartbeat(
        ServerHeartbeat(server_id="s", realm=REALM, region="x", state=ServerState.READY,
                        capacity=1),
        ttl_ms=600_000,
    )
    a = LoginQueue(REALM, hot, hot, _settings(refresh_min_s=60, refresh_max_s=60),
                   ticket_key=KEY, clock=time.monotonic)
    b = LoginQueue(REALM, hot, hot, _settings(refresh_min_s=60, refresh_max_s=60),
                   ticket_key=KEY, clock=time.monotonic)
    await a.step()
    await b.step()
    assert await a.login(1) is None
    queued = await b.login(2)
    assert queued is not None and queued.position == 1
    assert a.ticket_account(queued.ticket) == 2  # any gateway reads any gateway's ticket
    waiter = await b.attach(2)
    await SeatKeeper(REALM, hot, grace_s=0).session_closed(1, 1, "logout")
    await a.step()  # A admits 2...
    assert waiter.queued
    await b.step()  # ...and B hands it over on its next round
    assert waiter.status is WaiterStatus.ADMITTED


async def test_seat_keeper_counts_sessions(hot: MemoryHotState, clock: FakeClock) -> None:
    q = _queue(hot, clock)
    keeper = SeatKeeper(REALM, hot, grace_s=120)
    await _server(hot, 10)
    assert await q.login(7) is None
    await keeper.session_opened(7, conn_id=1)
    clock.now_ms += 10 * 60_000
    assert await hot.holds_seat(REALM, 7)  # confirmed: no longer expires
    # The client crashed and logged in again before the RCM timed the old session out.
    assert await q.login(7) is None
    await keeper.session_opened(7, conn_id=2)
    await keeper.session_closed(7, conn_id=1, reason="timed out")
    assert await hot.holds_seat(REALM, 7)
    await keeper.session_closed(7, conn_id=2, reason="client disconnected")
    assert not await hot.holds_seat(REALM, 7)


async def test_outages_become_errors_not_crashes(clock: FakeClock) -> None:
    class Down(MemoryHotState):
        async def queue_login(self, *args: Any, **kw: Any) -> LoginResult:
            raise Unavailable("redis is down")

        async def release_seat(self, *args: Any, **kw: Any) -> bool:
            raise Unavailable("redis is down")

    hot = Down(clock)
    q = _queue(hot, clock)
    with pytest.raises(AccountError) as err:
        await q.login(1)
    assert err.value.status == 503
    await SeatKeeper(REALM, hot, grace_s=1).session_closed(1, 1, "timed out")  # logged only
