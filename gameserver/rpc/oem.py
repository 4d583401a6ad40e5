"""OEM over gRPC: `OemServicer` serves any `OemApi`; `OemClient` is one.

None of the OEM's calls is retried: entering the world, leaving it and handing off all
change who owns a character. Their deadlines are long enough for the work they wrap (a
takeover saves the previous session first; a handoff saves on the source server), and a
refusal crosses as the same `OemError` code the in-process service raises.
"""

from __future__ import annotations

import asyncio
from typing import Any

from gameserver.api.oem import OemApi, Placement
from gameserver.rpc import convert
from gameserver.rpc import realm_pb2 as pb
from gameserver.rpc import realm_pb2_grpc as pbg
from gameserver.rpc.errors import serve_call
from gameserver.rpc.transport import call, open_channel


class OemServicer(pbg.OemServicer):
    def __init__(self, impl: OemApi) -> None:
        self.impl = impl

    async def EnterWorld(self, request: pb.EnterWorldRequest, context: Any) -> pb.Placement:
        async def run() -> pb.Placement:
            p = await self.impl.enter_world(
                request.account_id, request.character_id, request.conn_id, request.rcm
            )
            return convert.placement_pb(p)

        return await serve_call(context, "Oem.EnterWorld", run)

    async def LeaveWorld(self, request: pb.LeaveWorldRequest, context: Any) -> pb.LeaveWorldReply:
        async def run() -> pb.LeaveWorldReply:
            kick = request.kick if request.HasField("kick") else None
            saved = await self.impl.leave_world(request.account_id, request.reason, kick)
            return pb.LeaveWorldReply(saved=saved)

        return await serve_call(context, "Oem.LeaveWorld", run)

    async def Handoff(self, request: pb.HandoffRequest, context: Any) -> pb.HandoffReply:
        async def run() -> pb.HandoffReply:
            to_region = request.to_region if request.HasField("to_region") else None
            # Shielded: a caller that goes away (a drained region process exiting) must not
            # cancel a move halfway, with the player extracted and its inputs held.
            moved = await asyncio.shield(
                self.impl.handoff(
                    request.character_id, request.account_id, to_region, request.reason
                )
            )
            return pb.HandoffReply(moved=moved)

        return await serve_call(context, "Oem.Handoff", run)

    async def EnterInstance(
        self, request: pb.EnterInstanceRequest, context: Any
    ) -> pb.HandoffReply:
        async def run() -> pb.HandoffReply:
            back = (request.back_region, request.back_x, request.back_y)
            moved = await self.impl.enter_instance(
                request.character_id, request.account_id, request.template, back
            )
            return pb.HandoffReply(moved=moved)

        return await serve_call(context, "Oem.EnterInstance", run)

    async def LeaveInstance(
        self, request: pb.LeaveInstanceRequest, context: Any
    ) -> pb.HandoffReply:
        async def run() -> pb.HandoffReply:
            moved = await self.impl.leave_instance(
                request.character_id, request.account_id, request.to_region
            )
            return pb.HandoffReply(moved=moved)

        return await serve_call(context, "Oem.LeaveInstance", run)


def add_oem(server: Any, impl: OemApi) -> None:
    pbg.add_OemServicer_to_server(OemServicer(impl), server)


class OemClient:
    """An `OemApi` at `address` (host:port)."""

    def __init__(self, address: str, *, timeout_s: float = 15.0) -> None:
        self.address = address
        self.timeout_s = timeout_s
        self._channel = open_channel(address)
        self._stub = pbg.OemStub(self._channel)

    async def enter_world(
        self, account_id: int, character_id: int, conn_id: int, rcm: str
    ) -> Placement:
        reply: pb.Placement = await call(
            self._stub.EnterWorld,
            pb.EnterWorldRequest(
                account_id=account_id, character_id=character_id, conn_id=conn_id, rcm=rcm
            ),
            peer=self.address,
            method="Oem.EnterWorld",
            deadline_s=self.timeout_s,
        )
        return convert.placement_of(reply)

    async def leave_world(
        self, account_id: int, reason: str = "logout", kick: str | None = None
    ) -> bool:
        reply: pb.LeaveWorldReply = await call(
            self._stub.LeaveWorld,
            pb.LeaveWorldRequest(account_id=account_id, reason=reason, kick=kick),
            peer=self.address,
            method="Oem.LeaveWorld",
            deadline_s=self.timeout_s,
        )
        return reply.saved

    async def handoff(
        self, character_id: int, account_id: int, to_region: str | None, reason: str
    ) -> bool:
        reply: pb.HandoffReply = await call(
            self._stub.Handoff,
            pb.HandoffRequest(
                character_id=character_id,
                account_id=account_id,
                to_region=to_region,
                reason=reason,
            ),
            peer=self.address,
            method="Oem.Handoff",
            deadline_s=self.timeout_s,
        )
        return reply.moved

    async def enter_instance(
        self, character_id: int, account_id: int, template: str, back: tuple[str, float, float]
    ) -> bool:
        reply: pb.HandoffReply = await call(
            self._stub.EnterInstance,
            pb.EnterInstanceRequest(
                character_id=character_id,
                account_id=account_id,
                template=template,
                back_region=back[0],
                back_x=back[1],
                back_y=back[2],
            ),
            peer=self.address,
            method="Oem.EnterInstance",
            deadline_s=self.timeout_s,
        )
        return reply.moved

    async def leave_instance(self, character_id: int, account_id: int, to_region: str) -> bool:
        reply: pb.HandoffReply = await call(
            self._stub.LeaveInstance,
            pb.LeaveInstanceRequest(
                character_id=character_id, account_id=account_id, to_region=to_region
            ),
            peer=self.address,
            method="Oem.LeaveInstance",
            deadline_s=self.timeout_s,
        )
        return reply.moved

    async def close(self) -> None:
        await self._channel.close()
