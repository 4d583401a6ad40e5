"""The RCM over gRPC: what the OEM (handoffs) and region servers ask of it.

`RcmApi`'s methods are synchronous (fire and forget: the in-process RcmServer applies them
at once). Over the network `RcmClient` keeps that signature and its meaning by sending the
calls of one client **in order**, one at a time, each with a deadline, from a sender task.
Order is what a handoff needs: `hold` before `reroute`. It also needs the hold to be in
force before the source server lets go of the player (or inputs routed to the source in
between are lost), which a fire-and-forget call cannot promise by itself; `settle()`
waits until every call queued so far has been applied, and the OEM's region clients await
it before `extract_player` (see `gameserver/rpc/directory.py`).

Snapshots and kicks normally come back over each region server's `Link`; the unary
`Deliver`/`Kick` exist so every `RcmApi` method has a remote form.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from gameserver.api.errors import RemoteError, ServiceUnavailable
from gameserver.api.oem import Placement
from gameserver.api.rcm import RcmApi
from gameserver.rpc import convert
from gameserver.rpc import realm_pb2 as pb
from gameserver.rpc import realm_pb2_grpc as pbg
from gameserver.rpc.errors import serve_call
from gameserver.rpc.transport import call, open_channel
from gameserver.rwam.notify import Notifier

log = logging.getLogger(__name__)


class RcmServicer(pbg.RcmServicer):
    def __init__(self, impl: RcmApi, notices: Notifier | None = None) -> None:
        self.impl = impl
        self.notices = notices

    async def Notify(self, request: pb.NoticeRequest, context: Any) -> pb.NoticeReply:
        async def run() -> pb.NoticeReply:
            if self.notices is None:
                return pb.NoticeReply(delivered=False)
            body = json.loads(request.body_json or "{}")
            return pb.NoticeReply(
                delivered=self.notices.notify(request.character_id, request.kind, body)
            )

        return await serve_call(context, "Rcm.Notify", run)

    async def Hold(self, request: pb.ConnRef, context: Any) -> pb.Empty:
        async def run() -> pb.Empty:
            self.impl.hold(request.conn_id)
            return pb.Empty()

        return await serve_call(context, "Rcm.Hold", run)

    async def Reroute(self, request: pb.RerouteRequest, context: Any) -> pb.Empty:
        async def run() -> pb.Empty:
            placement = (
                convert.placement_of(request.placement) if request.HasField("placement") else None
            )
            self.impl.reroute(request.conn_id, placement)
            return pb.Empty()

        return await serve_call(context, "Rcm.Reroute", run)

    async def Deliver(self, request: pb.Delivery, context: Any) -> pb.Empty:
        async def run() -> pb.Empty:
            self.impl.deliver(request.conn_id, request.payload)
            return pb.Empty()

        return await serve_call(context, "Rcm.Deliver", run)

    async def Kick(self, request: pb.KickNotice, context: Any) -> pb.Empty:
        async def run() -> pb.Empty:
            self.impl.kick(request.conn_id, request.reason)
            return pb.Empty()

        return await serve_call(context, "Rcm.Kick", run)


def add_rcm(server: Any, impl: RcmApi, notices: Notifier | None = None) -> None:
    pbg.add_RcmServicer_to_server(RcmServicer(impl, notices), server)


class RcmClient:
    """An `RcmApi` at `address`; its id is that address (what RCMs put in routes)."""

    def __init__(self, address: str, *, timeout_s: float = 3.0) -> None:
        self.rcm_id = address
        self.address = address
        self.timeout_s = timeout_s
        self._channel = open_channel(address)
        self._stub = pbg.RcmStub(self._channel)
        self._queue: asyncio.Queue[tuple[str, Any, Any] | None] = asyncio.Queue()
        self._sender: asyncio.Task[None] | None = None
        self.failures = 0

    def hold(self, conn_id: int) -> None:
        self._send("Rcm.Hold", self._stub.Hold, pb.ConnRef(conn_id=conn_id))

    def reroute(self, conn_id: int, placement: Placement | None) -> None:
        msg = pb.RerouteRequest(conn_id=conn_id)
        if placement is not None:
            msg.placement.CopyFrom(convert.placement_pb(placement))
        self._send("Rcm.Reroute", self._stub.Reroute, msg)

    def deliver(self, conn_id: int, payload: bytes) -> None:
        self._send("Rcm.Deliver", self._stub.Deliver, pb.Delivery(conn_id=conn_id, payload=payload))

    def kick(self, conn_id: int, reason: str) -> None:
        self._send("Rcm.Kick", self._stub.Kick, pb.KickNotice(conn_id=conn_id, reason=reason))

    def notify(self, character_id: int, kind: str, body_json: str) -> None:
        """A realm-wide action's notice, in order with everything else sent to this RCM."""
        self._send(
            "Rcm.Notify",
            self._stub.Notify,
            pb.NoticeRequest(character_id=character_id, kind=kind, body_json=body_json),
        )

    def _send(self, method: str, fn: Any, request: Any) -> None:
        if self._sender is None:
            self._sender = asyncio.get_running_loop().create_task(
                self._run(), name=f"rcm-client-{self.address}"
            )
        self._queue.put_nowait((method, fn, request))

    async def _run(self) -> None:
        while True:
            item = await self._queue.get()
            try:
                if item is None:
                    return
                method, fn, request = item
                try:
                    await call(
                        fn, request, peer=self.address, method=method, deadline_s=self.timeout_s
                    )
                except (ServiceUnavailable, RemoteError) as e:
                    self.failures += 1
                    log.warning("%s", e)
            finally:
                self._queue.task_done()

    async def settle(self) -> None:
        """Wait until every call made so far has been applied (or has failed)."""
        if self._sender is not None and not self._sender.done():
            await self._queue.join()

    async def close(self) -> None:
        if self._sender is not None and not self._sender.done():
            self._queue.put_nowait(None)
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._sender, timeout=self.timeout_s)
            self._sender.cancel()
        await self._channel.close()


class RemoteRcmDirectory:
    """The OEM's RCMs, by id: an RCM's id is its gRPC address, so any id in a route can be
    reached without a registry. Clients are created on first use and cached."""

    def __init__(self, *, timeout_s: float = 3.0) -> None:
        self.timeout_s = timeout_s
        self._clients: dict[str, RcmClient] = {}

    def get(self, rcm_id: str) -> RcmClient | None:
        if not rcm_id or ":" not in rcm_id:
            return None
        c = self._clients.get(rcm_id)
        if c is None:
            c = self._clients[rcm_id] = RcmClient(rcm_id, timeout_s=self.timeout_s)
        return c

    async def settle(self) -> None:
        """Every queued RCM call applied: the barrier a handoff's extraction waits on."""
        await asyncio.gather(*(c.settle() for c in self._clients.values()))

    async def close(self) -> None:
        for c in self._clients.values():
            await c.close()
        self._clients.clear()
