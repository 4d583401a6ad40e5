"""Over real sockets: a client attacks an NPC and kills it, and the experience and loot
are saved with the character."""

from __future__ import annotations

import asyncio
import json
import sqlite3

import pytest
from realm_client import RealmClient

from gameserver.embedded.realm import EmbeddedRealm
from gameserver.wire.structs import EV_DEATH, EV_LOOT, EV_XP, FLAG_DEAD

pytestmark = pytest.mark.e2e


async def _until(cond, timeout_s: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not cond():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_client_kills_an_npc_over_udp_and_rewards_are_saved(realm: EmbeddedRealm) -> None:
    assert realm.addresses is not None
    c = RealmClient(realm.addresses.http)
    await c.signup("slayer", "password123")
    await c.login("slayer", "password123")
    ch = await c.create_character("Slayer", "human", "mage")
    await c.enter_world(ch.id)
    try:

        def boar() -> int:
            view = c.view.views.get(c.view.latest_tick)
            if view is None:
                return 0
            npcs = view[
                (view["kind"] == 1) & (abs(view["x"] - 25) < 1) & (abs(view["y"] - 480) < 1)
            ]
            return int(npcs["id"][0]) if len(npcs) else 0

        await _until(lambda: boar() != 0)
        target = boar()
        # Turn to face it (a stationary frame), then Fireball until it dies.
        c.move(25 - c.position[0], 480 - c.position[1], 0.05, speed=0.0)
        def dead():
            return any(
                    int(e["kind"]) == EV_DEATH and int(e["target"]) == target for e in c.events
                )
        c.auto_attack(target)
        for _ in range(6):
            if dead():
                break
            c.cast(2, target)
            await asyncio.sleep(1.7)
        await _until(dead)
        await _until(lambda: any(int(e["kind"]) == EV_LOOT for e in c.events))
        xp = [int(e["amount"]) for e in c.events if int(e["kind"]) == EV_XP]
        assert xp == [30]
        assert c.loot == [(2010, 1)]
        await _until(lambda: c.xp == 30)
        view = c.view.views[c.view.latest_tick]
        corpse = view[view["id"] == target]
        assert len(corpse) == 0 or int(corpse["flags"][0]) & FLAG_DEAD
        assert await c.logout() is True
    finally:
        await c.close()
    db = sqlite3.connect(realm.settings.data_dir / "realm.sqlite3")
    (state,) = db.execute("select state from characters where name = 'Slayer'").fetchone()
    saved = json.loads(state)
    assert saved["xp"] == 30
    assert [i["item_id"] for i in saved["items"]].count(2010) == 1
