"""`HotState` on Redis, for the distributed realm.

Every read-check-write is one Lua script, because Redis runs a script atomically: a lease
is granted, renewed or released only if it is still the one the caller holds, and a
checkpoint lands only if no newer fence is stored. Time comes from Redis (`TIME` inside
the scripts), the single clock all region servers share, and key expiry (PX) makes an
abandoned lease or a dead server's heartbeat disappear on its own.

Keys (all under a configurable prefix, `realm:` by default, so tests and several realms
can share one Redis):

    lease:{<key>}          hash holder/fence/exp, PX = ttl
    lease:{<key>}:fence    last fence granted for <key> (kept forever, fences never repeat)
    ckpt:<character>       hash state/fence
    route:<account>        Route JSON
    server:{<realm>}:<id>  ServerHeartbeat JSON, PX = ttl
    servers:{<realm>}      set of server ids (pruned of expired ones on read)
    drain:{<realm>}:<id>   present when a drain was requested
    lq:{<realm>}:*         the login queue and seats (see `redis.loginqueue`)

The braces are cluster hash tags: the keys one script touches share a slot.

Fences are `max(last + 1, Redis time in microseconds)`: Redis here runs without
persistence, and a restarted Redis starting again at fence 1 would see every save refused
by the database (which remembers the larger fences of before). Time-based fences keep
beating them. Microseconds, not milliseconds, because a burst of grants on one key must
not run the counter ahead of the clock (one grant per microsecond per key is far beyond
any Redis round trip); 2^53, the largest integer Lua holds exactly, is in the year 2255.

Every command runs under a deadline (`op_timeout_s`) on top of the client's socket
timeouts, and a failure to reach Redis surfaces as `Unavailable`.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Awaitable, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from gameserver.storage._common import OpMetrics, dump_state, load_state, timed
from gameserver.storage.interfaces import StaleFence, Unavailable
from gameserver.storage.models import CharacterState, Lease, Route, ServerHeartbeat
from gameserver.storage.redis.loginqueue import RedisLoginQueue

T = TypeVar("T")

_NOW = """
local t = redis.call('TIME')
local now_us = tonumber(t[1]) * 1000000 + tonumber(t[2])
local now = math.floor(now_us / 1000)
"""

# KEYS: lease, fence counter. ARGV: holder, ttl_ms. -> {fence, expires_at_ms} or nil
_ACQUIRE = (
    _NOW
    + """
local holder = redis.call('HGET', KEYS[1], 'holder')
if holder and holder ~= ARGV[1] then return false end
local fence = math.max(tonumber(redis.call('GET', KEYS[2]) or '0') + 1, now_us)
local exp = now + tonumber(ARGV[2])
redis.call('SET', KEYS[2], string.format('%d', fence))
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'holder', ARGV[1], 'fence', string.format('%d', fence),
           'exp', string.format('%d', exp))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {fence, exp}
"""
)

# KEYS: lease. ARGV: holder, fence, ttl_ms. -> expires_at_ms or nil
_RENEW = (
    _NOW
    + """
local cur = redis.call('HMGET', KEYS[1], 'holder', 'fence')
if cur[1] ~= ARGV[1] or cur[2] ~= ARGV[2] then return false end
local exp = now + tonumber(ARGV[3])
redis.call('HSET', KEYS[1], 'exp', string.format('%d', exp))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return exp
"""
)

# KEYS: lease. ARGV: holder, fence. -> 1 released, 0 not the current lease
_RELEASE = """
local cur = redis.call('HMGET', KEYS[1], 'holder', 'fence')
if cur[1] ~= ARGV[1] or cur[2] ~= ARGV[2] then return 0 end
redis.call('DEL', KEYS[1])
return 1
"""

# KEYS: checkpoint. ARGV: state JSON, fence. -> -1 stored, else the larger stored fence
_PUT_CHECKPOINT = """
local cur = redis.call('HGET', KEYS[1], 'fence')
if cur and tonumber(cur) > tonumber(ARGV[2]) then return tonumber(cur) end
redis.call('HSET', KEYS[1], 'state', ARGV[1], 'fence', ARGV[2])
return -1
"""

# KEYS: index set. ARGV: server key prefix. -> heartbeat JSON of live servers
_SERVERS = """
local ids = redis.call('SMEMBERS', KEYS[1])
local out = {}
for _, id in ipairs(ids) do
  local beat = redis.call('GET', ARGV[1] .. id)
  if beat then table.insert(out, beat) else redis.call('SREM', KEYS[1], id) end
end
return out
"""


def describe_url(url: str) -> str:
    """`host:port` for error messages: where we tried, never the password."""
    parts = urlsplit(url)
    return f"{parts.hostname or 'localhost'}:{parts.port or 6379}"


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


class RedisHotState(RedisLoginQueue):
    """The distributed realm's `HotState`.

    `await RedisHotState.open(url, prefix="realm:")` pings Redis first and raises
    `Unavailable` naming the server when it is down.
    """

    def __init__(
        self,
        url: str,
        *,
        realm: str = "home",
        prefix: str = "realm:",
        op_timeout_s: float = 2.0,
        connect_timeout_s: float = 2.0,
    ) -> None:
        self.where = describe_url(url)
        self._p = prefix
        self._op_timeout_s = op_timeout_s
        self._client: Any = aioredis.Redis.from_url(
            url,
            decode_responses=True,
            socket_timeout=op_timeout_s,
            socket_connect_timeout=connect_timeout_s,
            health_check_interval=30,
        )
        self._acquire = self._client.register_script(_ACQUIRE)
        self._renew = self._client.register_script(_RENEW)
        self._release = self._client.register_script(_RELEASE)
        self._put_checkpoint = self._client.register_script(_PUT_CHECKPOINT)
        self._servers = self._client.register_script(_SERVERS)
        self._metrics = OpMetrics(realm, "redis")
        self._init_login_queue()

    @classmethod
    async def open(
        cls, url: str, *, realm: str = "home", prefix: str = "realm:", **options: Any
    ) -> RedisHotState:
        hot = cls(url, realm=realm, prefix=prefix, **options)
        try:
            await hot._call("ping", hot._client.ping())
        except Unavailable as exc:
            await hot.close()
            raise Unavailable(f"Redis at {hot.where} is unreachable: {exc.__cause__!r}") from exc
        return hot

    async def close(self) -> None:
        await self._client.aclose()

    async def _call(self, what: str, command: Awaitable[T]) -> T:
        """Await one Redis command under the operation deadline; outages become
        `Unavailable` (the client reconnects on the next command)."""
        try:
            async with asyncio.timeout(self._op_timeout_s):
                return await command
        except (TimeoutError, RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise Unavailable(f"Redis at {self.where}: {what} failed: {exc!r}") from exc

    # --- keys ------------------------------------------------------------------------

    def _lease_key(self, key: str) -> str:
        return f"{self._p}lease:{{{key}}}"

    def _server_prefix(self, realm: str) -> str:
        return f"{self._p}server:{{{realm}}}:"

    def _index_key(self, realm: str) -> str:
        return f"{self._p}servers:{{{realm}}}"

    def _drain_key(self, realm: str, server_id: str) -> str:
        return f"{self._p}drain:{{{realm}}}:{server_id}"

    # --- leases ----------------------------------------------------------------------

    @timed
    async def acquire(self, key: str, holder: str, ttl_ms: int) -> Lease | None:
        lease_key = self._lease_key(key)
        got = await self._call(
            "acquire",
            self._acquire(keys=[lease_key, f"{lease_key}:fence"], args=[holder, int(ttl_ms)]),
        )
        if not got:
            return None
        return Lease(key=key, holder=holder, fence=int(got[0]), expires_at_ms=int(got[1]))

    @timed
    async def renew(self, lease: Lease, ttl_ms: int) -> Lease | None:
        exp = await self._call(
            "renew",
            self._renew(
                keys=[self._lease_key(lease.key)],
                args=[lease.holder, str(lease.fence), int(ttl_ms)],
            ),
        )
        if exp is None:
            return None
        return lease.model_copy(update={"expires_at_ms": int(exp)})

    @timed
    async def release(self, lease: Lease) -> bool:
        done = await self._call(
            "release",
            self._release(keys=[self._lease_key(lease.key)], args=[lease.holder, str(lease.fence)]),
        )
        return bool(done)

    @timed
    async def get(self, key: str) -> Lease | None:
        holder, fence, exp = await self._call(
            "get", self._client.hmget(self._lease_key(key), ["holder", "fence", "exp"])
        )
        if holder is None or fence is None or exp is None:
            return None
        return Lease(key=key, holder=holder, fence=int(fence), expires_at_ms=int(exp))

    # --- checkpoints -----------------------------------------------------------------

    @timed
    async def put_checkpoint(self, character_id: int, state: CharacterState, fence: int) -> None:
        stored = await self._call(
            "put_checkpoint",
            self._put_checkpoint(
                keys=[f"{self._p}ckpt:{character_id}"], args=[dump_state(state), int(fence)]
            ),
        )
        if int(stored) != -1:
            raise StaleFence(
                f"checkpoint for character {character_id} with fence {fence} refused:"
                f" one with fence {stored} is stored"
            )

    @timed
    async def put_checkpoints(
        self, checkpoints: Sequence[tuple[int, CharacterState, int]]
    ) -> list[int]:
        if not checkpoints:
            return []
        pipe = self._client.pipeline(transaction=False)
        for character_id, state, fence in checkpoints:  # queued, sent by execute()
            await self._put_checkpoint(
                keys=[f"{self._p}ckpt:{character_id}"],
                args=[dump_state(state), int(fence)],
                client=pipe,
            )
        stored = await self._call("put_checkpoints", pipe.execute())
        return [cid for (cid, _, _), s in zip(checkpoints, stored, strict=True) if int(s) != -1]

    @timed
    async def get_checkpoint(self, character_id: int) -> tuple[CharacterState, int] | None:
        key = f"{self._p}ckpt:{character_id}"
        command = self._client.hmget(key, ["state", "fence"])
        state, fence = await self._call("get_checkpoint", command)
        if state is None or fence is None:
            return None
        return load_state(state), int(fence)

    @timed
    async def delete_checkpoint(self, character_id: int) -> None:
        await self._call("delete_checkpoint", self._client.delete(f"{self._p}ckpt:{character_id}"))

    # --- routes ----------------------------------------------------------------------

    @timed
    async def set_route(self, route: Route) -> None:
        key = f"{self._p}route:{route.account_id}"
        old = await self._call("set_route", self._client.get(key))
        pipe = self._client.pipeline(transaction=True)
        pipe.set(key, route.model_dump_json())
        if old is not None:
            pipe.srem(
                self._routes_index(Route.model_validate_json(old).server_id), route.account_id
            )
        pipe.sadd(self._routes_index(route.server_id), route.account_id)
        await self._call("set_route", pipe.execute())

    def _routes_index(self, server_id: str) -> str:
        return f"{self._p}routes-on:{server_id}"

    @timed
    async def get_route(self, account_id: int) -> Route | None:
        raw = await self._call("get_route", self._client.get(f"{self._p}route:{account_id}"))
        return Route.model_validate_json(raw) if raw is not None else None

    @timed
    async def clear_route(self, account_id: int) -> None:
        key = f"{self._p}route:{account_id}"
        old = await self._call("clear_route", self._client.get(key))
        pipe = self._client.pipeline(transaction=True)
        pipe.delete(key)
        if old is not None:
            pipe.srem(self._routes_index(Route.model_validate_json(old).server_id), account_id)
        await self._call("clear_route", pipe.execute())

    @timed
    async def routes_on(self, server_id: str) -> list[Route]:
        ids = await self._call("routes_on", self._client.smembers(self._routes_index(server_id)))
        if not ids:
            return []
        raws = await self._call(
            "routes_on", self._client.mget([f"{self._p}route:{i}" for i in sorted(ids)])
        )
        routes = [Route.model_validate_json(r) for r in raws if r is not None]
        return [r for r in routes if r.server_id == server_id]

    @timed
    async def break_lease(self, key: str) -> None:
        # Drop it now; its fence counter is a separate key, so the next grant's fence is
        # larger and a holder that is not dead after all can never save over the new one.
        await self._call("break_lease", self._client.delete(self._lease_key(key)))

    # --- server registry -------------------------------------------------------------

    @timed
    async def heartbeat(self, beat: ServerHeartbeat, ttl_ms: int) -> None:
        pipe = self._client.pipeline(transaction=True)
        pipe.set(
            self._server_prefix(beat.realm) + beat.server_id, beat.model_dump_json(), px=int(ttl_ms)
        )
        pipe.sadd(self._index_key(beat.realm), beat.server_id)
        await self._call("heartbeat", pipe.execute())

    @timed
    async def servers(self, realm: str) -> list[ServerHeartbeat]:
        raw = await self._call(
            "servers",
            self._servers(keys=[self._index_key(realm)], args=[self._server_prefix(realm)]),
        )
        beats = [ServerHeartbeat.model_validate_json(b) for b in raw]
        return sorted(beats, key=lambda beat: beat.server_id)

    @timed
    async def remove(self, realm: str, server_id: str) -> None:
        pipe = self._client.pipeline(transaction=True)
        pipe.delete(self._server_prefix(realm) + server_id, self._drain_key(realm, server_id))
        pipe.srem(self._index_key(realm), server_id)
        await self._call("remove", pipe.execute())

    @timed
    async def request_drain(self, realm: str, server_id: str) -> None:
        await self._call("request_drain", self._client.set(self._drain_key(realm, server_id), "1"))

    @timed
    async def drain_requested(self, realm: str, server_id: str) -> bool:
        found = await self._call(
            "drain_requested", self._client.exists(self._drain_key(realm, server_id))
        )
        return bool(found)

    def _lockout_key(self, realm: str, character_id: int, template: str) -> str:
        return f"{self._p}lockout:{{{realm}}}:{character_id}:{template}"

    @timed
    async def set_lockout(
        self, realm: str, character_id: int, template: str, instance_id: str, ttl_ms: int
    ) -> None:
        key = self._lockout_key(realm, character_id, template)
        await self._call("set_lockout", self._client.set(key, instance_id, px=int(ttl_ms)))

    @timed
    async def get_lockout(self, realm: str, character_id: int, template: str) -> str | None:
        key = self._lockout_key(realm, character_id, template)
        found = await self._call("get_lockout", self._client.get(key))
        return None if found is None else str(found)

    def _border_key(self, realm: str, region: str) -> str:
        return f"{self._p}border:{{{realm}}}:{region}"

    @timed
    async def publish_border(
        self, realm: str, region: str, server_id: str, payload: bytes, ttl_ms: int
    ) -> None:
        # One hash per region, a field per server; each value leads with its expiry (ms),
        # so readers skip a dead server's last payload without a key per server. The
        # client decodes responses as text, hence base64.
        value = f"{_wall_ms() + int(ttl_ms)}:{base64.b64encode(payload).decode()}"
        key = self._border_key(realm, region)
        pipe = self._client.pipeline(transaction=False)
        pipe.hset(key, server_id, value)
        pipe.pexpire(key, max(int(ttl_ms) * 10, 10_000))
        await self._call("publish_border", pipe.execute())

    @timed
    async def border_feeds(self, realm: str, regions: list[str]) -> list[tuple[str, bytes]]:
        pipe = self._client.pipeline(transaction=False)
        for region in regions:
            pipe.hgetall(self._border_key(realm, region))
        maps = await self._call("border_feeds", pipe.execute())
        now = _wall_ms()
        out: list[tuple[str, bytes]] = []
        for fields in maps:
            for server_id, value in fields.items():
                expires, _, data = str(value).partition(":")
                if expires.isdigit() and int(expires) > now:
                    out.append((str(server_id), base64.b64decode(data)))
        return out
