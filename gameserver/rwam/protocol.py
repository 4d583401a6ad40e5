"""The request bodies of realm-wide actions, one pydantic model per operation.

A client sends `RwamRequest(op, body)` where `body` is JSON; the RCM hands both to
`RealmActions.handle`, which validates the body against the model of `op` before any
service sees it (unknown fields, wrong types and out-of-range numbers are refused with
`bad_request`). The same models are the schema a gRPC transport carries, so there is one
definition per operation for every edge. Why not one FlatBuffers table per operation:
these are ~50 low-rate request kinds; the hot paths (snapshots, inputs) stay FlatBuffers
structs, and these stay one small envelope (see docs/architecture.md).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from gameserver.rwam.rules import MAX_GOLD
from gameserver.storage.realmdata import AuctionSort

Id = Field(ge=1, le=2**63 - 1)
Name = Field(max_length=64)


class Req(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Empty(Req):
    pass


class ByName(Req):
    name: str = Name


class ById(Req):
    id: int = Id


class ChatSend(Req):
    channel: str = Field(max_length=16)
    text: str = Field(max_length=1024)
    target: str = Field("", max_length=64)


class ChannelReq(Req):
    channel: str = Field(max_length=32)


class ChatHistory(Req):
    channel: str = Field(max_length=16)
    target: str = Field("", max_length=64)
    after_seq: int = Field(0, ge=0)


class MailSend(Req):
    to: str = Name
    subject: str = Field(max_length=256)
    body: str = Field("", max_length=2048)
    gold: int = Field(0, ge=0, le=MAX_GOLD)
    cod: int = Field(0, ge=0, le=MAX_GOLD)
    items: tuple[str, ...] = Field((), max_length=16)


class Page(Req):
    offset: int = Field(0, ge=0, le=100_000)
    limit: int = Field(5, ge=1, le=20)


class AuctionList(Req):
    item: str = Field(max_length=64)
    start_bid: int = Field(ge=1, le=MAX_GOLD)
    buyout: int = Field(0, ge=0, le=MAX_GOLD)
    hours: int = 12


class AuctionBid(Req):
    id: int = Id
    amount: int = Field(ge=1, le=MAX_GOLD)


class AuctionSearch(Req):
    name: str = Field("", max_length=64)
    item_id: int | None = Field(None, ge=1)
    min_level: int | None = Field(None, ge=0, le=1000)
    max_level: int | None = Field(None, ge=0, le=1000)
    quality: int | None = Field(None, ge=0, le=10)
    max_price: int | None = Field(None, ge=1, le=MAX_GOLD)
    mine: bool = False
    bids: bool = False
    sort: AuctionSort = AuctionSort.ENDING
    offset: int = Field(0, ge=0, le=100_000)
    limit: int = Field(8, ge=1, le=20)


class PartyAssistant(Req):
    name: str = Name
    on: bool = True


class PartyMove(Req):
    name: str = Name
    group: int = Field(ge=1, le=8)


class GuildMotd(Req):
    motd: str = Field(max_length=512)


class GuildRankEdit(Req):
    rank: int = Field(ge=0, le=100)
    name: str = Field(max_length=64)
    permissions: int = Field(ge=0, le=2**16)
