"""A bot plays like a player when it dies: it stops moving and releases its spirit, so the
server's anti-cheat never sees it walk as a corpse (and never kicks it for that)."""

from __future__ import annotations

import asyncio

import pytest
from realm_client.bot import Bot

from gameserver.clock import now_ms
from gameserver.embedded.realm import EmbeddedRealm
from gameserver.metrics import REGISTRY
from gameserver.region import combat
from gameserver.region.anticheat import MOVE_WHILE_DEAD
from gameserver.region.server import RegionServer
from gameserver.wire.structs import FLAG_DEAD

pytestmark = pytest.mark.e2e


async def _until(cond, timeout_s: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not cond():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_a_killed_bot_stops_and_respawns(realm: EmbeddedRealm) -> None:
    assert realm.addresses is not None
    bot = Bot(realm.addresses.http, 0, seed=7)
    run = asyncio.create_task(bot.run(duration_s=6.0))
    try:
        await _until(lambda: bot.report.in_world)
        cid = bot.report.character_id

        def holder() -> RegionServer | None:
            return next((s for s in realm.regions if s.holds(cid)), None)

        await _until(lambda: holder() is not None)
        server = holder()
        assert server is not None
        link = next(li for li in server.shard.players.values() if li.character_id == cid)
        w = server.shard.world
        await asyncio.sleep(0.5)  # walking
        combat.kill(server.shard, w.slot(link.eid), -1, now_ms())
        await _until(lambda: bot.report.deaths == 1)
        # It comes back (the respawn puts it at the graveyard, alive) and walks on.
        await _until(lambda: not w.flags[w.slot(link.eid)] & FLAG_DEAD)
        report = await run
    finally:
        if not run.done():
            run.cancel()
    assert report.error == ""
    assert report.deaths == 1
    labels = {
        "realm": server.realm,
        "region": server.region.name,
        "server": server.server_id,
        "kind": MOVE_WHILE_DEAD,
    }
    assert not REGISTRY.get_sample_value("realm_anticheat_detections_total", labels)
    assert link.kick is None  # never kicked
    assert report.logged_out_saved
