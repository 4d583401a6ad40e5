"""Handoffs between region servers, in one process: walking across a border, and draining
a shard. The same OEM mechanism serves both; no input is lost on the way."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from realm_client import RealmClient

from gameserver.embedded.realm import EmbeddedRealm
from gameserver.storage.models import ServerState
from gameserver.world.map import Bounds, RegionDef, StartPoint, WorldMap
from tests.conftest import realm_settings

BORDER_MAP = WorldMap(
    regions=(
        RegionDef(name="east", bounds=Bounds(min_x=0, min_y=0, max_x=300, max_y=300)),
        RegionDef(name="west", bounds=Bounds(min_x=-300, min_y=0, max_x=0, max_y=300)),
    ),
    starts={
        "alliance": StartPoint(region="east", x=4.0, y=150.0),
        "horde": StartPoint(region="east", x=4.0, y=160.0),
    },
)


@pytest.fixture
async def border_realm(tmp_path: Path) -> AsyncIterator[EmbeddedRealm]:
    r = EmbeddedRealm(realm_settings(tmp_path, autoscale=False), world=BORDER_MAP)
    await r.start()
    try:
        yield r
    finally:
        await r.stop()


async def _player(realm: EmbeddedRealm, user: str, name: str) -> RealmClient:
    assert realm.addresses is not None
    c = RealmClient(realm.addresses.http)
    await c.signup(user, "password123")
    await c.login(user, "password123")
    ch = await c.create_character(name, "human", "warrior")
    await c.enter_world(ch.id)
    return c


async def _all_acked(c: RealmClient, within_s: float = 5.0) -> None:
    assert c.predictor is not None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while c.predictor.acked_seq < c.predictor.seq:
        assert loop.time() < deadline, (c.predictor.acked_seq, c.predictor.seq)
        await asyncio.sleep(0.02)


def _server_of(realm: EmbeddedRealm, c: RealmClient) -> str:
    assert c.world is not None
    return c.world.server


async def test_walking_across_a_border_hands_the_player_over_without_losing_input(
    border_realm: EmbeddedRealm,
) -> None:
    walker = await _player(border_realm, "walker", "Walker")
    watcher = await _player(border_realm, "watcher", "Watcher")
    try:
        assert _server_of(border_realm, walker) == "east-0"
        first_eid = walker.entity_id
        for _ in range(40):  # 2 s west at 7 m/s: from x=4 to x=-10
            walker.move(-1, 0, 0.05)
            await asyncio.sleep(0.05)
        await _all_acked(walker)
        assert walker.handoffs == 1
        assert _server_of(border_realm, walker) == "west-0"
        assert walker.entity_id != first_eid
        # every input the client sent was simulated exactly once: the server's position is
        # the client's, which is the sum of all 40 frames
        assert walker.predictor is not None
        assert walker.predictor.acked_seq == walker.predictor.seq == 40
        snap = walker.last_snapshot
        assert snap is not None and snap.you is not None
        assert float(snap.you["x"]) == pytest.approx(4.0 - 40 * 0.35, abs=0.01)
        assert walker.position[0] == pytest.approx(float(snap.you["x"]), abs=0.01)
        # the realm knows where it is: the west server holds it, the east one does not
        west = border_realm.directory.get("west-0")
        east = border_realm.directory.get("east-0")
        assert west is not None and east is not None
        assert west.players == 1 and east.players == 1
        assert await walker.logout() is True
    finally:
        await walker.close()
        await watcher.close()


async def test_players_near_a_border_see_entities_on_the_other_side(
    border_realm: EmbeddedRealm,
) -> None:
    crosser = await _player(border_realm, "crosser", "Crosser")
    stayer = await _player(border_realm, "stayer", "Stayer")
    try:
        for _ in range(30):  # crosser goes to x = 4 - 10.5 = -6.5: the west server
            crosser.move(-1, 0, 0.05)
            stayer.move(0, 0, 0.05)
            await asyncio.sleep(0.05)
        await _all_acked(crosser)
        assert _server_of(border_realm, crosser) == "west-0"
        assert _server_of(border_realm, stayer) == "east-0"
        stayer.seen_players.clear()
        crosser.seen_players.clear()
        for _ in range(10):
            crosser.move(0, 0, 0.05)
            stayer.move(0, 0, 0.05)
            await asyncio.sleep(0.05)
        # each sees the other across the border, under its entity id on its own server
        assert crosser.entity_id in stayer.seen_players
        assert stayer.entity_id in crosser.seen_players
    finally:
        await crosser.close()
        await stayer.close()


async def test_a_drained_shard_moves_its_players_to_another_shard(
    border_realm: EmbeddedRealm,
) -> None:
    players = [await _player(border_realm, f"drainee{i}", f"Drainee{'abc'[i]}") for i in range(3)]
    try:
        second = border_realm.add_region_server(border_realm.world.region("east"))
        for _ in range(40):
            if second.state is ServerState.READY:
                break
            await asyncio.sleep(0.05)
        first = border_realm.directory.get("east-0")
        assert first is not None and first.players == 3
        positions = {p.entity_id: p.position for p in players}
        assert border_realm.hot is not None
        await border_realm.hot.request_drain(border_realm.settings.name, "east-0")
        for _ in range(300):  # the drain starts at the server's next heartbeat (1 s)
            if first.drained.is_set():
                break
            for p in players:
                p.move(0, 1, 0.05)
            await asyncio.sleep(0.05)
        assert first.drained.is_set() and first.players == 0
        assert second.players == 3  # drained only once every move it started has landed
        for p in players:
            await _all_acked(p)
            assert p.handoffs == 1 and _server_of(border_realm, p) == second.server_id
            assert p.connection is not None and p.connection.closed_reason is None
        # state intact: each is where its own inputs took it
        for p in players:
            snap = p.last_snapshot
            assert snap is not None and snap.you is not None
            assert float(snap.you["y"]) == pytest.approx(p.position[1], abs=0.01)
        beat = first.heartbeat()
        assert beat.state is ServerState.DRAINING and beat.players == 0 and beat.saved
        _ = positions
    finally:
        for p in players:
            await p.close()
