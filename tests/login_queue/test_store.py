"""The `LoginQueueStore` contract, run against the memory and Redis backends alike."""

from __future__ import annotations

from gameserver.storage.loginqueue import AdmissionRate, LoginPath, LoginResult

from .conftest import QueueStore

REALM = "home"
FAST = AdmissionRate(per_second=1000.0, burst=1000)
TTL = 60_000


async def _login(
    qs: QueueStore, account: int, limit: int, rate: AdmissionRate = FAST
) -> LoginResult:
    return await qs.hot.queue_login(REALM, account, limit, rate, TTL)


async def test_free_seats_then_fifo_queue(queue_store: QueueStore) -> None:
    hot = queue_store.hot
    for account in (1, 2):
        r = await _login(queue_store, account, limit=2)
        assert r.admitted and r.path is LoginPath.FREE_SEAT
    queued = [await _login(queue_store, account, limit=2) for account in (3, 4, 5)]
    assert [r.admitted for r in queued] == [False] * 3
    assert [r.position for r in queued] == [1, 2, 3]
    assert queued[0].ticket < queued[1].ticket < queued[2].ticket
    assert await hot.queue_length(REALM) == 3
    assert await hot.seats_in_use(REALM) == 2
    assert await hot.queue_positions(REALM, [5, 3, 1, 4]) == [3, 1, None, 2]
    # Asking again is idempotent: same ticket, same place; a seated account stays seated.
    again = await _login(queue_store, 4, limit=2)
    assert (again.ticket, again.position) == (queued[1].ticket, 2)
    assert (await _login(queue_store, 1, limit=2)).path is LoginPath.SEATED
    # Nobody jumps the queue: with a seat free, a newcomer still waits behind the others.
    assert await hot.release_seat(REALM, 1, grace_ms=0)
    assert (await _login(queue_store, 6, limit=2)).position == 4


async def test_admission_takes_the_head_up_to_the_limit(queue_store: QueueStore) -> None:
    hot = queue_store.hot
    for account in range(1, 7):
        await _login(queue_store, account, limit=0)  # no capacity yet: everyone queues
    assert await hot.admit_queued(REALM, 0, FAST, TTL, 100) == []
    admitted = await hot.admit_queued(REALM, 2, FAST, TTL, 100)
    assert [a.account_id for a in admitted] == [1, 2]
    assert all(a.path is LoginPath.QUEUE and a.waited_s >= 0 for a in admitted)
    assert await hot.queue_positions(REALM, [3, 4, 5, 6]) == [1, 2, 3, 4]
    assert await hot.holds_seat(REALM, 1) and not await hot.holds_seat(REALM, 3)
    # The batch size caps one call; the limit caps the seats.
    assert [a.account_id for a in await hot.admit_queued(REALM, 10, FAST, TTL, 1)] == [3]
    assert [a.account_id for a in await hot.admit_queued(REALM, 4, FAST, TTL, 100)] == [4]
    assert await hot.seats_in_use(REALM) == 4
    assert await hot.queue_length(REALM) == 2


async def test_leaving_moves_everyone_behind_up(queue_store: QueueStore) -> None:
    hot = queue_store.hot
    for account in range(1, 6):
        await _login(queue_store, account, limit=0)
    assert await hot.leave_queue(REALM, 2)
    assert not await hot.leave_queue(REALM, 2)
    assert await hot.queue_positions(REALM, [1, 3, 4, 5, 2]) == [1, 2, 3, 4, None]
    admitted = await hot.admit_queued(REALM, 2, FAST, TTL, 100)
    assert [a.account_id for a in admitted] == [1, 3]


async def test_admission_is_rate_limited(queue_store: QueueStore) -> None:
    hot = queue_store.hot
    rate = AdmissionRate(per_second=10.0, burst=2)  # one token per 100 ms
    got = [await _login(queue_store, account, 100, rate) for account in range(1, 6)]
    assert [r.admitted for r in got] == [True, True, False, False, False]
    assert await hot.admit_queued(REALM, 100, rate, TTL, 100) == []  # the bucket is empty
    await queue_store.clock.advance(230)
    admitted = await hot.admit_queued(REALM, 100, rate, TTL, 100)
    assert [a.account_id for a in admitted] == [3, 4]
    assert await hot.queue_positions(REALM, [5]) == [1]


async def test_grace_reenters_ahead_of_the_queue(queue_store: QueueStore) -> None:
    hot = queue_store.hot
    for account in (1, 2):
        assert (await _login(queue_store, account, limit=2)).admitted
    for account in (3, 4):
        assert not (await _login(queue_store, account, limit=2)).admitted
    # 1 and 2 disconnect (their seats go to 3 and 4), then come back within the grace.
    assert await hot.release_seat(REALM, 1, grace_ms=TTL)
    assert await hot.release_seat(REALM, 2, grace_ms=TTL)
    assert len(await hot.admit_queued(REALM, 2, FAST, TTL, 100)) == 2
    await _login(queue_store, 5, limit=2)
    back1 = await _login(queue_store, 1, limit=2)
    back2 = await _login(queue_store, 2, limit=2)
    assert back1.ticket < 0 and back2.ticket < 0
    assert (back1.position, back2.position) == (1, 2)  # ahead of 5, in arrival order
    assert await hot.queue_positions(REALM, [5]) == [3]
    assert await hot.release_seat(REALM, 3, grace_ms=0)
    (first,) = await hot.admit_queued(REALM, 2, FAST, TTL, 100)
    assert first.account_id == 1 and first.grace and first.path is LoginPath.GRACE
    # A free seat goes straight to a returning player when no other returner waits...
    assert await hot.leave_queue(REALM, 2)
    assert await hot.release_seat(REALM, 4, grace_ms=TTL)
    assert (await _login(queue_store, 4, limit=2)).path is LoginPath.GRACE
    # ...and a grace entry is used once: the next return is an ordinary one.
    assert await hot.release_seat(REALM, 4, grace_ms=0)
    assert await _login(queue_store, 4, limit=2) is not None
    assert await hot.queue_positions(REALM, [5, 4]) == [1, 2]


async def test_grace_expires(queue_store: QueueStore) -> None:
    hot = queue_store.hot
    assert (await _login(queue_store, 1, limit=1)).admitted
    assert not (await _login(queue_store, 2, limit=1)).admitted
    assert await hot.release_seat(REALM, 1, grace_ms=80)
    assert not await hot.release_seat(REALM, 1, grace_ms=80)  # no seat: nothing to release
    await queue_store.clock.advance(150)
    back = await _login(queue_store, 1, limit=1)
    assert back.ticket > 0 and back.position == 2


async def test_unconfirmed_seats_expire(queue_store: QueueStore) -> None:
    hot = queue_store.hot
    for account in (1, 2):
        await hot.queue_login(REALM, account, 2, FAST, 80)
    assert await hot.confirm_seat(REALM, 1)
    assert not await hot.confirm_seat(REALM, 3)
    await queue_store.clock.advance(150)
    # 2 never opened its RCM session: its seat is free again; 1's is kept.
    assert await hot.seats_in_use(REALM) == 1
    assert await hot.holds_seat(REALM, 1) and not await hot.holds_seat(REALM, 2)
    assert await hot.release_seat(REALM, 1, grace_ms=0)
    assert await hot.seats_in_use(REALM) == 0


async def test_admissions_log(queue_store: QueueStore) -> None:
    hot = queue_store.hot
    start = await hot.admission_cursor(REALM)
    assert await hot.admissions_since(REALM, start) == ([], start)
    for account in range(1, 5):
        await _login(queue_store, account, limit=0)
    await hot.admit_queued(REALM, 2, FAST, TTL, 100)
    mid = await hot.admission_cursor(REALM)
    await hot.admit_queued(REALM, 3, FAST, TTL, 100)
    first, cursor = await hot.admissions_since(REALM, start)
    assert [a.account_id for a in first] == [1, 2, 3]
    assert cursor == await hot.admission_cursor(REALM)
    later, _ = await hot.admissions_since(REALM, mid)
    assert [a.account_id for a in later] == [3]
    page, after_one = await hot.admissions_since(REALM, start, limit=1)
    assert [a.account_id for a in page] == [1]
    rest, _ = await hot.admissions_since(REALM, after_one)
    assert [a.account_id for a in rest] == [2, 3]


async def test_realms_are_separate(queue_store: QueueStore) -> None:
    hot = queue_store.hot
    await hot.queue_login("a", 1, 0, FAST, TTL)
    await hot.queue_login("b", 1, 1, FAST, TTL)
    assert await hot.queue_length("a") == 1 and await hot.queue_length("b") == 0
    assert await hot.seats_in_use("a") == 0 and await hot.seats_in_use("b") == 1


async def test_the_operator_reads_queue_length(queue_store: QueueStore) -> None:
    """The realm operator scales up on queue length through this very method."""
    from realm_operator.signals import LoginQueueLength, RealmSignals

    hot = queue_store.hot
    assert isinstance(hot, LoginQueueLength)
    for account in (1, 2, 3):
        await _login(queue_store, account, limit=1)
    assert await RealmSignals(registry=hot, queue=hot).queue_length(REALM) == 2
