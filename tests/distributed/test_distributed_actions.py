"""Realm-wide actions with every role in its own process, over gRPC, on PostgreSQL and
Redis: a whisper reaches the other player (RCM -> `Rwam.Handle` -> `Rcm.Notify` on the
RCM in the route), gold and an item travel by mail, and an auction is bought out. Gold
and items of online characters change on the region server holding them
(`Region.Economy`), and the realm's gold and item multiset are conserved."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from realm_client import RealmClient

from gameserver.roles.local import LocalDistributedRealm
from gameserver.storage.factory import open_database
from gameserver.storage.realmdata import EconomyAudit
from tests.social.support import assert_conserved

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


@pytest.fixture
async def distributed(
    postgres_url: str, redis_url: str, tmp_path: Path
) -> AsyncIterator[LocalDistributedRealm]:
    realm = LocalDistributedRealm(
        postgres_url,
        redis_url,
        tmp_path / "logs",
        name=f"e2e{uuid.uuid4().hex[:8]}",
        extra_env={"REALM_ARGON2_TIME_COST": "1", "REALM_ARGON2_MEMORY_KIB": "1024"},
        log_level="WARNING",
    )
    await realm.start()
    try:
        yield realm
    finally:
        await realm.stop()


async def _character(realm: LocalDistributedRealm, user: str, name: str) -> tuple[RealmClient, int]:
    c = RealmClient(realm.gateway_url)
    await c.signup(user, "password123")
    await c.login(user, "password123")
    ch = await c.create_character(name, "human", "warrior")
    return c, ch.id


async def _seed(url: str, character_id: int, gold: int, uids: list[str]) -> None:
    """Give an offline character gold and bag items (straight into its row)."""
    conn = await asyncpg.connect(url)
    try:
        raw = await conn.fetchval("select state from characters where id = $1", character_id)
        state = json.loads(raw) if isinstance(raw, str) else dict(raw)
        state["gold"] = gold
        state["items"] = [
            *state.get("items", []),
            *({"uid": u, "item_id": 2589, "count": 2, "slot": None} for u in uids),
        ]
        await conn.execute(
            "update characters set state = $1::jsonb where id = $2",
            json.dumps(state),
            character_id,
        )
    finally:
        await conn.close()


async def _notice(c: RealmClient, kind: str, **match: object) -> dict[str, object]:
    """The first notice of `kind` (whose body has `match`) the client got, waiting for it."""
    deadline = time.monotonic() + 10
    while True:
        for k, body in list(c.social.notices):
            if k == kind and all(body.get(key) == v for key, v in match.items()):
                return body
        assert time.monotonic() < deadline, f"no {kind} notice {match}"
        await asyncio.sleep(0.02)


async def _audit(realm: LocalDistributedRealm, tmp: Path) -> EconomyAudit:
    db = await open_database(realm.postgres_url, tmp, realm=realm.name)
    try:
        return await db.audit()
    finally:
        await db.close()


async def _stored(url: str, character_id: int) -> dict[str, object]:
    conn = await asyncpg.connect(url)
    try:
        raw = await conn.fetchval("select state from characters where id = $1", character_id)
    finally:
        await conn.close()
    return json.loads(raw) if isinstance(raw, str) else dict(raw)


async def test_whisper_mail_and_auction(
    distributed: LocalDistributedRealm, tmp_path: Path
) -> None:
    realm = distributed
    a, a_id = await _character(realm, "alice", "Alice")
    b, b_id = await _character(realm, "bob", "Bob")
    gift, lot = uuid.uuid4().hex, uuid.uuid4().hex
    try:
        await _seed(realm.postgres_url, a_id, 1_000, [gift, lot])
        await _seed(realm.postgres_url, b_id, 2_000, [])
        start = await _audit(realm, tmp_path)
        await a.enter_world(a_id)
        await b.enter_world(b_id)

        # A whisper: Alice's RCM -> the RWAM -> a notice back through Bob's RCM.
        assert await a.social.whisper("Bob", "psst") == 1
        await _notice(b, "chat", channel="whisper", text="psst")
        # Say: the speaker's region server (another process) answers who stands near.
        assert await a.social.say("hello there") == 1
        await _notice(b, "chat", channel="say", text="hello there")

        # Gold and an item by mail; Bob takes them (both online: region transactions).
        inv = await a.social.inventory()
        assert inv["gold"] == 1_000
        mail_id = await a.social.send_mail("Bob", "a gift", gold=300, items=[gift])
        await _notice(b, "mail_new", id=mail_id)
        taken = await b.social.take_mail(mail_id)
        assert taken["gold"] == 300
        assert [x[0] for x in taken["items"]] == [gift]

        # An auction bought out: the lot reaches Bob, the price (less the cut) Alice, by mail.
        auction_id = await a.social.list_auction(lot, start_bid=50, buyout=200)
        await b.social.buyout(auction_id)
        await _notice(a, "auction_sold", auction=auction_id)
        assert (await b.social.inventory())["gold"] == 2_000 + 300 - 200
        for c in (a, b):
            box = await c.social.mailbox()
            for m in box["page"]:
                if m["kind"] in ("auction_won", "auction_sold"):
                    await c.social.take_mail(m["id"])
        alice_gold = (await a.social.inventory())["gold"]
        assert 700 < alice_gold < 900  # 1000 - 300 mailed - deposit + 200 - cut

        # Conservation while both are online (their region servers committed every change).
        assert_conserved(start, await _audit(realm, tmp_path))
        assert await a.logout() is True
        assert await b.logout() is True
    finally:
        await a.close()
        await b.close()

    end = await _audit(realm, tmp_path)
    assert_conserved(start, end)
    bob = await _stored(realm.postgres_url, b_id)
    alice = await _stored(realm.postgres_url, a_id)
    assert bob["gold"] == 2_100
    bob_uids = {it["uid"] for it in bob["items"]}  # type: ignore[attr-defined]
    assert {gift, lot} <= bob_uids
    alice_uids = {it["uid"] for it in alice["items"]}  # type: ignore[attr-defined]
    assert not ({gift, lot} & alice_uids)
    assert alice["gold"] == alice_gold
