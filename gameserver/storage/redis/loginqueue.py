"""The login queue and seats on Redis (the distributed realm's backend).

A mixin of `RedisHotState`. Several gateways share one queue, so every read-decide-write
is one Lua script (atomic in Redis), mirroring the rule in `gameserver.storage.loginqueue`
(`refill`, `admission_budget`); time is Redis's `TIME`, one clock for every gateway.

Keys, per realm (the `{realm}` hash tag keeps them in one cluster slot for the scripts):

    lq:{<realm>}:queue   sorted set: account -> ticket (grace tickets are negative)
    lq:{<realm>}:info    hash: account -> "<ticket>:<enqueued ms>"
    lq:{<realm>}:seq     last ordinary ticket (INCR)
    lq:{<realm>}:gseq    last grace ticket sequence (INCR)
    lq:{<realm>}:seats   sorted set: account -> seat expiry ms (2**52 once confirmed)
    lq:{<realm>}:grace   sorted set: account -> grace expiry ms
    lq:{<realm>}:bucket  hash: tokens, ms (the admission token bucket)
    lq:{<realm>}:log     stream of admissions (capped near LOG_LIMIT entries)

Costs, with n queued: a place is ZRANK, O(log n); joining is ZADD, O(log n); admitting k
players is ZPOPMIN k plus k ZADDs, O(k log n); expired seats and grace entries leave
through ZREMRANGEBYSCORE, O(log m) per entry removed. Nothing walks the queue.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from gameserver.storage._common import OpMetrics, timed
from gameserver.storage.loginqueue import (
    CONFIRMED_SEAT_MS,
    GRACE_OFFSET,
    AdmissionRate,
    Admitted,
    LoginPath,
    LoginResult,
)

T = TypeVar("T")

LOG_LIMIT = 10_000

_PRELUDE = f"""
local t = redis.call('TIME')
local now = math.floor((tonumber(t[1]) * 1000000 + tonumber(t[2])) / 1000)
local GRACE_OFFSET = {GRACE_OFFSET}
local function fmt(x) return string.format('%d', x) end
local function take_tokens(per_s, burst)
  local b = redis.call('HMGET', KEYS[7], 'tokens', 'ms')
  local tokens = tonumber(b[1]) or burst
  local last = tonumber(b[2]) or 0
  tokens = math.min(burst, tokens + math.max(0, now - last) * per_s / 1000.0)
  return tokens, math.max(last, now)
end
local function save_tokens(tokens, ms)
  redis.call('HSET', KEYS[7], 'tokens', string.format('%.17g', tokens), 'ms', fmt(ms))
end
"""

# KEYS: queue info seq gseq seats grace bucket log
# ARGV: account, limit, per_s, burst, pending_ttl_ms -> {kind, ticket, position}
_LOGIN = _PRELUDE + """
local acc = ARGV[1]
redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', now)
if redis.call('ZSCORE', KEYS[5], acc) then return {'seated', 0, 0} end
local queued = redis.call('ZSCORE', KEYS[1], acc)
if queued then return {'queued', queued, redis.call('ZRANK', KEYS[1], acc) + 1} end
redis.call('ZREMRANGEBYSCORE', KEYS[6], '-inf', now)
local grace = redis.call('ZREM', KEYS[6], acc) == 1
local ahead
if grace then
  local head = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  ahead = #head > 0 and tonumber(head[2]) < 0
else
  ahead = redis.call('ZCARD', KEYS[1]) > 0
end
if not ahead and redis.call('ZCARD', KEYS[5]) < tonumber(ARGV[2]) then
  local tokens, ms = take_tokens(tonumber(ARGV[3]), tonumber(ARGV[4]))
  if tokens >= 1 then
    save_tokens(tokens - 1, ms)
    redis.call('ZADD', KEYS[5], fmt(now + tonumber(ARGV[5])), acc)
    if grace then return {'grace', 0, 0} end
    return {'free_seat', 0, 0}
  end
  save_tokens(tokens, ms)
end
local ticket
if grace then
  ticket = redis.call('INCR', KEYS[4]) - GRACE_OFFSET
else
  ticket = redis.call('INCR', KEYS[3])
end
redis.call('ZADD', KEYS[1], fmt(ticket), acc)
redis.call('HSET', KEYS[2], acc, fmt(ticket) .. ':' .. fmt(now))
return {'queued', fmt(ticket), redis.call('ZRANK', KEYS[1], acc) + 1}
"""

# KEYS: queue info seq gseq seats grace bucket log
# ARGV: limit, per_s, burst, pending_ttl_ms, max_n, log_limit
# -> {now, account, ticket, since, account, ticket, since, ...}
_ADMIT = _PRELUDE + """
redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', now)
local used = redis.call('ZCARD', KEYS[5])
local waiting = redis.call('ZCARD', KEYS[1])
local tokens, ms = take_tokens(tonumber(ARGV[2]), tonumber(ARGV[3]))
local n = math.min(tonumber(ARGV[1]) - used, math.floor(tokens), waiting, tonumber(ARGV[5]))
if n <= 0 then
  save_tokens(tokens, ms)
  return {fmt(now)}
end
local popped = redis.call('ZPOPMIN', KEYS[1], n)
local out = {fmt(now)}
local expires = fmt(now + tonumber(ARGV[4]))
for i = 1, #popped, 2 do
  local acc, ticket = popped[i], fmt(tonumber(popped[i + 1]))
  local info = redis.call('HGET', KEYS[2], acc) or ''
  redis.call('HDEL', KEYS[2], acc)
  local since = string.match(info, ':(%-?%d+)$') or fmt(now)
  redis.call('ZADD', KEYS[5], expires, acc)
  redis.call('XADD', KEYS[8], 'MAXLEN', '~', ARGV[6], '*',
             'a', acc, 't', ticket, 's', since, 'n', fmt(now))
  table.insert(out, acc)
  table.insert(out, ticket)
  table.insert(out, since)
end
save_tokens(tokens - n, ms)
return out
"""

# KEYS: seats. ARGV: account, confirmed score -> 1 confirmed, 0 no seat
_CONFIRM = _PRELUDE + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
return 1
"""

# KEYS: seats grace. ARGV: account, grace_ms -> 1 released, 0 no seat
_RELEASE = _PRELUDE + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
local grace = tonumber(ARGV[2])
if grace > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
  redis.call('ZADD', KEYS[2], fmt(now + grace), ARGV[1])
end
return 1
"""

# KEYS: seats. ARGV: account or '' -> seated (0/1) for the account, or the seat count
_SEATS = _PRELUDE + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if ARGV[1] == '' then return redis.call('ZCARD', KEYS[1]) end
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 1 end
return 0
"""


def _ticket(raw: Any) -> int:
    return int(float(raw)) if isinstance(raw, str) and not raw.lstrip("-").isdigit() else int(raw)


class RedisLoginQueue:
    """`LoginQueueStore` for `RedisHotState` (which provides `_client`, `_p`, `_call`)."""

    _client: Any
    _p: str
    _metrics: OpMetrics

    if TYPE_CHECKING:

        async def _call(self, what: str, command: Awaitable[T]) -> T: ...

    def _init_login_queue(self) -> None:
        self._lq_login = self._client.register_script(_LOGIN)
        self._lq_admit = self._client.register_script(_ADMIT)
        self._lq_confirm = self._client.register_script(_CONFIRM)
        self._lq_release = self._client.register_script(_RELEASE)
        self._lq_seats = self._client.register_script(_SEATS)

    def _lq_key(self, realm: str, name: str) -> str:
        return f"{self._p}lq:{{{realm}}}:{name}"

    def _lq_keys(self, realm: str) -> list[str]:
        names = ("queue", "info", "seq", "gseq", "seats", "grace", "bucket", "log")
        return [self._lq_key(realm, n) for n in names]

    @timed
    async def queue_login(
        self, realm: str, account_id: int, limit: int, rate: AdmissionRate, pending_ttl_ms: int
    ) -> LoginResult:
        kind, ticket, position = await self._call(
            "queue_login",
            self._lq_login(
                keys=self._lq_keys(realm),
                args=[account_id, limit, repr(rate.per_second), rate.burst, pending_ttl_ms],
            ),
        )
        if kind == "queued":
            return LoginResult(None, _ticket(ticket), int(position))
        return LoginResult(LoginPath(kind))

    @timed
    async def admit_queued(
        self, realm: str, limit: int, rate: AdmissionRate, pending_ttl_ms: int, max_n: int
    ) -> list[Admitted]:
        raw = await self._call(
            "admit_queued",
            self._lq_admit(
                keys=self._lq_keys(realm),
                args=[limit, repr(rate.per_second), rate.burst, pending_ttl_ms, max_n, LOG_LIMIT],
            ),
        )
        now = int(raw[0])
        return [
            Admitted(int(raw[i]), _ticket(raw[i + 1]), int(raw[i + 2]), now)
            for i in range(1, len(raw), 3)
        ]

    @timed
    async def queue_positions(self, realm: str, account_ids: Sequence[int]) -> list[int | None]:
        if not account_ids:
            return []
        key = self._lq_key(realm, "queue")
        pipe = self._client.pipeline(transaction=False)
        for account in account_ids:
            pipe.zrank(key, account)
        ranks = await self._call("queue_positions", pipe.execute())
        return [None if r is None else int(r) + 1 for r in ranks]

    @timed
    async def queue_length(self, realm: str) -> int:
        n = await self._call("queue_length", self._client.zcard(self._lq_key(realm, "queue")))
        return int(n)

    @timed
    async def leave_queue(self, realm: str, account_id: int) -> bool:
        pipe = self._client.pipeline(transaction=True)
        pipe.zrem(self._lq_key(realm, "queue"), account_id)
        pipe.hdel(self._lq_key(realm, "info"), account_id)
        removed, _ = await self._call("leave_queue", pipe.execute())
        return bool(removed)

    @timed
    async def confirm_seat(self, realm: str, account_id: int) -> bool:
        done = await self._call(
            "confirm_seat",
            self._lq_confirm(
                keys=[self._lq_key(realm, "seats")], args=[account_id, CONFIRMED_SEAT_MS]
            ),
        )
        return bool(done)

    @timed
    async def release_seat(self, realm: str, account_id: int, grace_ms: int) -> bool:
        done = await self._call(
            "release_seat",
            self._lq_release(
                keys=[self._lq_key(realm, "seats"), self._lq_key(realm, "grace")],
                args=[account_id, int(grace_ms)],
            ),
        )
        return bool(done)

    @timed
    async def holds_seat(self, realm: str, account_id: int) -> bool:
        found = await self._call(
            "holds_seat",
            self._lq_seats(keys=[self._lq_key(realm, "seats")], args=[account_id]),
        )
        return bool(found)

    @timed
    async def seats_in_use(self, realm: str) -> int:
        n = await self._call(
            "seats_in_use", self._lq_seats(keys=[self._lq_key(realm, "seats")], args=[""])
        )
        return int(n)

    @timed
    async def admission_cursor(self, realm: str) -> str:
        last = await self._call(
            "admission_cursor",
            self._client.xrevrange(self._lq_key(realm, "log"), "+", "-", count=1),
        )
        return str(last[0][0]) if last else "0-0"

    @timed
    async def admissions_since(
        self, realm: str, cursor: str, limit: int = 1000
    ) -> tuple[list[Admitted], str]:
        entries = await self._call(
            "admissions_since",
            self._client.xrange(self._lq_key(realm, "log"), f"({cursor}", "+", count=limit),
        )
        out = [
            Admitted(int(f["a"]), _ticket(f["t"]), int(f["s"]), int(f["n"])) for _, f in entries
        ]
        return out, (str(entries[-1][0]) if entries else cursor)
