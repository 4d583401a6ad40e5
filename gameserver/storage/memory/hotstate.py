"""`HotState` in this process's memory, for the embedded realm.

Everything here is what a distributed realm keeps in Redis: leases, checkpoints, routes,
heartbeats, drain flags. The embedded realm runs in one process, so plain dictionaries
are the whole implementation; the methods are still `async` and still follow Redis's
semantics (expiry judged at read time, fences that only grow) so that game logic tested
against this store behaves the same against Redis.

Time comes from an injected `clock` (milliseconds), so tests move time instead of
sleeping.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from gameserver.storage._common import OpMetrics, timed, wall_clock_ms
from gameserver.storage.interfaces import StaleFence
from gameserver.storage.memory.loginqueue import MemoryLoginQueue, RealmQueue
from gameserver.storage.models import CharacterState, Lease, Route, ServerHeartbeat


@dataclass
class _Beat:
    beat: ServerHeartbeat
    expires_at_ms: int


class MemoryHotState(MemoryLoginQueue):
    """The embedded realm's `HotState`. `clock` returns milliseconds; the default is wall
    time advanced by the monotonic clock (see `wall_clock_ms`)."""

    def __init__(self, clock: Callable[[], int] | None = None, *, realm: str = "home") -> None:
        self._clock = clock if clock is not None else wall_clock_ms()
        self._leases: dict[str, Lease] = {}
        # Last fence granted per key; kept after release/expiry so fences never repeat.
        self._fences: dict[str, int] = {}
        self._checkpoints: dict[int, tuple[CharacterState, int]] = {}
        self._routes: dict[int, Route] = {}
        self._beats: dict[tuple[str, str], _Beat] = {}
        self._drains: set[tuple[str, str]] = set()
        self._borders: dict[tuple[str, str], dict[str, tuple[int, bytes]]] = {}
        self._lockouts: dict[tuple[str, int, str], tuple[int, str]] = {}
        self._metrics = OpMetrics(realm, "memory")
        self._login_queues: dict[str, RealmQueue] = {}  # see MemoryLoginQueue

    async def close(self) -> None:
        """Nothing to release; present so the realm closes every store the same way."""

    # --- leases ----------------------------------------------------------------------

    def _live(self, key: str, now: int) -> Lease | None:
        lease = self._leases.get(key)
        if lease is not None and lease.expires_at_ms <= now:
            del self._leases[key]
            return None
        return lease

    @timed
    async def acquire(self, key: str, holder: str, ttl_ms: int) -> Lease | None:
        now = self._clock()
        current = self._live(key, now)
        if current is not None and current.holder != holder:
            return None
        # At least the clock in microseconds: a restarted process (empty dicts) still hands
        # out fences larger than those its predecessor wrote into the database, even if it
        # granted many leases on this key within one millisecond.
        fence = max(self._fences.get(key, 0) + 1, now * 1000)
        self._fences[key] = fence
        lease = Lease(key=key, holder=holder, fence=fence, expires_at_ms=now + ttl_ms)
        self._leases[key] = lease
        return lease

    @timed
    async def renew(self, lease: Lease, ttl_ms: int) -> Lease | None:
        now = self._clock()
        current = self._live(lease.key, now)
        if current is None or current.holder != lease.holder or current.fence != lease.fence:
            return None
        renewed = current.model_copy(update={"expires_at_ms": now + ttl_ms})
        self._leases[lease.key] = renewed
        return renewed

    @timed
    async def release(self, lease: Lease) -> bool:
        current = self._live(lease.key, self._clock())
        if current is None or current.holder != lease.holder or current.fence != lease.fence:
            return False
        del self._leases[lease.key]
        return True

    @timed
    async def get(self, key: str) -> Lease | None:
        return self._live(key, self._clock())

    # --- checkpoints -----------------------------------------------------------------

    @timed
    async def put_checkpoint(self, character_id: int, state: CharacterState, fence: int) -> None:
        stored = self._checkpoints.get(character_id)
        if stored is not None and stored[1] > fence:
            raise StaleFence(
                f"checkpoint for character {character_id} with fence {fence} refused:"
                f" one with fence {stored[1]} is stored"
            )
        self._checkpoints[character_id] = (state, fence)

    @timed
    async def put_checkpoints(
        self, checkpoints: Sequence[tuple[int, CharacterState, int]]
    ) -> list[int]:
        refused = []
        for character_id, state, fence in checkpoints:
            stored = self._checkpoints.get(character_id)
            if stored is not None and stored[1] > fence:
                refused.append(character_id)
            else:
                self._checkpoints[character_id] = (state, fence)
        return refused

    @timed
    async def get_checkpoint(self, character_id: int) -> tuple[CharacterState, int] | None:
        return self._checkpoints.get(character_id)

    @timed
    async def delete_checkpoint(self, character_id: int) -> None:
        self._checkpoints.pop(character_id, None)

    # --- routes ----------------------------------------------------------------------

    @timed
    async def set_route(self, route: Route) -> None:
        self._routes[route.account_id] = route

    @timed
    async def get_route(self, account_id: int) -> Route | None:
        return self._routes.get(account_id)

    @timed
    async def routes_on(self, server_id: str) -> list[Route]:
        return [r for r in self._routes.values() if r.server_id == server_id]

    async def break_lease(self, key: str) -> None:
        lease = self._leases.get(key)
        if lease is not None:
            self._leases[key] = lease.model_copy(update={"expires_at_ms": 0})

    async def clear_route(self, account_id: int) -> None:
        self._routes.pop(account_id, None)

    # --- server registry -------------------------------------------------------------

    @timed
    async def heartbeat(self, beat: ServerHeartbeat, ttl_ms: int) -> None:
        self._beats[(beat.realm, beat.server_id)] = _Beat(beat, self._clock() + ttl_ms)

    @timed
    async def servers(self, realm: str) -> list[ServerHeartbeat]:
        now = self._clock()
        expired = [k for k, b in self._beats.items() if b.expires_at_ms <= now]
        for k in expired:
            del self._beats[k]
        return sorted(
            (b.beat for (r, _), b in self._beats.items() if r == realm),
            key=lambda beat: beat.server_id,
        )

    @timed
    async def remove(self, realm: str, server_id: str) -> None:
        self._beats.pop((realm, server_id), None)
        self._drains.discard((realm, server_id))

    @timed
    async def request_drain(self, realm: str, server_id: str) -> None:
        self._drains.add((realm, server_id))

    @timed
    async def drain_requested(self, realm: str, server_id: str) -> bool:
        return (realm, server_id) in self._drains


    async def set_lockout(
        self, realm: str, character_id: int, template: str, instance_id: str, ttl_ms: int
    ) -> None:
        self._lockouts[(realm, character_id, template)] = (self._clock() + ttl_ms, instance_id)

    async def get_lockout(self, realm: str, character_id: int, template: str) -> str | None:
        found = self._lockouts.get((realm, character_id, template))
        if found is None or found[0] <= self._clock():
            self._lockouts.pop((realm, character_id, template), None)
            return None
        return found[1]

    async def publish_border(
        self, realm: str, region: str, server_id: str, payload: bytes, ttl_ms: int
    ) -> None:
        feeds = self._borders.setdefault((realm, region), {})
        feeds[server_id] = (self._clock() + ttl_ms, bytes(payload))

    async def border_feeds(self, realm: str, regions: list[str]) -> list[tuple[str, bytes]]:
        now = self._clock()
        out: list[tuple[str, bytes]] = []
        for region in regions:
            feeds = self._borders.get((realm, region), {})
            for server_id, (expires, payload) in list(feeds.items()):
                if expires <= now:
                    del feeds[server_id]
                else:
                    out.append((server_id, payload))
        return out