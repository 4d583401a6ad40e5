"""The login queue end to end: an embedded realm over real sockets, real clients and bots.

The realm's player limit is the bottleneck here (its region servers are Ready and far
larger); the queue's WebSocket, the RCM's seat hooks and the client library all take part.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from realm_client import RealmClient
from realm_client.bot import Bot, BotReport
from realm_client.gateway import QueueUpdate

from gameserver import metrics
from gameserver.config import RealmSettings
from gameserver.embedded.realm import EmbeddedRealm

pytestmark = pytest.mark.e2e
PASSWORD = "password123"


def _settings(tmp_path: Path, max_players: int) -> RealmSettings:
    return RealmSettings(
        name=f"queue{max_players}",
        data_dir=tmp_path / "data",
        http_port=0,
        udp_port=0,
        metrics_port=0,
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        max_players=max_players,
        login_rate_per_s=50.0,
        login_burst=10,
        login_grace_s=120.0,
    )


async def _realm(tmp_path: Path, max_players: int) -> AsyncIterator[EmbeddedRealm]:
    realm = EmbeddedRealm(_settings(tmp_path, max_players))
    await realm.start()
    try:
        yield realm
    finally:
        await realm.stop()


@pytest.fixture
async def realm10(tmp_path: Path) -> AsyncIterator[EmbeddedRealm]:
    async for r in _realm(tmp_path, 10):
        yield r


@pytest.fixture
async def realm2(tmp_path: Path) -> AsyncIterator[EmbeddedRealm]:
    async for r in _realm(tmp_path, 2):
        yield r


async def test_thirty_bots_ten_seats(realm10: EmbeddedRealm) -> None:
    assert realm10.addresses is not None and realm10.hot is not None
    name = realm10.settings.name
    start = await realm10.hot.admission_cursor(name)

    bots = [Bot(realm10.addresses.http, i) for i in range(30)]

    async def one(i: int) -> BotReport:
        await asyncio.sleep(i * 0.01)
        return await bots[i].run(duration_s=2.0)

    reports = await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(30))), 40)
    assert [r.error for r in reports if r.error] == []
    assert all(r.in_world and r.logged_out_saved for r in reports)

    queued = [r for r in reports if r.queue_positions]
    assert len(queued) == 20  # ten seats: the other twenty waited
    assert sorted(r.queue_positions[0] for r in queued) == list(range(1, 21))
    for r in queued:  # positions only ever fell
        assert r.queue_positions == sorted(r.queue_positions, reverse=True), r.queue_positions
    # Those behind the first wave of departures were told their place moved up (positions
    # are re-ranked at least every second near the head; a wave lasts two).
    second_wave = [r for r in queued if r.queue_positions[0] > 10]
    assert len(second_wave) == 10
    assert all(len(set(r.queue_positions)) >= 2 for r in second_wave)
    assert queued[-1].queue_wait_s > queued[0].queue_wait_s

    # Admitted in the order they queued, as seats were freed by bots logging out.
    log, _ = await realm10.hot.admissions_since(name, start)
    assert len(log) == 20
    assert [a.ticket for a in log] == sorted(a.ticket for a in log)
    account = {id(bot.report): bot.client.login_info.account_id for bot in bots}
    by_place = sorted(queued, key=lambda r: r.queue_positions[0])
    assert [a.account_id for a in log] == [account[id(r)] for r in by_place]
    assert await realm10.hot.seats_in_use(name) == 0
    assert await realm10.hot.queue_length(name) == 0


class _Follower:
    """A client logging in in the background, recording the positions it is told."""

    def __init__(self, realm: EmbeddedRealm, user: str) -> None:
        assert realm.addresses is not None
        self.client = RealmClient(realm.addresses.http)
        self.user = user
        self.positions: list[int] = []
        self.told = asyncio.Event()
        self.task: asyncio.Task[object] | None = None

    def _update(self, u: QueueUpdate) -> None:
        self.positions.append(u.position)
        self.told.set()

    async def signup(self) -> None:
        await self.client.signup(self.user, PASSWORD)

    def login(self) -> asyncio.Task[object]:
        self.task = asyncio.create_task(
            self.client.login(self.user, PASSWORD, on_queue=self._update)
        )
        return self.task

    async def queued_at(self, within_s: float = 5.0) -> int:
        await asyncio.wait_for(self.told.wait(), within_s)
        return self.positions[-1]


async def _done(task: asyncio.Task[object] | None, within_s: float = 5.0) -> None:
    assert task is not None
    await asyncio.wait_for(asyncio.shield(task), within_s)


async def test_reconnecting_player_skips_ahead(realm2: EmbeddedRealm) -> None:
    grace: Callable[[], float] = metrics.LOGIN_ADMISSIONS.labels(
        realm2.settings.name, "grace"
    )._value.get
    grace_before = grace()
    a, b, c, d = (_Follower(realm2, u) for u in ("alice", "bob", "carol", "dave"))
    again = _Follower(realm2, "alice")
    try:
        for f in (a, b, c, d):
            await f.signup()
        for f in (a, b):
            await _done(f.login())
        assert a.positions == [] and b.positions == []  # two seats, taken at once
        c.login()
        assert await c.queued_at() == 1
        d.login()
        assert await d.queued_at() == 2

        await a.client.close()  # alice drops: carol gets her seat
        await _done(c.task)
        assert not d.task.done()  # type: ignore[union-attr]

        again.login()  # alice is back within the grace period: ahead of dave
        assert await again.queued_at() == 1
        await b.client.close()  # a seat frees: it goes to alice, dave still waits
        await _done(again.task)
        assert again.positions[0] == 1
        assert not d.task.done()  # type: ignore[union-attr]
        assert grace() == grace_before + 1
    finally:
        for f in (a, b, c, d, again):
            if f.task is not None and not f.task.done():
                f.task.cancel()
            await f.client.close()


async def test_queue_http_contract(realm2: EmbeddedRealm) -> None:
    """What a client that is not `realm_client` sees: the queued answer, the socket's
    first message, a refused forged ticket, and leaving by closing the socket."""
    import aiohttp

    assert realm2.addresses is not None and realm2.hot is not None
    base = realm2.addresses.http
    async with aiohttp.ClientSession() as http:
        def creds(user: str) -> dict[str, str]:
            return {"username": user, "password": PASSWORD}

        for user in ("ann", "ben", "cat"):
            async with http.post(f"{base}/v1/accounts", json=creds(user)) as r:
                assert r.status == 201
        for user in ("ann", "ben"):
            async with http.post(f"{base}/v1/login", json=creds(user)) as r:
                assert (await r.json())["status"] == "admitted"
        async with http.post(f"{base}/v1/login", json=creds("cat")) as r:
            queued = await r.json()
        assert queued["status"] == "queued" and queued["position"] == 1
        assert queued["queue_path"] == f"/v1/queue/{queued['ticket']}"
        assert "token" not in queued

        async with http.get(f"{base}/v1/queue/{queued['ticket'][:-3]}xyz") as r:
            assert r.status == 404 and (await r.json())["error"] == "bad_ticket"

        async with http.ws_connect(base + queued["queue_path"]) as ws:
            first = await ws.receive_json(timeout=5)
            assert first == {"status": "queued", "position": 1, "eta_s": None}
        name = realm2.settings.name
        for _ in range(50):  # the gateway notices the close and takes cat off the queue
            if await realm2.hot.queue_length(name) == 0:
                break
            await asyncio.sleep(0.02)
        assert await realm2.hot.queue_length(name) == 0
