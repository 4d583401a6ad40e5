"""Records of the realm-wide data the RWAM keeps: mail, auctions, friends, guilds.

They sit beside `models.py` (accounts, characters, leases) and cross the storage boundary
the same way: both backends take and return exactly these, and a gRPC transport can carry
them as they are. Times are integer milliseconds of the realm's clock (the RWAM injects
its clock, so expiry is testable without waiting).

The economy's shape is what keeps it honest: an item is an `ItemStack` with a realm-wide
`uid`, and it is always in exactly one place: a character's `state.items`, or one row of
the `held_items` table (held by one mail or one auction, the uid is its primary key).
Every operation that moves gold or items changes at most one character plus those realm
tables, in one database transaction; see `gameserver/rwam/economy.py`.
"""

from __future__ import annotations

import enum

from pydantic import Field

from gameserver.storage.models import CharacterState, Frozen, ItemStack


class MailKind(enum.StrEnum):
    PLAYER = "player"  # written by a player
    COD_PAYMENT = "cod_payment"  # the gold a COD receiver paid, on its way to the sender
    AUCTION_OUTBID = "auction_outbid"  # a bid refunded
    AUCTION_WON = "auction_won"  # the item a buyer won
    AUCTION_SOLD = "auction_sold"  # the seller's proceeds (price - cut + deposit)
    AUCTION_EXPIRED = "auction_expired"  # an unsold item back to its seller
    AUCTION_CANCELLED = "auction_cancelled"  # a cancelled item back to its seller


class NewMail(Frozen):
    kind: MailKind
    sender_id: int | None  # None: the auction house (or another system sender)
    sender_name: str
    recipient_id: int
    subject: str
    body: str = ""
    gold: int = Field(0, ge=0)
    cod: int = Field(0, ge=0)
    items: tuple[ItemStack, ...] = ()
    sent_at_ms: int
    # None: never expires (mail that carries what the realm owes someone: returned mail,
    # auction proceeds and items). Only player mail expires, by going back to its sender.
    expires_at_ms: int | None = None
    returned: bool = False


class Mail(NewMail):
    id: int
    read: bool = False

    @property
    def has_attachments(self) -> bool:
        return bool(self.items) or self.gold > 0


class NewAuction(Frozen):
    seller_id: int
    seller_name: str
    item: ItemStack
    item_name: str
    item_level: int = 0
    quality: int = 0
    start_bid: int = Field(ge=1)
    buyout: int = Field(0, ge=0)  # 0: no buyout
    deposit: int = Field(0, ge=0)
    created_at_ms: int
    ends_at_ms: int


class Auction(NewAuction):
    id: int
    bid: int = 0  # the highest bid, held by the auction house (0: no bid yet)
    bidder_id: int | None = None


class AuctionSort(enum.StrEnum):
    ENDING = "ending"
    PRICE = "price"
    NAME = "name"


class AuctionQuery(Frozen):
    """A search of the auction house. `name` matches a substring of the item's name
    (casefolded); the other filters are exact or inclusive bounds."""

    name: str = ""
    item_id: int | None = None
    min_level: int | None = None
    max_level: int | None = None
    quality: int | None = None
    max_price: int | None = None  # matched against the buyout, or the next bid without one
    seller_id: int | None = None
    bidder_id: int | None = None
    sort: AuctionSort = AuctionSort.ENDING
    offset: int = Field(0, ge=0)
    limit: int = Field(10, ge=1, le=50)


class EconomySubject(Frozen):
    """The one character an economy transaction changes, as the transaction read it."""

    id: int
    account_id: int
    name: str
    state: CharacterState
    save_fence: int


class HeldItem(Frozen):
    holder_kind: str  # "mail" or "auction"
    holder_id: int
    item: ItemStack


class EconomyAudit(Frozen):
    """Where every coin and item of the realm is, read in one transaction.

    The conservation invariant (tests/social/test_conservation.py) is:
    `character_gold + mail_gold + auction_bids + auction_deposits + sum(sinks)` is
    constant, and the multiset of `(uid, item_id, count)` over `character_items` and
    `held_items` is constant with every uid appearing once."""

    character_gold: int
    mail_gold: int
    auction_bids: int
    auction_deposits: int
    sinks: dict[str, int]
    character_items: tuple[ItemStack, ...]
    held_items: tuple[HeldItem, ...]

    @property
    def total_gold(self) -> int:
        return (
            self.character_gold
            + self.mail_gold
            + self.auction_bids
            + self.auction_deposits
            + sum(self.sinks.values())
        )


class RelationKind(enum.StrEnum):
    FRIEND = "friend"
    IGNORE = "ignore"


class Relation(Frozen):
    owner_id: int
    other_id: int
    other_name: str
    kind: RelationKind


class Guild(Frozen):
    id: int
    name: str
    leader_id: int
    motd: str = ""
    created_at_ms: int


class GuildRank(Frozen):
    rank: int  # 0 is the guild master; larger is lower
    name: str
    permissions: int  # a bit set of `gameserver.rwam.guild.Perm`


class GuildMember(Frozen):
    guild_id: int
    character_id: int
    name: str
    rank: int
    joined_at_ms: int
