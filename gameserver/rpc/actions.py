"""The RWAM's view of a distributed realm: notices to RCMs, economy on region servers.

`RealmActions` needs a `Notifier` (reach a player) and a `World` (the server holding a
character's live gold/items, who stands near a speaker, where a party member is). In the
embedded realm those are the RCM and the region server objects; here both are found
through the player's route in the hot store (keyed by account: the RWAM learns a
character's account from the presence reports the RCM sends with `CharacterEntered`).

- `RouteNotifier.notify` is synchronous (the `Notifier` seam): it queues the notice, and
  one sender task resolves the route and hands it to the `RcmClient` of the route's `rcm`
  (its gRPC address), which sends the calls to one RCM in order.
- `RemoteWorld.holder` answers a `RemoteHolder` for an online character; its
  `run_economy` opens `Region.Economy` on the server named in the route: the server takes
  the character's save lock and lends the live state and fence, the transaction runs here
  with exactly the code it runs in process (`EconomyRouter._commit`), and the server adopts
  what it wrote. No route, or not held there: `LookupError`, and the router looks again.
- Say/yell (`nearby`) asks the speaker's region server (`Region.Nearby`), so only
  characters on that server hear it (as in process). Party positions (`locate`) are
  synchronous in `Locator` (a timer loop over every party) and answer "unknown" here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import grpc

from gameserver.api.errors import RemoteError, ServiceUnavailable
from gameserver.rpc import convert
from gameserver.rpc import realm_pb2 as pb
from gameserver.rpc import realm_pb2_grpc as pbg
from gameserver.rpc.errors import from_rpc_error
from gameserver.rpc.rcm import RemoteRcmDirectory
from gameserver.rpc.region import SERVER_KEY
from gameserver.rpc.transport import call, open_channel
from gameserver.rwam.economy import Commit
from gameserver.rwam.errors import ActionError
from gameserver.storage.interfaces import HotState, StorageError
from gameserver.storage.models import Route

log = logging.getLogger(__name__)

R = TypeVar("R")

#: Every call of one economy transaction (lock wait, commit, adoption) within this.
ECONOMY_DEADLINE_S = 30.0

AccountOf = Callable[[int], int | None]


async def _route(hot: HotState, account_of: AccountOf, character_id: int) -> Route | None:
    account = account_of(character_id)
    if account is None:
        return None
    try:
        route = await hot.get_route(account)
    except StorageError as e:
        log.warning("route of %s unreadable: %s", character_id, e)
        return None
    return route if route is not None and route.character_id == character_id else None


class RouteNotifier:
    """A `Notifier` that forwards to the RCM named in the player's route."""

    def __init__(self, hot: HotState, *, timeout_s: float = 3.0) -> None:
        self.hot = hot
        self.account_of: AccountOf = lambda _cid: None
        self.rcms = RemoteRcmDirectory(timeout_s=timeout_s)
        self._queue: asyncio.Queue[tuple[int, str, str] | None] = asyncio.Queue()
        self._sender: asyncio.Task[None] | None = None
        self.undelivered = 0

    def notify(self, character_id: int, kind: str, body: Mapping[str, Any]) -> bool:
        if self.account_of(character_id) is None:
            return False  # not in the world as far as the RWAM knows
        text = json.dumps(dict(body), separators=(",", ":"), ensure_ascii=False)
        if self._sender is None or self._sender.done():
            self._sender = asyncio.get_running_loop().create_task(
                self._run(), name="rwam-notices"
            )
        self._queue.put_nowait((character_id, kind, text))
        return True

    async def _run(self) -> None:
        while True:
            item = await self._queue.get()
            try:
                if item is None:
                    return
                cid, kind, text = item
                route = await _route(self.hot, self.account_of, cid)
                client = self.rcms.get(route.rcm) if route is not None else None
                if client is None:
                    self.undelivered += 1
                    continue
                client.notify(cid, kind, text)
            finally:
                self._queue.task_done()

    async def settle(self) -> None:
        """Every notice queued so far handed to (and applied by) its RCM."""
        if self._sender is not None and not self._sender.done():
            await self._queue.join()
        await self.rcms.settle()

    async def close(self) -> None:
        if self._sender is not None and not self._sender.done():
            self._queue.put_nowait(None)
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._sender, timeout=3.0)
            self._sender.cancel()
        await self.rcms.close()


class RemoteHolder:
    """The region server holding one online character (`InventoryHolder`), over gRPC."""

    def __init__(self, world: RemoteWorld, character_id: int) -> None:
        self.world = world
        self.character_id = character_id

    async def run_economy(self, character_id: int, fn: Commit[R]) -> R:
        address, server_id = await self.world.server_of(character_id)
        stub = self.world.stub(address)
        peer, method = address, "Region.Economy"
        stream = stub.Economy(metadata=((SERVER_KEY, server_id),), timeout=ECONOMY_DEADLINE_S)
        try:
            await stream.write(pb.EconomyUp(character_id=character_id))
            lent = await stream.read()
        except grpc.aio.AioRpcError as e:
            raise from_rpc_error(e, peer, method) from None
        if lent is grpc.aio.EOF:
            raise LookupError(f"{server_id} lent nothing for {character_id}")
        try:
            written, result = await fn(convert.state_of(lent.state_json), lent.fence)
        except (ActionError, StorageError):
            # Refused or rolled back (an ambiguous commit is EconomyIndeterminate): the
            # server keeps its live state, as in process.
            with contextlib.suppress(grpc.aio.AioRpcError, grpc.aio.UsageError):
                await stream.write(pb.EconomyUp(aborted=True))
                await stream.done_writing()
                await stream.read()
            raise
        except BaseException:
            # EconomyIndeterminate, a cancelled caller, a bug: whether the commit landed is
            # unknown, so the server must not keep (and later save) its copy: it evicts.
            stream.cancel()
            raise
        try:
            await stream.write(pb.EconomyUp(written_json=convert.state_json(written)))
            await stream.done_writing()
            await stream.read()
        except grpc.aio.AioRpcError as e:
            # Committed with the server's fence; a server that never adopted it has lost
            # the character (dead, or it evicted it unsaved): the database is the truth.
            log.warning("economy outcome of %s not adopted by %s: %s", character_id, peer, e)
        return result

    async def evict_unsaved(self, character_id: int, reason: str) -> None:
        """Nothing to do: the cancelled `Economy` stream already made the server evict."""


class RemoteWorld:
    """`World` for the RWAM of a distributed realm (see the module docstring)."""

    def __init__(self, hot: HotState, realm: str, *, timeout_s: float = 3.0) -> None:
        self.hot = hot
        self.realm = realm
        self.timeout_s = timeout_s
        self.account_of: AccountOf = lambda _cid: None
        self._channels: dict[str, Any] = {}

    def holder(self, character_id: int) -> RemoteHolder | None:
        if self.account_of(character_id) is None:
            return None  # offline: the router takes the character's lease itself
        return RemoteHolder(self, character_id)

    async def nearby(self, character_id: int, radius: float) -> list[int]:
        """Who hears a /say or /yell: the speaker's region server answers."""
        try:
            address, server_id = await self.server_of(character_id)
        except LookupError:
            return []
        try:
            reply: pb.NearbyReply = await call(
                self.stub(address).Nearby,
                pb.NearbyRequest(character_id=character_id, radius=radius),
                peer=address,
                method="Region.Nearby",
                deadline_s=self.timeout_s,
                idempotent=True,
                metadata=((SERVER_KEY, server_id),),
            )
        except (LookupError, ServiceUnavailable, RemoteError) as e:
            log.warning("listeners of %s unknown: %s", character_id, e)
            return []
        return list(reply.character_ids)

    def locate(self, character_id: int) -> tuple[str, float, float] | None:
        return None

    async def server_of(self, character_id: int) -> tuple[str, str]:
        """(gRPC address, server id) of the region server the route names."""
        route = await _route(self.hot, self.account_of, character_id)
        if route is None:
            raise LookupError(f"character {character_id} has no route")
        try:
            beats = await self.hot.servers(self.realm)
        except StorageError as e:
            raise LookupError(f"server list unreadable: {e}") from e
        for beat in beats:
            if beat.server_id == route.server_id and beat.address:
                return beat.address, beat.server_id
        raise LookupError(f"no live region server {route.server_id}")

    def stub(self, address: str) -> Any:
        channel = self._channels.get(address)
        if channel is None:
            channel = self._channels[address] = open_channel(address)
        return pbg.RegionStub(channel)

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()
        self._channels.clear()

