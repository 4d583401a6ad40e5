"""The auction house: list, bid, buy out, cancel, expire, search.

Money paths, each one transaction (see `economy.py` for why that is enough):

* **list**: the item and the deposit leave the seller; the auction holds both.
* **bid**: the bid leaves the bidder and the auction holds it; the bid it replaces goes
  back to its bidder by mail in the same transaction.
* **buyout / expiry with a bid**: the item goes to the winner by mail; the seller gets
  `price - cut + deposit` by mail; the cut goes to the `auction_cut` sink.
* **cancel / expiry without a bid**: the item goes back to the seller by mail, any bid
  back to its bidder, and the deposit to the `auction_deposit` sink.

So the conservation invariant over characters, mail and auctions holds exactly, with
the two sinks as the only way out (`tests/social/test_conservation.py`).

Pricing is pure (`deposit_for`, `cut_for`, `min_next_bid`) so the rules are tested alone
and a studio tunes them in one place.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from gameserver import metrics
from gameserver.rwam.economy import EconomyRouter, Wallet
from gameserver.rwam.errors import ActionError
from gameserver.rwam.items import SOULBOUND, item_info
from gameserver.rwam.limits import RateLimiter
from gameserver.rwam.mail import held_mail
from gameserver.rwam.notify import Notifier
from gameserver.rwam.rules import check_amount
from gameserver.storage.interfaces import RealmDatabase, RealmTx
from gameserver.storage.realmdata import Auction, AuctionQuery, MailKind, NewAuction

log = logging.getLogger(__name__)

HOUR_MS = 3600 * 1000
DURATIONS_H = (12, 24, 48)
MAX_LISTINGS = 50  # running auctions per seller
DEPOSIT_SINK = "auction_deposit"
CUT_SINK = "auction_cut"


def deposit_for(start_bid: int, duration_h: int) -> int:
    """5% of the start bid per 12 hours listed, at least 1: kept if the item does not
    sell (the cost of cluttering the house), returned with the proceeds if it does."""
    return max(1, start_bid * duration_h // 240)


def cut_for(price: int) -> int:
    """The house keeps 5% of the sale price."""
    return price * 5 // 100


def min_next_bid(auction: Auction) -> int:
    """The start bid, or the current bid plus 5% (at least 1)."""
    if auction.bid == 0:
        return auction.start_bid
    return auction.bid + max(1, auction.bid // 20)


class AuctionService:
    def __init__(
        self,
        db: RealmDatabase,
        router: EconomyRouter,
        notifier: Notifier,
        clock: Callable[[], int],
        *,
        limiter: RateLimiter | None = None,
        realm: str = "home",
    ) -> None:
        self.db = db
        self.router = router
        self.notifier = notifier
        self.clock = clock
        self.limiter = limiter or RateLimiter({"auction": (2.0, 10.0)})
        self.realm = realm

    def _throttle(self, character_id: int, now: int) -> None:
        if not self.limiter.allow(character_id, "auction", now):
            raise ActionError("rate_limited", "slow down at the auction house")

    # --- selling ------------------------------------------------------------------------

    async def list_item(
        self, seller_id: int, item_uid: str, start_bid: int, buyout: int, duration_h: int
    ) -> int:
        check_amount(start_bid, "the start bid")
        check_amount(buyout, "the buyout", allow_zero=True)
        if buyout and buyout < start_bid:
            raise ActionError("bad_buyout", "the buyout may not be below the start bid")
        if duration_h not in DURATIONS_H:
            raise ActionError("bad_duration", f"auctions run {', '.join(map(str, DURATIONS_H))} h")
        now = self.clock()
        self._throttle(seller_id, now)
        deposit = deposit_for(start_bid, duration_h)

        async def op(tx: RealmTx, wallet: Wallet) -> int:
            if await tx.count_auctions(seller_id) >= MAX_LISTINGS:
                raise ActionError("too_many_auctions", f"at most {MAX_LISTINGS} auctions at once")
            item = wallet.take_item(item_uid)
            if item.item_id in SOULBOUND:
                raise ActionError("soulbound", "that item is bound to you")
            wallet.take_gold(deposit)
            info = item_info(item.item_id)
            return await tx.insert_auction(
                NewAuction(
                    seller_id=seller_id, seller_name=wallet.name, item=item,
                    item_name=info.name, item_level=info.level, quality=info.quality,
                    start_bid=start_bid, buyout=buyout, deposit=deposit,
                    created_at_ms=now, ends_at_ms=now + duration_h * HOUR_MS,
                )
            )

        return await self.router.run(seller_id, op)

    async def cancel(self, seller_id: int, auction_id: int) -> None:
        now = self.clock()
        self._throttle(seller_id, now)

        async def op(tx: RealmTx) -> int | None:
            a = await tx.auction(auction_id)
            if a is None or a.seller_id != seller_id:
                raise ActionError("no_such_auction", "you have no such auction")
            if a.ends_at_ms <= now:
                raise ActionError("auction_ended", "that auction has ended")
            return await self._close_unsold(tx, a, now, MailKind.AUCTION_CANCELLED)

        refunded = await self.router.realm_only(op)
        if refunded is not None:
            self.notifier.notify(refunded, "auction_outbid", {"auction": auction_id})

    # --- buying -------------------------------------------------------------------------

    async def bid(self, bidder_id: int, auction_id: int, amount: int) -> bool:
        """Place a bid; a bid at or above the buyout buys the item out (returns True)."""
        check_amount(amount, "the bid")
        now = self.clock()
        self._throttle(bidder_id, now)

        async def op(tx: RealmTx, wallet: Wallet) -> tuple[bool, int | None, int]:
            a = await self._open(tx, auction_id, bidder_id, now)
            if a.bidder_id == bidder_id:
                raise ActionError("already_highest", "you already hold the highest bid")
            if a.buyout and amount >= a.buyout:
                refunded = await self._buy(tx, wallet, a, now)
                return True, refunded, a.seller_id
            if amount < min_next_bid(a):
                raise ActionError("bid_too_low", f"the lowest bid is {min_next_bid(a)}")
            wallet.take_gold(amount)
            refunded = await self._refund(tx, a, now)
            await tx.set_bid(auction_id, bidder_id, amount)
            return False, refunded, a.seller_id

        bought, refunded, seller = await self.router.run(bidder_id, op)
        if refunded is not None:
            self.notifier.notify(refunded, "auction_outbid", {"auction": auction_id})
        if bought:
            self.notifier.notify(seller, "auction_sold", {"auction": auction_id})
        return bought

    async def buyout(self, buyer_id: int, auction_id: int) -> None:
        now = self.clock()
        self._throttle(buyer_id, now)

        async def op(tx: RealmTx, wallet: Wallet) -> tuple[int | None, int]:
            a = await self._open(tx, auction_id, buyer_id, now)
            if not a.buyout:
                raise ActionError("no_buyout", "that auction has no buyout price")
            return await self._buy(tx, wallet, a, now), a.seller_id

        refunded, seller = await self.router.run(buyer_id, op)
        if refunded is not None:
            self.notifier.notify(refunded, "auction_outbid", {"auction": auction_id})
        self.notifier.notify(seller, "auction_sold", {"auction": auction_id})

    @staticmethod
    async def _open(tx: RealmTx, auction_id: int, buyer_id: int, now: int) -> Auction:
        a = await tx.auction(auction_id)
        if a is None:
            raise ActionError("no_such_auction", "that auction is gone")
        if a.ends_at_ms <= now:
            raise ActionError("auction_ended", "that auction has ended")
        if a.seller_id == buyer_id:
            raise ActionError("own_auction", "you cannot bid on your own auction")
        return a

    async def _buy(self, tx: RealmTx, wallet: Wallet, a: Auction, now: int) -> int | None:
        wallet.take_gold(a.buyout)
        refunded = await self._refund(tx, a, now)
        await self._close_sold(tx, a, wallet.character_id, a.buyout, now)
        return refunded

    @staticmethod
    async def _refund(tx: RealmTx, a: Auction, now: int) -> int | None:
        if a.bidder_id is None or a.bid == 0:
            return None
        await tx.insert_mail(
            held_mail(
                kind=MailKind.AUCTION_OUTBID, recipient_id=a.bidder_id,
                subject=f"Outbid on {a.item_name}", gold=a.bid, now_ms=now,
            )
        )
        return a.bidder_id

    @staticmethod
    async def _close_sold(tx: RealmTx, a: Auction, winner: int, price: int, now: int) -> None:
        cut = cut_for(price)
        await tx.delete_auction(a.id)  # frees the item's held row before the mail takes it
        await tx.insert_mail(
            held_mail(
                kind=MailKind.AUCTION_WON, recipient_id=winner,
                subject=f"Auction won: {a.item_name}", items=(a.item,), now_ms=now,
            )
        )
        await tx.insert_mail(
            held_mail(
                kind=MailKind.AUCTION_SOLD, recipient_id=a.seller_id,
                subject=f"Auction sold: {a.item_name}", gold=price - cut + a.deposit,
                now_ms=now, body=f"Sold for {price}; the house kept {cut}.",
            )
        )
        await tx.add_sink(CUT_SINK, cut)

    async def _close_unsold(
        self, tx: RealmTx, a: Auction, now: int, kind: MailKind
    ) -> int | None:
        refunded = await self._refund(tx, a, now)
        await tx.delete_auction(a.id)
        verb = "cancelled" if kind is MailKind.AUCTION_CANCELLED else "expired"
        await tx.insert_mail(
            held_mail(
                kind=kind, recipient_id=a.seller_id, subject=f"Auction {verb}: {a.item_name}",
                items=(a.item,), now_ms=now,
            )
        )
        await tx.add_sink(DEPOSIT_SINK, a.deposit)
        return refunded

    # --- searching ----------------------------------------------------------------------

    async def search(self, query: AuctionQuery) -> tuple[list[Auction], int]:
        return await self.db.search_auctions(query, self.clock())

    # --- the timer ----------------------------------------------------------------------

    async def expire(self, now_ms: int | None = None, batch: int = 100) -> int:
        """Close every auction past its end: sold to the highest bidder, else returned."""
        now = self.clock() if now_ms is None else now_ms
        closed = 0
        for auction_id in await self.db.due_auctions(now, batch):

            async def op(tx: RealmTx, auction_id: int = auction_id) -> tuple[str, Auction | None]:
                a = await tx.auction(auction_id)
                if a is None or a.ends_at_ms > now:
                    return "skipped", None
                if a.bidder_id is not None and a.bid > 0:
                    await self._close_sold(tx, a, a.bidder_id, a.bid, now)
                    return "sold", a
                await self._close_unsold(tx, a, now, MailKind.AUCTION_EXPIRED)
                return "expired", a

            try:
                outcome, a = await self.router.realm_only(op)
            except ActionError as e:
                log.warning("auction %s expiry failed: %s", auction_id, e)
                continue
            if a is None:
                continue
            closed += 1
            metrics.ECONOMY_EXPIRED.labels(self.realm, f"auction_{outcome}").inc()
            self.notifier.notify(a.seller_id, f"auction_{outcome}", {"auction": a.id})
            if outcome == "sold" and a.bidder_id is not None:
                self.notifier.notify(a.bidder_id, "auction_won", {"auction": a.id})
        return closed
