"""Nothing lost, nothing duplicated: many clients at once on the same auctions and mail.

The invariant (see `EconomyAudit`): the realm's gold, counting what characters carry,
what mail holds, the bids and deposits auctions hold, and the two documented sinks
(`auction_deposit`: deposits of unsold auctions; `auction_cut`: the house's 5%), is
constant; and the multiset of (uid, item id, count) over characters, mail and auctions is
constant, with every uid in exactly one place.

Real concurrency: every action is its own asyncio task, against the real PostgreSQL pool
(twenty connections, row locks, deadlock retries) and against SQLite; half the
characters are online, so their transactions go through their region server while it
checkpoints them.
"""

from __future__ import annotations

import asyncio
import json
import random

from .conftest import Env
from .support import assert_conserved

N_CHARS = 12
ROUNDS = 5


async def test_concurrent_mail_bids_buyouts_cancels_conserve(env: Env) -> None:
    rng = random.Random(8)
    chars = [
        await env.character(f"Trader{chr(97 + i)}", gold=5_000, items=4) for i in range(N_CHARS)
    ]
    for ch in chars[: N_CHARS // 2]:
        await env.enter(ch)
    # Unlimited rates: this test is about contention, not spam.
    for svc in (env.actions.mail, env.actions.auctions):
        svc.limiter._rates = {k: (1e9, 1e9) for k in svc.limiter._rates}
    start = await env.audit()
    act = env.actions
    outcomes: dict[str, int] = {}

    async def attempt(cid: int, op: str, **body: object) -> dict[str, object]:
        ok, code, _, text = await act.handle(cid, op, json.dumps(body))
        key = f"{op}:{'ok' if ok else code}"
        outcomes[key] = outcomes.get(key, 0) + 1
        return json.loads(text) if ok and text else {}

    async def items_of(cid: int) -> list[str]:
        inv = await attempt(cid, "inventory", limit=20)
        return [row[0] for row in inv.get("page", [])]  # type: ignore[union-attr]

    # A few auctions everyone fights over.
    auction_ids: list[int] = []
    for seller in chars[:4]:
        uid = (await items_of(seller.id))[0]
        r = await attempt(seller.id, "auction.list", item=uid, start_bid=100, buyout=1_000,
                          hours=12)
        auction_ids.append(int(r["id"]))  # type: ignore[arg-type]

    saving = asyncio.Event()

    async def checkpoints() -> None:
        while not saving.is_set():
            for server in env.servers.values():
                await server.checkpoint()
            await asyncio.sleep(0)

    async def client(ch_index: int, rnd: int) -> None:
        me = chars[ch_index]
        other = chars[(ch_index + 1 + rng.randrange(N_CHARS - 1)) % N_CHARS]
        choice = rng.randrange(6)
        target = rng.choice(auction_ids)
        if choice == 0:
            mine = await items_of(me.id)
            gold = rng.randint(1, 50)
            await attempt(me.id, "mail.send", to=other.name, subject="t", gold=gold, items=mine[:1])
        elif choice == 1:
            await attempt(me.id, "auction.bid", id=target, amount=100 + rnd * 50 + ch_index)
        elif choice == 2:
            await attempt(me.id, "auction.buyout", id=target)
        elif choice == 3:
            await attempt(me.id, "auction.cancel", id=target)
        elif choice == 4:
            box = await attempt(me.id, "mail.list", limit=5)
            for m in box.get("page", []):  # type: ignore[union-attr]
                await attempt(me.id, "mail.take", id=m["id"])
        else:
            mine = await items_of(me.id)
            if mine:
                r = await attempt(me.id, "auction.list", item=mine[-1], start_bid=50,
                                  buyout=400, hours=24)
                if r:
                    auction_ids.append(int(r["id"]))  # type: ignore[arg-type]

    background = asyncio.create_task(checkpoints())
    try:
        for rnd in range(ROUNDS):
            await asyncio.gather(*(client(i, rnd) for i in range(N_CHARS) for _ in range(2)))
            assert_conserved(start, await env.audit())
        env.clock.advance(25 * 3600 * 1000)  # every auction ends
        await act.tick()
    finally:
        saving.set()
        await background
    end = await env.audit()
    assert_conserved(start, end)
    assert end.auction_bids == 0 and end.auction_deposits == 0  # all closed by expiry
    # The fight really happened: bids, buyouts and cancels both won and lost races.
    assert outcomes.get("auction.bid:ok", 0) > 0 and outcomes.get("mail.send:ok", 0) > 0
    assert outcomes.get("auction.buyout:ok", 0) + outcomes.get("auction.cancel:ok", 0) > 0
    assert any(k.startswith("auction.") and not k.endswith(":ok") for k in outcomes)
    for ch in chars[: N_CHARS // 2]:
        await env.leave(ch)
    assert_conserved(start, await env.audit())
