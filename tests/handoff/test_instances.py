"""Dungeon instances: a portal takes a player into its party's instance (or a new one,
packed onto the fullest host with room), lockouts bind a character to its instance, the
exit returns it to where it came in, and an empty instance unloads after its delay."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from realm_client import RealmClient

from gameserver.embedded.realm import EmbeddedRealm
from gameserver.storage.models import ServerKind
from gameserver.world.map import Bounds, Point, Portal, RegionDef, StartPoint, WorldMap
from tests.conftest import realm_settings

DUNGEON_MAP = WorldMap(
    regions=(
        RegionDef(name="town", bounds=Bounds(min_x=0, min_y=0, max_x=200, max_y=200)),
        RegionDef(
            name="crypt",
            kind=ServerKind.INSTANCE,
            bounds=Bounds(min_x=0, min_y=0, max_x=100, max_y=100),
            entry=Point(x=50.0, y=50.0),
            exit=Point(x=40.0, y=50.0),
        ),
    ),
    starts={
        "alliance": StartPoint(region="town", x=10.0, y=100.0),
        "horde": StartPoint(region="town", x=10.0, y=100.0),
    },
    portals=(Portal(region="town", x=16.0, y=100.0, radius=2.0, instance="crypt"),),
)


@pytest.fixture
async def dungeon_realm(tmp_path: Path) -> AsyncIterator[EmbeddedRealm]:
    r = EmbeddedRealm(
        realm_settings(tmp_path, autoscale=False, instance_unload_delay_s=0.5, instance_hosts=2),
        world=DUNGEON_MAP,
    )
    await r.start()
    try:
        yield r
    finally:
        await r.stop()


async def _player(realm: EmbeddedRealm, name: str) -> RealmClient:
    assert realm.addresses is not None
    c = RealmClient(realm.addresses.http)
    await c.signup(name.lower(), "password123")
    await c.login(name.lower(), "password123")
    ch = await c.create_character(name, "human", "warrior")
    await c.enter_world(ch.id)
    return c


async def _walk_until(c: RealmClient, dx: float, dy: float, region: str, frames: int = 60) -> None:
    for _ in range(frames):
        if c.world is not None and c.world.region == region:
            break
        c.move(dx, dy, 0.05)
        await asyncio.sleep(0.05)
    for _ in range(40):  # let the move land
        if c.world is not None and c.world.region == region:
            break
        await asyncio.sleep(0.05)
    assert c.world is not None and c.world.region == region, c.world
    await asyncio.sleep(0.3)  # snapshots from the new server


async def _settle(c: RealmClient) -> None:
    assert c.predictor is not None
    for _ in range(100):
        if c.predictor.acked_seq == c.predictor.seq:
            return
        await asyncio.sleep(0.03)
    raise AssertionError((c.predictor.acked_seq, c.predictor.seq))


async def test_portal_party_lockout_exit_and_unload(dungeon_realm: EmbeddedRealm) -> None:
    realm = dungeon_realm
    assert realm.oem is not None and realm.oem.instances is not None
    instances = realm.oem.instances
    leader = await _player(realm, "Leader")
    member = await _player(realm, "Member")
    loner = await _player(realm, "Loner")
    try:
        await leader.social.invite("Member")
        await member.social.accept_invite()

        await _walk_until(leader, 1, 0, "crypt")
        await _settle(leader)
        first = leader.world.server  # type: ignore[union-attr]
        assert leader.position == pytest.approx((50.0, 50.0), abs=0.5)
        assert leader.predictor is not None and leader.predictor.acked_seq == leader.predictor.seq

        await _walk_until(member, 1, 0, "crypt")  # the party's instance
        assert member.world is not None and member.world.server == first
        await _walk_until(loner, 1, 0, "crypt")  # no party: a new instance
        assert loner.world is not None and loner.world.server != first
        loner_instance = loner.world.server
        assert len(instances.instances) == 2
        # packed: both instances on the same (fullest) host
        hosts = {instances.instances[i].host_id for i in instances.instances}
        assert len(hosts) == 1

        # the leader sees the member inside, and leaves through the exit, back where it
        # came in (just outside the portal, on the side it came from)
        await _settle(member)
        await _walk_until(leader, -1, 0, "town")
        await _settle(leader)
        x, y = leader.position
        assert 16.0 - 2.0 * 2.5 - 0.6 <= x <= 16.0 - 2.0 * 2.5 + 0.6 and y == pytest.approx(
            100.0, abs=0.6
        )

        # lockout: walking back in lands in the same instance, not a new one
        await _walk_until(leader, 1, 0, "crypt", frames=80)
        assert leader.world is not None and leader.world.server == first
        assert len(instances.instances) == 2

        # everyone leaves the loner's instance: it unloads after its delay
        await _walk_until(loner, -1, 0, "town")
        for _ in range(60):
            if len(instances.instances) == 1:
                break
            await asyncio.sleep(0.05)
        assert list(instances.instances) == [first]
        assert all(s.server_id != loner_instance for s in realm.regions)
    finally:
        for c in (leader, member, loner):
            await c.close()


async def test_logging_out_inside_resumes_in_the_instance_or_outside_once_it_is_gone(
    dungeon_realm: EmbeddedRealm,
) -> None:
    realm = dungeon_realm
    c = await _player(realm, "Delver")
    try:
        await _walk_until(c, 1, 0, "crypt")
        inst = c.world.server  # type: ignore[union-attr]
        assert await c.logout() is True
        (ch,) = await c.characters()
        again = await c.enter_world(ch.id)  # the instance is still loaded: back inside
        assert again.region == "crypt" and again.server == inst
        assert await c.logout() is True
        assert realm.oem is not None and realm.oem.instances is not None
        for _ in range(60):  # empty: it unloads
            if not realm.oem.instances.instances:
                break
            await asyncio.sleep(0.05)
        assert not realm.oem.instances.instances
        back = await c.enter_world(ch.id)  # gone: the character comes out at its return point
        assert back.region == "town"
        assert back.x == pytest.approx(16.0 - 5.0, abs=0.6)
    finally:
        await c.close()
