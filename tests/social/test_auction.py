"""The auction house: deposit, bids and refunds, buyout, cut, cancel, expiry, search."""

from __future__ import annotations

from gameserver.rwam.auction import cut_for, deposit_for

from .conftest import Env
from .support import assert_conserved, call, refused

HOUR = 3600 * 1000


def test_pricing_rules() -> None:
    assert deposit_for(100, 12) == 5 and deposit_for(100, 48) == 20 and deposit_for(1, 12) == 1
    assert cut_for(1000) == 50 and cut_for(19) == 0


async def test_bid_outbid_buyout_and_proceeds(env: Env) -> None:
    s = await env.character("Seller", gold=100, items=1)
    b1 = await env.character("Bidderone", gold=1000)
    b2 = await env.character("Biddertwo", gold=1000)
    start = await env.audit()
    uid = (await env.stored(s)).items[0].uid
    aid = (await call(env.actions, s.id, "auction.list", item=uid, start_bid=100, buyout=500,
                      hours=12))["id"]
    assert (await env.stored(s)).gold == 100 - deposit_for(100, 12)
    act = env.actions
    assert await refused(act, s.id, "auction.bid", id=aid, amount=200) == "own_auction"
    assert await refused(act, b1.id, "auction.bid", id=aid, amount=99) == "bid_too_low"
    await call(act, b1.id, "auction.bid", id=aid, amount=100)
    assert await refused(act, b1.id, "auction.bid", id=aid, amount=300) == "already_highest"
    assert await refused(act, b2.id, "auction.bid", id=aid, amount=104) == "bid_too_low"
    await call(act, b2.id, "auction.bid", id=aid, amount=105)
    assert (await env.stored(b1)).gold == 900  # the refund travels by mail
    refund = (await call(act, b1.id, "mail.list"))["page"][0]
    assert refund["kind"] == "auction_outbid" and refund["gold"] == 100
    await call(act, b1.id, "mail.take", id=refund["id"])
    assert (await env.stored(b1)).gold == 1000
    assert env.notifier.of(b1.id, "auction_outbid")
    assert_conserved(start, await env.audit())
    bought = await call(act, b1.id, "auction.bid", id=aid, amount=600)  # over buyout: buys out
    assert bought == {"bought": True}
    assert (await env.stored(b1)).gold == 1000 - 500
    won = [m for m in (await call(act, b1.id, "mail.list"))["page"] if m["kind"] == "auction_won"]
    got = await call(act, b1.id, "mail.take", id=won[0]["id"])
    assert got["items"][0][0] == uid
    sold = (await call(act, s.id, "mail.list"))["page"][0]
    assert sold["gold"] == 500 - cut_for(500) + deposit_for(100, 12)
    end = await env.audit()
    assert end.sinks == {"auction_cut": cut_for(500)}
    assert_conserved(start, end)


async def test_cancel_and_expiry(env: Env) -> None:
    s = await env.character("Merchant", gold=100, items=3)
    b = await env.character("Customer", gold=1000)
    start = await env.audit()
    uids = [it.uid for it in (await env.stored(s)).items]
    act = env.actions
    a1 = (await call(act, s.id, "auction.list", item=uids[0], start_bid=20, hours=12))["id"]
    a2 = (await call(act, s.id, "auction.list", item=uids[1], start_bid=20, hours=24))["id"]
    a3 = (await call(act, s.id, "auction.list", item=uids[2], start_bid=20, hours=48))["id"]
    await call(act, b.id, "auction.bid", id=a1, amount=30)
    await call(act, b.id, "auction.bid", id=a3, amount=20)
    assert await refused(act, b.id, "auction.cancel", id=a3) == "no_such_auction"
    await call(act, s.id, "auction.cancel", id=a3)  # bidder refunded, item back, deposit kept
    env.clock.advance(13 * HOUR)
    await act.tick()  # a1 sold to the bidder; a2 still running
    assert await refused(act, b.id, "auction.bid", id=a1, amount=40) == "no_such_auction"
    env.clock.advance(12 * HOUR)
    await act.tick()  # a2 expired unsold
    kinds = sorted(m["kind"] for m in (await call(act, s.id, "mail.list", limit=10))["page"])
    assert kinds == ["auction_cancelled", "auction_expired", "auction_sold"]
    kinds_b = sorted(m["kind"] for m in (await call(act, b.id, "mail.list", limit=10))["page"])
    assert kinds_b == ["auction_outbid", "auction_won"]
    end = await env.audit()
    assert end.sinks["auction_deposit"] == deposit_for(20, 24) + deposit_for(20, 48)
    assert_conserved(start, end)
    assert a2


async def test_search_filters_and_paging(env: Env) -> None:
    from gameserver.storage.models import ItemStack

    s = await env.character("Vendor", gold=10_000)
    buyer = await env.character("Browser")
    items = tuple(ItemStack(uid=f"u{i}", item_id=iid, count=1)
                  for i, iid in enumerate([2589, 2589, 2589, 2770, 1482]))
    await env.db.save_character(s.id, (await env.stored(s)).model_copy(update={"items": items}), 0)
    act = env.actions
    for i, it in enumerate(items):
        await call(act, s.id, "auction.list", item=it.uid, start_bid=10 + i, buyout=100 * (5 - i),
                   hours=12)
        env.clock.advance(1000)  # stay under the rate limit, distinct end times
    linen = await call(act, buyer.id, "auction.search", name="LINEN", limit=2)
    assert linen["total"] == 3 and len(linen["page"]) == 2
    rest = await call(act, buyer.id, "auction.search", name="linen", offset=2, limit=2)
    assert len(rest["page"]) == 1
    ids = {x["id"] for x in linen["page"]} | {x["id"] for x in rest["page"]}
    assert len(ids) == 3
    rare = await call(act, buyer.id, "auction.search", quality=3)
    assert [x["name"] for x in rare["page"]] == ["Shadowfang"]
    cheap = await call(act, buyer.id, "auction.search", max_price=250, sort="price")
    assert [x["buyout"] for x in cheap["page"]] == [100, 200]
    assert (await call(act, buyer.id, "auction.search", item_id=2770))["total"] == 1
    mine = await call(act, s.id, "auction.search", mine=True, limit=20)
    assert mine["total"] == 5 and all(x["mine"] for x in mine["page"])
    env.clock.advance(13 * 3600 * 1000)
    assert (await call(act, buyer.id, "auction.search"))["total"] == 0  # ended: not listed
    assert await refused(act, buyer.id, "auction.search", limit=500) == "bad_request"
    assert await refused(act, s.id, "auction.list", item="u0", start_bid=5, hours=7) in (
        "bad_duration", "no_such_item"
    )
