"""The gateway's login queue: admit now, or queue and keep the waiter informed.

`LoginQueue.login` is called once credentials check out. It asks the store, atomically,
for a seat (free seat below the limit, a token from the admission bucket, nobody waiting
ahead); otherwise the player gets a queue ticket with its place and an estimated wait.

`step` is one round of the gateway's queue loop (`run` repeats it every `tick_s`):

1. every `capacity_every_s`, re-read Ready capacity from the server registry, so the
   seat limit follows region servers as they start, become Ready and drain;
2. admit from the head of the queue as far as free seats and the rate bucket allow;
3. read the admissions log on from its cursor and tell the waiters this gateway holds
   (whoever admitted them: several gateways share one queue); count the admissions into
   the moving average that estimates waits;
4. re-rank the waiters whose refresh is due (see `policy.refresh_interval`), at most
   `refresh_budget` per round, in one batched store call, and push a new position only
   to those whose place or estimate changed.

Costs at n queued players, w of them waiting on this gateway: admitting k is O(k log n)
in the store plus O(k) here; a round re-ranks only the due waiters, O(d log n + d log w);
nothing is proportional to n or w per admission. A `Waiter` is plain state plus an
event; the WebSocket glue (`web.py`) sleeps on the event and sends what changed.
"""

from __future__ import annotations

import asyncio
import enum
import heapq
import itertools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gameserver import metrics
from gameserver.clock import wall_ms
from gameserver.gateway.accounts import AccountError
from gameserver.gateway.login_queue import tickets
from gameserver.gateway.login_queue.policy import (
    AdmissionRate,
    LoginPath,
    eta_seconds,
    ewma_rate,
    refresh_interval,
    seat_limit,
)
from gameserver.storage.interfaces import LoginQueueStore, ServerRegistry, StorageError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class QueueSettings:
    max_players: int
    rate: AdmissionRate
    grace_s: float = 120.0
    # An admitted player must open its game connection within this long or lose the seat
    # (the login token's lifetime, plus slack).
    pending_ttl_s: float = 90.0
    ticket_ttl_s: float = 12 * 3600.0
    tick_s: float = 0.1
    capacity_every_s: float = 1.0
    batch: int = 200  # most admissions per round
    eta_tau_s: float = 30.0
    refresh_fraction: float = 0.05
    refresh_min_s: float = 1.0
    refresh_max_s: float = 15.0
    refresh_budget: int = 2000  # most re-ranks per round


@dataclass(frozen=True, slots=True)
class QueuedLogin:
    """The answer to a login that has to wait."""

    ticket: str
    position: int
    eta_s: float | None

    def body(self) -> dict[str, Any]:
        return {
            "status": "queued",
            "ticket": self.ticket,
            "position": self.position,
            "eta_s": None if self.eta_s is None else round(self.eta_s, 1),
            "queue_path": f"/v1/queue/{self.ticket}",
        }


class WaiterStatus(enum.StrEnum):
    QUEUED = "queued"
    ADMITTED = "admitted"
    GONE = "gone"


class Waiter:
    """One client following its place. Changed by the service; `wait` returns when there
    is something new to tell the client."""

    __slots__ = ("_event", "account_id", "eta_s", "position", "reason", "status")

    def __init__(self, account_id: int) -> None:
        self.account_id = account_id
        self.status = WaiterStatus.QUEUED
        self.position = 0
        self.eta_s: float | None = None
        self.reason = ""
        self._event = asyncio.Event()

    def seen(self) -> None:
        """The client has been told the current state: only later changes wake `wait`."""
        self._event.clear()

    async def wait(self) -> None:
        await self._event.wait()
        self._event.clear()

    @property
    def queued(self) -> bool:
        return self.status is WaiterStatus.QUEUED

    def update(self, position: int, eta_s: float | None) -> bool:
        """Take a new place; True (and the client is woken) if it is worth telling."""
        if not self.queued:
            return False
        moved = position != self.position
        old = self.eta_s
        if eta_s is None or old is None:
            eta_moved = (eta_s is None) != (old is None)
        else:
            eta_moved = abs(eta_s - old) > max(1.0, 0.1 * old)
        if not (moved or eta_moved):
            return False
        self.position, self.eta_s = position, eta_s
        self._event.set()
        return True

    def admit(self) -> None:
        if self.queued:
            self.status = WaiterStatus.ADMITTED
            self._event.set()

    def finish(self, reason: str) -> None:
        if self.queued:
            self.status, self.reason = WaiterStatus.GONE, reason
            self._event.set()


class LoginQueue:
    def __init__(
        self,
        realm: str,
        store: LoginQueueStore,
        registry: ServerRegistry,
        settings: QueueSettings,
        *,
        ticket_key: bytes,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], int] = wall_ms,
    ) -> None:
        self.realm = realm
        self.store = store
        self.registry = registry
        self.settings = settings
        self.limit = 0
        self.seats = 0
        self.length = 0
        self.rate_estimate = 0.0  # admissions from the queue per second (EWMA)
        self._clock = clock
        self._wall = wall
        self._key = tickets.derive_key(ticket_key)
        self._pending_ms = int(settings.pending_ttl_s * 1000)
        self._waiters: dict[int, Waiter] = {}
        self._schedule: list[tuple[float, int, Waiter]] = []  # (due, tie-break, waiter)
        self._order = itertools.count()
        self._cursor: str | None = None
        self._last_step: float | None = None
        self._unrated = 0  # admissions seen but not yet in the rate estimate
        self._capacity_due: float | None = None
        self._labels = (realm,)
        # Series exist from the start (at 0): the first admission and the first wait then
        # show as an increase, and the queue panels and alerts see an idle queue.
        metrics.LOGIN_QUEUE_LENGTH.labels(*self._labels).set(0)
        metrics.LOGIN_QUEUE_WAIT.labels(*self._labels)
        for path in LoginPath:
            if path is not LoginPath.SEATED:
                metrics.LOGIN_ADMISSIONS.labels(realm, path.value)

    # --- login --------------------------------------------------------------------------

    async def login(self, account_id: int) -> QueuedLogin | None:
        """None: admitted, a seat is held for the account. Otherwise where it waits."""
        try:
            if self._capacity_due is None:
                await self.refresh_capacity()
            result = await self.store.queue_login(
                self.realm, account_id, self.limit, self.settings.rate, self._pending_ms
            )
        except StorageError as e:
            log.warning("login queue unavailable: %s", e)
            raise AccountError("unavailable", "the login queue is unavailable", 503) from e
        if result.path is not None:
            if result.path is not LoginPath.SEATED:
                metrics.LOGIN_ADMISSIONS.labels(self.realm, result.path.value).inc()
            return None
        ticket = tickets.issue(self._key, account_id, self._wall())
        eta = eta_seconds(result.position, self.rate_estimate)
        return QueuedLogin(ticket, result.position, eta)

    def ticket_account(self, ticket: str) -> int | None:
        """The account a queue ticket belongs to, if it is genuine and not expired."""
        ttl_ms = int(self.settings.ticket_ttl_s * 1000)
        return tickets.verify(self._key, ticket, self._wall(), ttl_ms)

    # --- waiters ------------------------------------------------------------------------

    async def attach(self, account_id: int) -> Waiter:
        """Follow the account's place (a second follower replaces the first)."""
        old = self._waiters.pop(account_id, None)
        if old is not None:
            old.finish("followed from elsewhere")
        waiter = Waiter(account_id)
        self._waiters[account_id] = waiter
        await self._rerank([waiter], self._clock())
        return waiter

    async def detach(self, waiter: Waiter) -> None:
        """The client stopped following. One still queued has given up: it leaves the
        queue (a player who closes the queue screen is not waited for)."""
        if self._waiters.get(waiter.account_id) is waiter:
            del self._waiters[waiter.account_id]
            if waiter.queued:
                waiter.finish("left the queue")
                try:
                    await self.store.leave_queue(self.realm, waiter.account_id)
                except StorageError as e:
                    log.warning("could not take account %s off the queue: %s", waiter.account_id, e)

    @property
    def waiters(self) -> int:
        return len(self._waiters)

    # --- the loop -----------------------------------------------------------------------

    async def refresh_capacity(self) -> None:
        servers = await self.registry.servers(self.realm)
        self.limit = seat_limit(servers, self.settings.max_players)
        self.seats = await self.store.seats_in_use(self.realm)
        self._capacity_due = self._clock() + self.settings.capacity_every_s
        metrics.REALM_CAPACITY.labels(*self._labels).set(self.limit)
        metrics.ONLINE_PLAYERS.labels(*self._labels).set(self.seats)

    async def step(self) -> None:
        s = self.settings
        now = self._clock()
        dt = 0.0 if self._last_step is None else now - self._last_step
        self._last_step = now
        if self._cursor is None:  # before our first admission, so we read it back too
            self._cursor = await self.store.admission_cursor(self.realm)
        if self._capacity_due is None or now >= self._capacity_due:
            await self.refresh_capacity()

        admitted = await self.store.admit_queued(
            self.realm, self.limit, s.rate, self._pending_ms, s.batch
        )
        for a in admitted:
            metrics.LOGIN_ADMISSIONS.labels(self.realm, a.path.value).inc()
            metrics.LOGIN_QUEUE_WAIT.labels(*self._labels).observe(a.waited_s)

        seen = 0
        while True:
            logged, self._cursor = await self.store.admissions_since(self.realm, self._cursor)
            seen += len(logged)
            for a in logged:
                waiter = self._waiters.get(a.account_id)
                if waiter is not None:
                    waiter.admit()
            if len(logged) < 1000:
                break
        self._unrated += seen
        if dt > 0:  # the first round has no interval yet: its admissions count in the next
            self.rate_estimate = ewma_rate(self.rate_estimate, self._unrated, dt, s.eta_tau_s)
            self._unrated = 0

        due: list[Waiter] = []
        while self._schedule and self._schedule[0][0] <= now and len(due) < s.refresh_budget:
            _, _, waiter = heapq.heappop(self._schedule)
            if waiter.queued and self._waiters.get(waiter.account_id) is waiter:
                due.append(waiter)
        if due:
            await self._rerank(due, now)

        self.length = await self.store.queue_length(self.realm)
        metrics.LOGIN_QUEUE_LENGTH.labels(*self._labels).set(self.length)

    async def _rerank(self, waiters: list[Waiter], now: float) -> None:
        s = self.settings
        positions = await self.store.queue_positions(self.realm, [w.account_id for w in waiters])
        for waiter, position in zip(waiters, positions, strict=True):
            if position is None:
                # Not queued: admitted (perhaps before this gateway read the log), or gone.
                if await self.store.holds_seat(self.realm, waiter.account_id):
                    waiter.admit()
                else:
                    waiter.finish("no longer in the queue; log in again")
                continue
            waiter.update(position, eta_seconds(position, self.rate_estimate))
            interval = refresh_interval(
                position,
                self.rate_estimate,
                fraction=s.refresh_fraction,
                min_s=s.refresh_min_s,
                max_s=s.refresh_max_s,
            )
            heapq.heappush(self._schedule, (now + interval, next(self._order), waiter))

    async def run(self, stop: asyncio.Event) -> None:
        """Step every `tick_s` until `stop`; a storage outage costs rounds, not the loop."""
        while not stop.is_set():
            try:
                await self.step()
            except StorageError as e:
                log.warning("login queue round failed: %s", e)
            try:
                await asyncio.wait_for(stop.wait(), timeout=self.settings.tick_s)
            except TimeoutError:
                pass
        for waiter in list(self._waiters.values()):
            waiter.finish("the realm is shutting down")
