"""The login queue and seats in this process's memory (the embedded realm's backend).

A mixin of `MemoryHotState`. Each method runs without awaiting anything, so under asyncio
it is as atomic as the Redis backend's Lua scripts. Costs, with n queued players:

- place in the queue: O(log n) (`TicketRanks.rank`);
- join, leave, admit one: O(log n); a batch of k admissions O(k log n);
- expired pending seats and grace entries leave through heaps ordered by expiry, so
  cleaning up is O(log m) per entry that expires, never a scan.

Two `TicketRanks` hold the two lanes: grace tickets (negative, see `GRACE_OFFSET`) and
ordinary ones; a place in the ordinary lane is counted after every grace ticket.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from gameserver.storage._common import OpMetrics, timed
from gameserver.storage.loginqueue import (
    CONFIRMED_SEAT_MS,
    GRACE_OFFSET,
    AdmissionRate,
    Admitted,
    LoginPath,
    LoginResult,
    admission_budget,
    refill,
)
from gameserver.storage.memory.ranks import TicketRanks

# Admissions kept in the log for gateways to read (a gateway that falls further behind
# than this misses some; its waiters still learn of admission when their place is asked).
LOG_LIMIT = 10_000


@dataclass
class RealmQueue:
    main: TicketRanks = field(default_factory=TicketRanks)
    grace: TicketRanks = field(default_factory=TicketRanks)
    seq: int = 0
    grace_seq: int = 0
    entries: dict[int, tuple[int, int]] = field(default_factory=dict)  # account: ticket, since
    holders: dict[int, int] = field(default_factory=dict)  # ticket: account
    seats: dict[int, int] = field(default_factory=dict)  # account: expires at (ms)
    seat_expiry: list[tuple[int, int]] = field(default_factory=list)  # heap (expiry, account)
    grace_until: dict[int, int] = field(default_factory=dict)  # account: expires at (ms)
    grace_expiry: list[tuple[int, int]] = field(default_factory=list)
    tokens: float | None = None  # None: a full bucket (never used yet)
    bucket_ms: int = 0
    log: list[Admitted] = field(default_factory=list)
    log_base: int = 0  # log index of log[0]

    def position(self, ticket: int) -> int | None:
        if ticket < 0:
            return self.grace.rank(ticket + GRACE_OFFSET)
        rank = self.main.rank(ticket)
        return None if rank is None else len(self.grace) + rank

    def length(self) -> int:
        return len(self.grace) + len(self.main)

    def prune(self, now: int) -> None:
        """Drop pending seats and grace entries whose time is up (lazily, by heap)."""
        while self.seat_expiry and self.seat_expiry[0][0] <= now:
            expiry, account = heapq.heappop(self.seat_expiry)
            if self.seats.get(account) == expiry:
                del self.seats[account]
        while self.grace_expiry and self.grace_expiry[0][0] <= now:
            expiry, account = heapq.heappop(self.grace_expiry)
            if self.grace_until.get(account) == expiry:
                del self.grace_until[account]

    def seat(self, account: int, expires_at: int) -> None:
        self.seats[account] = expires_at
        heapq.heappush(self.seat_expiry, (expires_at, account))

    def take_tokens(self, now: int, rate: AdmissionRate) -> float:
        tokens = float(rate.burst) if self.tokens is None else self.tokens
        self.tokens = refill(tokens, self.bucket_ms, now, rate)
        self.bucket_ms = max(self.bucket_ms, now)
        return self.tokens

    def dequeue(self, ticket: int) -> tuple[int, int]:
        account = self.holders.pop(ticket)
        _, since = self.entries.pop(account)
        if ticket < 0:
            self.grace.discard(ticket + GRACE_OFFSET)
        else:
            self.main.discard(ticket)
        return account, since

    def head(self) -> int | None:
        first = self.grace.first()
        if first is not None:
            return first - GRACE_OFFSET
        return self.main.first()


class MemoryLoginQueue:
    """`LoginQueueStore` for `MemoryHotState` (which provides `_clock` and `_metrics`)."""

    _clock: Callable[[], int]
    _metrics: OpMetrics
    _login_queues: dict[str, RealmQueue]

    def _lq(self, realm: str) -> RealmQueue:
        q = self._login_queues.get(realm)
        if q is None:
            q = self._login_queues[realm] = RealmQueue()
        return q

    @timed
    async def queue_login(
        self, realm: str, account_id: int, limit: int, rate: AdmissionRate, pending_ttl_ms: int
    ) -> LoginResult:
        q = self._lq(realm)
        now = self._clock()
        q.prune(now)
        if account_id in q.seats:
            return LoginResult(LoginPath.SEATED)
        entry = q.entries.get(account_id)
        if entry is not None:
            return LoginResult(None, entry[0], q.position(entry[0]) or 0)
        grace = q.grace_until.pop(account_id, None) is not None
        ahead = len(q.grace) if grace else q.length()
        if ahead == 0 and admission_budget(len(q.seats), limit, q.take_tokens(now, rate), 1, 1):
            q.tokens = (q.tokens or 0.0) - 1
            q.seat(account_id, now + pending_ttl_ms)
            return LoginResult(LoginPath.GRACE if grace else LoginPath.FREE_SEAT)
        if grace:
            q.grace_seq += 1
            q.grace.add(q.grace_seq)
            ticket = q.grace_seq - GRACE_OFFSET
        else:
            q.seq += 1
            q.main.add(q.seq)
            ticket = q.seq
        q.entries[account_id] = (ticket, now)
        q.holders[ticket] = account_id
        return LoginResult(None, ticket, q.position(ticket) or 0)

    @timed
    async def admit_queued(
        self, realm: str, limit: int, rate: AdmissionRate, pending_ttl_ms: int, max_n: int
    ) -> list[Admitted]:
        q = self._lq(realm)
        now = self._clock()
        q.prune(now)
        n = admission_budget(len(q.seats), limit, q.take_tokens(now, rate), q.length(), max_n)
        out: list[Admitted] = []
        for _ in range(n):
            ticket = q.head()
            assert ticket is not None  # n <= queue length
            account, since = q.dequeue(ticket)
            q.seat(account, now + pending_ttl_ms)
            out.append(Admitted(account, ticket, since, now))
        if n:
            q.tokens = (q.tokens or 0.0) - n
            q.log.extend(out)
            if len(q.log) > LOG_LIMIT:
                drop = len(q.log) - LOG_LIMIT
                del q.log[:drop]
                q.log_base += drop
        return out

    @timed
    async def queue_positions(self, realm: str, account_ids: Sequence[int]) -> list[int | None]:
        q = self._lq(realm)
        out: list[int | None] = []
        for account in account_ids:
            entry = q.entries.get(account)
            out.append(None if entry is None else q.position(entry[0]))
        return out

    @timed
    async def queue_length(self, realm: str) -> int:
        return self._lq(realm).length()

    @timed
    async def leave_queue(self, realm: str, account_id: int) -> bool:
        q = self._lq(realm)
        entry = q.entries.get(account_id)
        if entry is None:
            return False
        q.dequeue(entry[0])
        return True

    @timed
    async def confirm_seat(self, realm: str, account_id: int) -> bool:
        q = self._lq(realm)
        q.prune(self._clock())
        if account_id not in q.seats:
            return False
        q.seats[account_id] = CONFIRMED_SEAT_MS
        return True

    @timed
    async def release_seat(self, realm: str, account_id: int, grace_ms: int) -> bool:
        q = self._lq(realm)
        now = self._clock()
        q.prune(now)
        if q.seats.pop(account_id, None) is None:
            return False
        if grace_ms > 0:
            q.grace_until[account_id] = now + grace_ms
            heapq.heappush(q.grace_expiry, (now + grace_ms, account_id))
        return True

    @timed
    async def holds_seat(self, realm: str, account_id: int) -> bool:
        q = self._lq(realm)
        q.prune(self._clock())
        return account_id in q.seats

    @timed
    async def seats_in_use(self, realm: str) -> int:
        q = self._lq(realm)
        q.prune(self._clock())
        return len(q.seats)

    @timed
    async def admission_cursor(self, realm: str) -> str:
        q = self._lq(realm)
        return str(q.log_base + len(q.log))

    @timed
    async def admissions_since(
        self, realm: str, cursor: str, limit: int = 1000
    ) -> tuple[list[Admitted], str]:
        q = self._lq(realm)
        start = max(int(cursor), q.log_base) - q.log_base
        batch = q.log[start : start + limit]
        return batch, str(q.log_base + start + len(batch))
