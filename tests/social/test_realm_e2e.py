"""Realm-wide actions end to end: real clients over UDP against an embedded realm."""

from __future__ import annotations

import asyncio

import pytest
from realm_client.bot import run_bots, summarise
from realm_client.client import RealmClient
from realm_client.social import ActionRefused

from gameserver.embedded.realm import EmbeddedRealm


async def _player(url: str, name: str) -> RealmClient:
    c = RealmClient(url)
    await c.signup(f"acct{name.lower()}", "correct horse battery")
    await c.login(f"acct{name.lower()}", "correct horse battery")
    ch = await c.create_character(name, "human", "warrior")
    await c.enter_world(ch.id)
    return c


async def test_whisper_mail_and_auction_between_two_clients(realm: EmbeddedRealm) -> None:
    assert realm.addresses is not None
    url = realm.addresses.http
    a = await _player(url, "Alleria")
    b = await _player(url, "Brann")
    try:
        heard = asyncio.ensure_future(b.social.wait_notice("chat"))
        assert await a.social.whisper("brann", "psst") == 1
        line = await heard
        assert line["from"] == "Alleria" and line["text"] == "psst"
        assert await a.social.say("hello") == 1  # Brann stands next to her

        inv = await a.social.inventory()
        start_gold = inv["gold"]
        jerky = next(row[0] for row in inv["page"] if row[1] == 117)
        mail_note = asyncio.ensure_future(b.social.wait_notice("mail_new"))
        await a.social.send_mail("Brann", "for you", gold=7, items=[jerky])
        await mail_note
        box = await b.social.mailbox()
        got = await b.social.take_mail(box["page"][0]["id"])
        assert got["gold"] == 7 and got["items"][0][0] == jerky
        assert (await a.social.inventory())["gold"] == start_gold - 7

        water = next(row[0] for row in (await b.social.inventory())["page"] if row[1] == 159)
        auction_id = await b.social.list_auction(water, start_bid=5, buyout=20)
        found = await a.social.search_auctions(name="spring water")
        assert [x["id"] for x in found["page"]] == [auction_id]
        with pytest.raises(ActionRefused) as refused:
            await b.social.buyout(auction_id)
        assert refused.value.code == "own_auction"
        await a.social.buyout(auction_id)
        won = (await a.social.mailbox())["page"][0]
        assert won["kind"] == "auction_won"
        await a.social.take_mail(won["id"])
        sold = (await b.social.mailbox())["page"][0]
        assert sold["kind"] == "auction_sold" and sold["gold"] == 20 - 1 + 1  # cut 1, deposit 1
    finally:
        for c in (a, b):
            await c.logout()
            await c.close()


async def test_bots_use_chat_mail_and_the_auction_house(realm: EmbeddedRealm) -> None:
    assert realm.addresses is not None
    reports = await run_bots(realm.addresses.http, 4, duration_s=3.0)
    summary = summarise(reports)
    assert summary["bots_in_world"] == 4, summary["bot_errors"]
    assert summary["bots_chatted"] == 4
    assert summary["bots_used_auction_house"] == 4
    assert summary["bots_mailed"] >= 1, [r.social_errors for r in reports]
