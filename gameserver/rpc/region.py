"""Region servers over gRPC: placement calls, and the `Link` stream that is the hot path.

**Placement** (`AddPlayer`, `RemovePlayer`, `ExtractPlayer`) are unary calls the OEM makes;
none is retried (each changes who simulates a character).

**Link** is one bidirectional stream per (RCM, region server). Up: one message per
event-loop turn of the RCM, so a burst of datagrams costs one message: every player's raw
InputFrame structs and snapshot ack in columns (`InputColumns`: the region server reads
them with one copy, ~1 us per player), plus any game commands as encoded FlatBuffers.
Down: per tick one `LinkDown` per RCM with every snapshot payload for that RCM's players
(already encoded by the tick; the RCM only seals it) plus kicks. The bytes are the
FlatBuffers the client and the tick already speak, unchanged: no re-encoding on either
side.

- `LinkHub` is the region server's `Outbox` in a distributed realm. The tick calls
  `deliver` once per player; the hub files each payload under the RCM holding that
  player's connection (learned from `PlayerJoin.rcm`) and flushes once, right after the
  tick returns (`call_soon`), as one message per RCM. A slow RCM cannot grow the region
  server's memory: past `max_backlog` queued batches, snapshot batches are dropped
  (counted) and the client's interpolation covers the gap; kicks are never dropped.
- `RegionClient` is the RCM's (and the OEM's) handle on one region server: a
  `RegionServerApi` for placement and an `InputSink` whose `submit_inputs` never blocks
  the datagram path. Its link reconnects with backoff while it is in use; inputs that
  arrive while it is down are dropped (the client repeats its last few frames in every
  datagram, and acks tell it what was lost).

**Several shards in one process** (an instance host runs one shard per dungeon instance):
every unary call names its shard in the `x-openrealm-server` metadata entry (the
client's `server_id`; a process with one shard checks it is that one, so a stale address
never reaches the wrong server), and the process's one `Link` per RCM routes each input
to the shard it placed that character on. The RCM's `RegionPool` therefore keeps one link
per address, shared by the clients of every shard there. `CreateInstance` and
`UnloadInstance` start and stop instance shards on a host.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any, Protocol

import grpc
import numpy as np
import numpy.typing as npt

from gameserver.api.region import Extracted, JoinResult, PlayerJoin
from gameserver.rpc import convert
from gameserver.rpc import realm_pb2 as pb
from gameserver.rpc import realm_pb2_grpc as pbg
from gameserver.rpc.errors import serve_call
from gameserver.rpc.transport import call, open_channel
from gameserver.rwam.economy import Commit
from gameserver.storage.models import CharacterState, ServerHeartbeat
from gameserver.wire.errors import WireError
from gameserver.wire.messages import (
    CastAbility,
    Envelope,
    Message,
    Respawn,
    SetAutoAttack,
    SnapshotAck,
    decode,
    encode,
)
from gameserver.wire.structs import INPUT_FRAME_DTYPE

log = logging.getLogger(__name__)

RCM_KEY = "x-openrealm-rcm"
SERVER_KEY = "x-openrealm-server"
MAX_FRAMES_PER_BATCH = 64  # as many as one datagram can carry, with room to spare
_FRAME = INPUT_FRAME_DTYPE.itemsize


class Outbox(Protocol):
    """Where a link's downstream goes on the RCM side (the RcmServer)."""

    def deliver(self, conn_id: int, payload: bytes) -> None: ...
    def kick(self, conn_id: int, reason: str) -> None: ...


class HostedRegion(Protocol):
    """A region server as its gRPC servicer needs it: `RegionServerApi` plus `InputSink`
    (the placement calls and the inputs; its ids may be read-only here)."""

    async def add_player(self, join: PlayerJoin) -> JoinResult: ...

    async def remove_player(
        self, character_id: int, reason: str = "logout", kick: str | None = None
    ) -> CharacterState | None: ...

    async def extract_player(self, character_id: int, reason: str) -> Extracted | None: ...

    def submit_inputs(
        self, character_id: int, frames: npt.NDArray[np.void], ack_tick: int = 0
    ) -> None: ...

    def submit_command(self, character_id: int, msg: Message) -> None: ...

    async def run_economy(self, character_id: int, fn: Commit[Any]) -> Any: ...

    async def evict_unsaved(self, character_id: int, reason: str) -> None: ...

    def characters_near(self, character_id: int, radius: float) -> list[int]: ...


#: Longest a region server lends a character's live state to an RWAM transaction before
#: it gives up on the answer and evicts the character unsaved.
ECONOMY_LOAN_S = 20.0


class _EconomyAborted(Exception):
    """The RWAM's transaction did not land: keep the live state as it was."""


class _EconomyLost(Exception):
    """The RWAM never said whether its transaction landed."""


class ShardSet(Protocol):
    """The region servers one process hosts, as its servicer routes calls to them."""

    def shard(self, server_id: str) -> HostedRegion | None:
        """The shard `server_id` ("": the process's only one), or None if not here."""
        ...

    async def create_instance(self, template: str, instance_id: str) -> ServerHeartbeat:
        """Start an instance shard (idempotent) and return its first heartbeat."""
        ...

    async def unload_instance(self, instance_id: str) -> int:
        """Stop an instance shard (saving anyone still in it); returns how many were."""
        ...


class OneShard:
    """A process with one region server (a world region)."""

    def __init__(self, impl: HostedRegion) -> None:
        self.impl = impl

    def shard(self, server_id: str) -> HostedRegion | None:
        own = getattr(self.impl, "server_id", None)
        if server_id and own is not None and server_id != own:
            return None
        return self.impl

    async def create_instance(self, template: str, instance_id: str) -> ServerHeartbeat:
        raise LookupError("this region server is not an instance host")

    async def unload_instance(self, instance_id: str) -> int:
        raise LookupError("this region server is not an instance host")


def decode_moves(moves: pb.InputColumns) -> list[tuple[int, npt.NDArray[np.void], int]] | None:
    """(character id, frames, ack) per player from a link's input columns, the frames views
    into one copy of the message's bytes; None if the columns do not add up (lengths
    differ, a partial frame, more frames than one datagram can carry), and then the whole
    message is dropped: a peer that sends one bad column cannot be trusted with the rest."""
    chars, counts, acks = list(moves.characters), list(moves.counts), list(moves.acks)
    if len(counts) != len(chars) or len(acks) != len(chars):
        return None
    total, rest = divmod(len(moves.frames), _FRAME)
    if rest or sum(counts) != total or (counts and max(counts) > MAX_FRAMES_PER_BATCH):
        return None
    frames = np.frombuffer(moves.frames, dtype=INPUT_FRAME_DTYPE).copy()
    out = []
    at = 0
    for cid, n, ack in zip(chars, counts, acks, strict=True):
        out.append((cid, frames[at : at + n], ack))
        at += n
    return out


COMMANDS = (CastAbility, SetAutoAttack, Respawn, SnapshotAck)


def encode_command(msg: Message) -> bytes:
    return encode(Envelope(msg))


def decode_command(raw: bytes) -> Message | None:
    """A game command from a link batch, or None for anything that is not one."""
    try:
        msg = decode(raw).msg
    except WireError:
        return None
    return msg if isinstance(msg, COMMANDS) else None


# --- the region side ---------------------------------------------------------------------
class _Pending:
    __slots__ = ("deliveries", "kicks")

    def __init__(self) -> None:
        self.deliveries: list[pb.Delivery] = []
        self.kicks: list[pb.KickNotice] = []


class LinkHub:
    """The region server's `Outbox`: per-tick batches to each RCM's link."""

    def __init__(self, *, max_backlog: int = 32, max_kicks_waiting: int = 1024) -> None:
        self.max_backlog = max_backlog
        self.max_kicks_waiting = max_kicks_waiting
        self._rcm_of: dict[int, str] = {}  # conn id -> rcm id
        self._links: dict[str, asyncio.Queue[pb.LinkDown | None]] = {}
        self._pending: dict[str, _Pending] = {}
        self._kicks_waiting: dict[str, list[pb.KickNotice]] = {}  # for RCMs with no link
        self._flush_scheduled = False
        self.dropped_batches = 0
        self.dropped_no_link = 0

    # who holds which connection
    def bind(self, conn_id: int, rcm: str) -> None:
        self._rcm_of[conn_id] = rcm

    def unbind(self, conn_id: int) -> None:
        self._rcm_of.pop(conn_id, None)

    def _rcm_for(self, conn_id: int) -> str | None:
        rcm = self._rcm_of.get(conn_id)
        if rcm:
            return rcm
        if len(self._links) == 1:  # an RCM that did not name itself: the only one there is
            return next(iter(self._links))
        return None

    # the Outbox
    def deliver(self, conn_id: int, payload: bytes) -> None:
        rcm = self._rcm_for(conn_id)
        if rcm is None or rcm not in self._links:
            self.dropped_no_link += 1
            return
        self._batch(rcm).deliveries.append(pb.Delivery(conn_id=conn_id, payload=payload))

    def kick(self, conn_id: int, reason: str) -> None:
        rcm = self._rcm_for(conn_id)
        if rcm is None:
            log.warning("kick of connection %s (%s): no RCM known for it", conn_id, reason)
            return
        self._batch(rcm).kicks.append(pb.KickNotice(conn_id=conn_id, reason=reason))

    def _batch(self, rcm: str) -> _Pending:
        p = self._pending.get(rcm)
        if p is None:
            p = self._pending[rcm] = _Pending()
        if not self._flush_scheduled:
            self._flush_scheduled = True
            try:
                asyncio.get_running_loop().call_soon(self.flush)
            except RuntimeError:  # no loop (a synchronous test): the caller flushes
                self._flush_scheduled = False
        return p

    def flush(self) -> None:
        """Send what this tick produced: one `LinkDown` per RCM."""
        self._flush_scheduled = False
        pending, self._pending = self._pending, {}
        for rcm, p in pending.items():
            q = self._links.get(rcm)
            if q is None:
                waiting = self._kicks_waiting.setdefault(rcm, [])
                waiting.extend(p.kicks[: self.max_kicks_waiting - len(waiting)])
                self.dropped_no_link += len(p.deliveries)
                continue
            if not p.kicks and q.qsize() >= self.max_backlog:
                self.dropped_batches += 1
                continue
            q.put_nowait(pb.LinkDown(deliveries=p.deliveries, kicks=p.kicks))

    # links
    def attach(self, rcm: str) -> asyncio.Queue[pb.LinkDown | None]:
        """A new stream from `rcm` replaces any older one (a reconnect)."""
        old = self._links.get(rcm)
        if old is not None:
            old.put_nowait(None)
        q: asyncio.Queue[pb.LinkDown | None] = asyncio.Queue()
        self._links[rcm] = q
        waiting = self._kicks_waiting.pop(rcm, [])
        if waiting:
            q.put_nowait(pb.LinkDown(kicks=waiting))
        return q

    def detach(self, rcm: str, q: asyncio.Queue[pb.LinkDown | None]) -> None:
        if self._links.get(rcm) is q:
            del self._links[rcm]

    def close(self) -> None:
        """End every link (shutdown), after what is queued has been sent."""
        self.flush()
        for q in self._links.values():
            q.put_nowait(None)

    @property
    def links(self) -> int:
        return len(self._links)


def _metadata(context: Any) -> dict[str, str]:
    return {k: v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}


class RegionServicer(pbg.RegionServicer):
    def __init__(self, shards: ShardSet, hub: LinkHub) -> None:
        self.shards = shards
        self.hub = hub
        self._conn_of: dict[int, int] = {}  # character id -> conn id
        self._where: dict[int, HostedRegion] = {}  # character id -> the shard holding it
        self.dropped_frames = 0

    def _target(self, context: Any) -> HostedRegion:
        server_id = _metadata(context).get(SERVER_KEY, "")
        shard = self.shards.shard(server_id)
        if shard is None:
            raise LookupError(f"no region server {server_id!r} here")
        return shard

    async def AddPlayer(self, request: pb.PlayerJoin, context: Any) -> pb.JoinResult:
        async def run() -> pb.JoinResult:
            shard = self._target(context)
            join = convert.player_join_of(request)
            cid = join.character.id
            self.hub.bind(join.conn_id, join.rcm)
            try:
                result = await shard.add_player(join)
            except BaseException:
                if self._conn_of.get(cid) != join.conn_id:
                    self.hub.unbind(join.conn_id)
                raise
            self._conn_of[cid] = join.conn_id
            self._where[cid] = shard
            return convert.join_result_pb(result)

        return await serve_call(context, "Region.AddPlayer", run)

    def _forget(self, character_id: int) -> None:
        self._where.pop(character_id, None)
        conn = self._conn_of.pop(character_id, None)
        if conn is not None:
            self.hub.unbind(conn)

    async def RemovePlayer(
        self, request: pb.RemovePlayerRequest, context: Any
    ) -> pb.RemovePlayerReply:
        async def run() -> pb.RemovePlayerReply:
            kick = request.kick if request.HasField("kick") else None
            shard = self._target(context)
            state = await shard.remove_player(request.character_id, request.reason, kick)
            self.hub.flush()  # the kick (if any) leaves before the binding goes
            self._forget(request.character_id)
            if state is None:
                return pb.RemovePlayerReply()
            return pb.RemovePlayerReply(state_json=convert.state_json(state))

        return await serve_call(context, "Region.RemovePlayer", run)

    async def ExtractPlayer(
        self, request: pb.ExtractPlayerRequest, context: Any
    ) -> pb.ExtractPlayerReply:
        async def run() -> pb.ExtractPlayerReply:
            shard = self._target(context)
            extracted = await shard.extract_player(request.character_id, request.reason)
            self._forget(request.character_id)
            if extracted is None:
                return pb.ExtractPlayerReply()
            return pb.ExtractPlayerReply(extracted=convert.extracted_pb(extracted))

        return await serve_call(context, "Region.ExtractPlayer", run)

    async def Link(
        self, request_iterator: AsyncIterator[pb.LinkUp], context: Any
    ) -> AsyncIterator[pb.LinkDown]:
        rcm = _metadata(context).get(RCM_KEY, "")
        q = self.hub.attach(rcm)

        async def read() -> None:
            try:
                async for up in request_iterator:
                    if up.HasField("moves"):
                        self._moves(up.moves)
                    for batch in up.inputs:
                        shard = self._holder(batch.character_id)
                        msg = decode_command(batch.command)
                        if msg is None or shard is None:
                            self.dropped_frames += 1
                        else:
                            shard.submit_command(batch.character_id, msg)
            except (asyncio.CancelledError, grpc.aio.AioRpcError):
                pass
            finally:
                q.put_nowait(None)  # the RCM went away: end the response stream too

        reader = asyncio.create_task(read(), name=f"link-read-{rcm}")
        try:
            while True:
                down = await q.get()
                if down is None:
                    return
                yield down
        finally:
            self.hub.detach(rcm, q)
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader

    def _moves(self, moves: pb.InputColumns) -> None:
        decoded = decode_moves(moves)
        if decoded is None:
            self.dropped_frames += len(moves.characters)
            return
        holder = self._holder
        for cid, frames, ack in decoded:
            shard = holder(cid)
            if shard is None:
                self.dropped_frames += 1
            else:
                shard.submit_inputs(cid, frames, ack)

    def _holder(self, character_id: int) -> HostedRegion | None:
        """The shard an input of `character_id` goes to: the one it was placed on here,
        else the process's only shard (which ignores characters it does not hold)."""
        shard = self._where.get(character_id)
        return shard if shard is not None else self.shards.shard("")

    async def Economy(
        self, request_iterator: AsyncIterator[pb.EconomyUp], context: Any
    ) -> AsyncIterator[pb.EconomyDown]:
        """Lend a held character's live state to one RWAM transaction under its save lock
        (`RegionServer.run_economy`): the same commit code as in process, run by the RWAM
        against the database, with this server adopting what it wrote."""
        it = request_iterator.__aiter__()
        first = await anext(it, None)
        if first is None:
            return
        cid = first.character_id
        shard = self._where.get(cid) or self.shards.shard(_metadata(context).get(SERVER_KEY, ""))
        loop = asyncio.get_running_loop()
        down: asyncio.Queue[pb.EconomyDown | BaseException] = asyncio.Queue()
        answer: asyncio.Future[pb.EconomyUp | None] = loop.create_future()

        async def lend(state: CharacterState, fence: int) -> tuple[CharacterState, None]:
            if answer.done() and answer.result() is None:
                raise _EconomyAborted()  # gone before the loan: it cannot have committed
            down.put_nowait(pb.EconomyDown(state_json=convert.state_json(state), fence=fence))
            try:
                up = await asyncio.wait_for(asyncio.shield(answer), ECONOMY_LOAN_S)
            except TimeoutError:
                up = None
            if up is None:
                raise _EconomyLost(f"no outcome for the economy transaction of {cid}")
            if up.aborted or not up.written_json:
                raise _EconomyAborted()
            return convert.state_of(up.written_json), None

        async def work() -> None:
            try:
                if shard is None:
                    raise LookupError(f"character {cid} is not held here")
                await shard.run_economy(cid, lend)
                down.put_nowait(pb.EconomyDown(done=True))
            except _EconomyAborted:
                down.put_nowait(pb.EconomyDown(done=True))
            except _EconomyLost as e:
                log.error("%s; dropping the character unsaved", e)
                assert shard is not None
                await shard.evict_unsaved(
                    cid, "lost contact with the realm database; please log in again"
                )
                down.put_nowait(e)
            except Exception as e:
                down.put_nowait(e)

        async def read_answer() -> None:
            try:
                up = await anext(it, None)
            except (asyncio.CancelledError, grpc.aio.AioRpcError):
                up = None
            if not answer.done():
                answer.set_result(up)

        worker = asyncio.create_task(work(), name=f"economy-{cid}")
        reader = asyncio.create_task(read_answer(), name=f"economy-read-{cid}")
        try:
            while True:
                msg = await down.get()
                if isinstance(msg, BaseException):

                    async def fail(e: BaseException = msg) -> pb.EconomyDown:
                        raise e

                    await serve_call(context, "Region.Economy", fail)
                    return
                yield msg
                if msg.done:
                    return
        finally:
            if not answer.done():
                answer.set_result(None)  # the RWAM went away mid-loan: evict, never guess
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(worker)
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader

    async def Nearby(self, request: pb.NearbyRequest, context: Any) -> pb.NearbyReply:
        async def run() -> pb.NearbyReply:
            shard = self._where.get(request.character_id) or self._target(context)
            near = shard.characters_near(request.character_id, request.radius)
            return pb.NearbyReply(character_ids=near)

        return await serve_call(context, "Region.Nearby", run)

    async def CreateInstance(
        self, request: pb.CreateInstanceRequest, context: Any
    ) -> pb.CreateInstanceReply:
        async def run() -> pb.CreateInstanceReply:
            beat = await self.shards.create_instance(request.template, request.instance_id)
            return pb.CreateInstanceReply(heartbeat_json=beat.model_dump_json().encode())

        return await serve_call(context, "Region.CreateInstance", run)

    async def UnloadInstance(
        self, request: pb.UnloadInstanceRequest, context: Any
    ) -> pb.UnloadInstanceReply:
        async def run() -> pb.UnloadInstanceReply:
            gone = self.shards.shard(request.instance_id)
            saved = await self.shards.unload_instance(request.instance_id)
            self.hub.flush()  # kicks of anyone still inside leave before the bindings go
            if gone is not None:
                for cid in [c for c, s in self._where.items() if s is gone]:
                    self._forget(cid)
            return pb.UnloadInstanceReply(saved=saved)

        return await serve_call(context, "Region.UnloadInstance", run)


def add_region(server: Any, impl: HostedRegion, hub: LinkHub) -> RegionServicer:
    """Serve one region server (a world region's process)."""
    return add_region_shards(server, OneShard(impl), hub)


def add_region_shards(server: Any, shards: ShardSet, hub: LinkHub) -> RegionServicer:
    """Serve every shard of a process (an instance host), routed by server id."""
    servicer = RegionServicer(shards, hub)
    pbg.add_RegionServicer_to_server(servicer, server)
    return servicer


# --- the caller side ---------------------------------------------------------------------
class RegionClient:
    """A region server at `address`: `RegionServerApi` plus `InputSink` over `Link`.

    `outbox` receives the link's downstream (the RCM); without one (the OEM) the link is
    never opened. `rcm_id` names this RCM to the region server, which routes the snapshots
    of the players this RCM placed to this link. With `link_via`, inputs go over that
    client's link (and channel) instead: one link per process, shared by its shards.
    """

    def __init__(
        self,
        address: str,
        *,
        server_id: str,
        region_name: str,
        outbox: Outbox | None = None,
        rcm_id: str = "",
        timeout_s: float = 10.0,
        max_backlog: int = 256,
        link_via: RegionClient | None = None,
    ) -> None:
        self.address = address
        self.server_id = server_id
        self.region_name = region_name
        self.outbox = outbox
        self.rcm_id = rcm_id
        self.timeout_s = timeout_s
        self.max_backlog = max_backlog
        self._via = link_via
        self._channel: Any = link_via._channel if link_via is not None else open_channel(address)
        self._stub = pbg.RegionStub(self._channel)
        self._meta = ((SERVER_KEY, server_id),) if server_id else None
        self._up: asyncio.Queue[pb.LinkUp] = asyncio.Queue()
        self._commands: list[pb.InputBatch] = []
        self._chars: list[int] = []  # the input columns of this turn (see InputColumns)
        self._counts: list[int] = []
        self._acks: list[int] = []
        self._frames: list[bytes] = []
        self._flush_scheduled = False
        self._link_task: asyncio.Task[None] | None = None
        self._closed = False
        self.link_up: asyncio.Event = link_via.link_up if link_via is not None else asyncio.Event()
        self.dropped_inputs = 0
        self.link_failures = 0

    # --- placement (RegionServerApi) -------------------------------------------------------
    async def add_player(self, join: PlayerJoin) -> JoinResult:
        reply: pb.JoinResult = await call(
            self._stub.AddPlayer,
            convert.player_join_pb(join),
            peer=self.address,
            method="Region.AddPlayer",
            deadline_s=self.timeout_s,
            metadata=self._meta,
        )
        return convert.join_result_of(reply)

    async def remove_player(
        self, character_id: int, reason: str = "logout", kick: str | None = None
    ) -> CharacterState | None:
        reply: pb.RemovePlayerReply = await call(
            self._stub.RemovePlayer,
            pb.RemovePlayerRequest(character_id=character_id, reason=reason, kick=kick),
            peer=self.address,
            method="Region.RemovePlayer",
            deadline_s=self.timeout_s,
            metadata=self._meta,
        )
        return convert.state_of(reply.state_json) if reply.HasField("state_json") else None

    async def extract_player(self, character_id: int, reason: str) -> Extracted | None:
        reply: pb.ExtractPlayerReply = await call(
            self._stub.ExtractPlayer,
            pb.ExtractPlayerRequest(character_id=character_id, reason=reason),
            peer=self.address,
            method="Region.ExtractPlayer",
            deadline_s=self.timeout_s,
            metadata=self._meta,
        )
        return convert.extracted_of(reply.extracted) if reply.HasField("extracted") else None

    # --- instance hosts ----------------------------------------------------------------------
    async def create_instance(self, template: str, instance_id: str) -> ServerHeartbeat:
        """Start instance shard `instance_id` of `template` on this host; its heartbeat."""
        reply: pb.CreateInstanceReply = await call(
            self._stub.CreateInstance,
            pb.CreateInstanceRequest(template=template, instance_id=instance_id),
            peer=self.address,
            method="Region.CreateInstance",
            deadline_s=self.timeout_s,
        )
        return ServerHeartbeat.model_validate_json(reply.heartbeat_json)

    async def unload_instance(self, instance_id: str) -> int:
        reply: pb.UnloadInstanceReply = await call(
            self._stub.UnloadInstance,
            pb.UnloadInstanceRequest(instance_id=instance_id),
            peer=self.address,
            method="Region.UnloadInstance",
            deadline_s=self.timeout_s,
        )
        return int(reply.saved)

    # --- inputs (InputSink) ------------------------------------------------------------------
    def submit_inputs(
        self, character_id: int, frames: npt.NDArray[np.void], ack_tick: int = 0
    ) -> None:
        """Queue frames (and the ack they carry) for the link; never blocks (called from
        `datagram_received`)."""
        if self._via is not None:
            self._via.submit_inputs(character_id, frames, ack_tick)
            return
        if self._closed or not (len(frames) or ack_tick):
            return
        self.open_link()
        self._chars.append(character_id)
        self._counts.append(len(frames))
        self._acks.append(ack_tick)
        self._frames.append(frames.tobytes())
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def submit_command(self, character_id: int, msg: Message) -> None:
        """Queue a game command; it travels with this turn's inputs (the tick applies each
        kind in its own phase, so their order within a turn does not matter)."""
        if self._via is not None:
            self._via.submit_command(character_id, msg)
            return
        if self._closed:
            return
        self.open_link()
        self._commands.append(pb.InputBatch(character_id=character_id, command=encode_command(msg)))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        commands, chars = self._commands, self._chars
        counts, acks, frames = self._counts, self._acks, self._frames
        self._commands, self._chars, self._counts, self._acks, self._frames = [], [], [], [], []
        if not (commands or chars):
            return
        if self._up.qsize() >= self.max_backlog:  # the region server is not keeping up
            self.dropped_inputs += len(commands) + len(chars)
            return
        up = pb.LinkUp(inputs=commands)
        if chars:
            frames_all = b"".join(frames)
            up.moves.characters.extend(chars)
            up.moves.counts.extend(counts)
            up.moves.acks.extend(acks)
            up.moves.frames = frames_all
        self._up.put_nowait(up)

    def open_link(self) -> None:
        """Start the link (idempotent): snapshots flow to `outbox` from now on."""
        if self._via is not None:
            self._via.open_link()
            return
        if self._link_task is None and self.outbox is not None and not self._closed:
            self._link_task = asyncio.get_running_loop().create_task(
                self._run_link(), name=f"link-{self.server_id or self.address}"
            )

    async def _run_link(self) -> None:
        delay = 0.05
        while not self._closed:
            stream = self._stub.Link(metadata=((RCM_KEY, self.rcm_id),))
            writer = asyncio.create_task(self._write(stream))
            try:
                await self._read(stream)
                delay = 0.05
            except grpc.aio.AioRpcError as e:
                self.link_failures += 1
                who = self.server_id or "region process"
                log.warning("link to %s (%s) broke: %s", who, self.address, e.code())
            finally:
                self.link_up.clear()
                writer.cancel()
                with contextlib.suppress(asyncio.CancelledError, grpc.aio.AioRpcError):
                    await writer
                stream.cancel()
            if self._closed:
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)

    async def _write(self, stream: Any) -> None:
        while True:
            up = await self._up.get()
            await stream.write(up)

    async def _read(self, stream: Any) -> None:
        outbox = self.outbox
        assert outbox is not None
        await stream.wait_for_connection()
        self.link_up.set()
        while True:
            down = await stream.read()
            if down is grpc.aio.EOF:
                return
            for k in down.kicks:
                outbox.kick(k.conn_id, k.reason)
            for d in down.deliveries:
                outbox.deliver(d.conn_id, d.payload)

    async def close(self) -> None:
        self._closed = True
        if self._link_task is not None:
            self._link_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._link_task
        if self._via is None:  # a shared channel is its owner's to close
            await self._channel.close()


class RegionPool:
    """The RCM's region clients, one per server, created on first use: the `sinks`
    callable `RcmServer` routes inputs through. The clients of the shards of one process
    (an instance host's instances) share one channel and one link to it."""

    def __init__(self, outbox: Outbox, rcm_id: str, *, timeout_s: float = 10.0) -> None:
        self.outbox = outbox
        self.rcm_id = rcm_id
        self.timeout_s = timeout_s
        self._clients: dict[str, RegionClient] = {}
        self._links: dict[str, RegionClient] = {}  # by address

    def __call__(self, server_id: str, address: str) -> RegionClient:
        key = f"{server_id}@{address}"
        c = self._clients.get(key)
        if c is None:
            link = self._links.get(address)
            if link is None:
                link = self._links[address] = RegionClient(
                    address,
                    server_id="",
                    region_name="",
                    outbox=self.outbox,
                    rcm_id=self.rcm_id,
                    timeout_s=self.timeout_s,
                )
            c = self._clients[key] = RegionClient(
                address,
                server_id=server_id,
                region_name="",
                outbox=self.outbox,
                rcm_id=self.rcm_id,
                timeout_s=self.timeout_s,
                link_via=link,
            )
            c.open_link()
        return c

    @property
    def clients(self) -> list[RegionClient]:
        return list(self._clients.values())

    @property
    def links(self) -> list[RegionClient]:
        return list(self._links.values())

    async def close(self) -> None:
        for c in self._clients.values():
            await c.close()
        for c in self._links.values():
            await c.close()
        self._clients.clear()
        self._links.clear()
