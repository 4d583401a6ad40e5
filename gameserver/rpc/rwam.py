"""RWAM over gRPC: `RwamServicer` serves any `RwamApi`; `RwamClient` is one.

The character reads (`list_characters`, `owned_character`) are idempotent and retry a
peer that is briefly unreachable (an RWAM pod restarting); `create_character` is not
retried, so a lost answer never creates a character twice behind the player's back.
"""

from __future__ import annotations

import logging
from typing import Any

from gameserver.api.errors import RemoteError, ServiceUnavailable
from gameserver.api.rwam import RwamApi
from gameserver.rpc import convert
from gameserver.rpc import realm_pb2 as pb
from gameserver.rpc import realm_pb2_grpc as pbg
from gameserver.rpc.errors import serve_call
from gameserver.rpc.transport import call, open_channel
from gameserver.rwam.api import ActionsApi
from gameserver.storage.models import Character

log = logging.getLogger(__name__)


class RwamServicer(pbg.RwamServicer):
    def __init__(self, impl: RwamApi, actions: ActionsApi | None = None) -> None:
        self.impl = impl
        self.actions = actions

    async def Handle(self, request: pb.ActionRequest, context: Any) -> pb.ActionResult:
        async def run() -> pb.ActionResult:
            if self.actions is None:
                return pb.ActionResult(ok=False, code="unavailable", message="no realm actions")
            ok, code, message, body = await self.actions.handle(
                request.character_id, request.op, request.body_json
            )
            return pb.ActionResult(ok=ok, code=code, message=message, body_json=body)

        return await serve_call(context, "Rwam.Handle", run)

    async def CharacterEntered(self, request: pb.CharacterRef, context: Any) -> pb.Empty:
        async def run() -> pb.Empty:
            if self.actions is not None:
                await self.actions.character_entered(request.character_id, request.account_id)
            return pb.Empty()

        return await serve_call(context, "Rwam.CharacterEntered", run)

    async def CharacterLeft(self, request: pb.CharacterRef, context: Any) -> pb.Empty:
        async def run() -> pb.Empty:
            if self.actions is not None:
                await self.actions.character_left(request.character_id)
            return pb.Empty()

        return await serve_call(context, "Rwam.CharacterLeft", run)

    async def ListCharacters(self, request: pb.AccountRef, context: Any) -> pb.CharacterList:
        async def run() -> pb.CharacterList:
            chars = await self.impl.list_characters(request.account_id)
            return pb.CharacterList(characters_json=[convert.character_json(c) for c in chars])

        return await serve_call(context, "Rwam.ListCharacters", run)

    async def CreateCharacter(
        self, request: pb.CreateCharacterRequest, context: Any
    ) -> pb.CharacterRecord:
        async def run() -> pb.CharacterRecord:
            c = await self.impl.create_character(
                request.account_id, request.name, request.race, request.char_class
            )
            return pb.CharacterRecord(character_json=convert.character_json(c))

        return await serve_call(context, "Rwam.CreateCharacter", run)

    async def OwnedCharacter(self, request: pb.CharacterRef, context: Any) -> pb.CharacterRecord:
        async def run() -> pb.CharacterRecord:
            c = await self.impl.owned_character(request.account_id, request.character_id)
            return pb.CharacterRecord(character_json=convert.character_json(c))

        return await serve_call(context, "Rwam.OwnedCharacter", run)


def add_rwam(server: Any, impl: RwamApi, actions: ActionsApi | None = None) -> None:
    pbg.add_RwamServicer_to_server(RwamServicer(impl, actions), server)


class RwamClient:
    """An `RwamApi` and an `ActionsApi` at `address` (host:port).

    `handle` is not retried (a lost answer to `mail.send` must not send twice); a peer
    that is down or slow answers the client `unavailable`, as a busy database would."""

    def __init__(self, address: str, *, timeout_s: float = 5.0) -> None:
        self.address = address
        self.timeout_s = timeout_s
        self._channel = open_channel(address)
        self._stub = pbg.RwamStub(self._channel)

    async def list_characters(self, account_id: int) -> list[Character]:
        reply: pb.CharacterList = await call(
            self._stub.ListCharacters,
            pb.AccountRef(account_id=account_id),
            peer=self.address,
            method="Rwam.ListCharacters",
            deadline_s=self.timeout_s,
            idempotent=True,
        )
        return [convert.character_of(raw) for raw in reply.characters_json]

    async def create_character(
        self, account_id: int, name: str, race: str, char_class: str
    ) -> Character:
        reply: pb.CharacterRecord = await call(
            self._stub.CreateCharacter,
            pb.CreateCharacterRequest(
                account_id=account_id, name=name, race=race, char_class=char_class
            ),
            peer=self.address,
            method="Rwam.CreateCharacter",
            deadline_s=self.timeout_s,
        )
        return convert.character_of(reply.character_json)

    async def owned_character(self, account_id: int, character_id: int) -> Character:
        reply: pb.CharacterRecord = await call(
            self._stub.OwnedCharacter,
            pb.CharacterRef(account_id=account_id, character_id=character_id),
            peer=self.address,
            method="Rwam.OwnedCharacter",
            deadline_s=self.timeout_s,
            idempotent=True,
        )
        return convert.character_of(reply.character_json)

    # --- realm-wide actions (ActionsApi) --------------------------------------------------
    async def handle(self, character_id: int, op: str, body: str) -> tuple[bool, str, str, str]:
        try:
            reply: pb.ActionResult = await call(
                self._stub.Handle,
                pb.ActionRequest(character_id=character_id, op=op, body_json=body),
                peer=self.address,
                method="Rwam.Handle",
                deadline_s=self.timeout_s,
            )
        except (ServiceUnavailable, RemoteError) as e:
            log.warning("%s", e)
            return False, "unavailable", "the realm is busy; try again", ""
        return reply.ok, reply.code, reply.message, reply.body_json

    async def character_entered(self, character_id: int, account_id: int) -> None:
        await call(
            self._stub.CharacterEntered,
            pb.CharacterRef(account_id=account_id, character_id=character_id),
            peer=self.address,
            method="Rwam.CharacterEntered",
            deadline_s=self.timeout_s,
            idempotent=True,
        )

    async def character_left(self, character_id: int) -> None:
        try:
            await call(
                self._stub.CharacterLeft,
                pb.CharacterRef(character_id=character_id),
                peer=self.address,
                method="Rwam.CharacterLeft",
                deadline_s=self.timeout_s,
                idempotent=True,
            )
        except (ServiceUnavailable, RemoteError) as e:
            log.warning("presence of %s not cleared: %s", character_id, e)

    async def close(self) -> None:
        await self._channel.close()
