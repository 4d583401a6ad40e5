"""Dungeon instances with every role in its own process: a player walks into the Westfall
portal, the OEM has the Deadmines instance host start an instance (over gRPC) and hands
the player into it; it walks out through the exit and is back outside by the portal, with
every input acked exactly once; the empty instance unloads after its delay, and the host,
asked to drain, exits once it runs no instance.

The realm runs the built-in map, except that new characters start a few metres east of
the portal (`REALM_MAP_FILE`, written by `LocalDistributedRealm`), so the walk is short."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from realm_client import RealmClient

from gameserver.roles.local import LocalDistributedRealm
from gameserver.storage.factory import open_hot_state
from gameserver.world.map import DEFAULT_MAP, StartPoint
from tests.distributed.test_distributed_journey import _player, _settle, _until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]

PORTAL = DEFAULT_MAP.portals[0]
DUNGEON = DEFAULT_MAP.region(PORTAL.instance)
BY_THE_PORTAL = DEFAULT_MAP.model_copy(
    update={
        "starts": {
            faction: StartPoint(region=PORTAL.region, x=PORTAL.x + 10.0, y=PORTAL.y)
            for faction in DEFAULT_MAP.starts
        }
    }
)


@pytest.fixture
async def distributed(
    postgres_url: str, redis_url: str, tmp_path: Path
) -> AsyncIterator[LocalDistributedRealm]:
    realm = LocalDistributedRealm(
        postgres_url,
        redis_url,
        tmp_path / "logs",
        name=f"in{uuid.uuid4().hex[:8]}",
        world=BY_THE_PORTAL,
        extra_env={
            "REALM_ARGON2_TIME_COST": "1",
            "REALM_ARGON2_MEMORY_KIB": "1024",
            "REALM_INSTANCE_UNLOAD_DELAY_S": "1",
        },
        log_level="WARNING",
    )
    await realm.start()
    try:
        yield realm
    finally:
        await realm.stop()


async def _walk_until(c: RealmClient, dx: float, region: str, frames: int = 80) -> None:
    """Walk along x until the server has moved the player into `region`."""
    for _ in range(frames):
        if c.world is not None and c.world.region == region:
            break
        c.move(dx, 0, 0.05, None)
        await asyncio.sleep(0.05)
    await _until(lambda: c.world is not None and c.world.region == region, 5, f"not in {region}")


async def test_portal_instance_exit_and_unload(distributed: LocalDistributedRealm) -> None:
    realm = distributed
    assert "deadmines-host-0" in realm.alive()
    hot = await open_hot_state(realm.redis_url, realm=realm.name)
    c = await _player(realm, "delver", "Delver")
    try:
        assert c.world is not None and c.world.region == PORTAL.region
        # east of the portal; walk west into it
        await _walk_until(c, -1, DUNGEON.name)
        await _settle(c)
        assert c.world is not None
        instance = c.world.server
        assert instance.startswith(f"{DUNGEON.name}-")
        assert c.handoffs == 1
        assert DUNGEON.entry is not None
        assert c.position == pytest.approx((DUNGEON.entry.x, DUNGEON.entry.y), abs=1.5)
        await _until(
            lambda: c.last_snapshot is not None and c.last_snapshot.you is not None,
            5,
            "no snapshot from inside the instance",
        )
        beats = {b.server_id: b for b in await hot.servers(realm.name)}
        assert beats[instance].region == DUNGEON.name and not beats[instance].host
        assert beats["deadmines-host-0"].host  # the host heartbeats on its own

        # out through the exit (west of the entry): back outside, just east of the portal
        await _walk_until(c, -1, PORTAL.region)
        await _settle(c)
        assert c.world is not None and c.world.server == f"{PORTAL.region}-0"
        assert c.handoffs == 2
        back_x = PORTAL.x + PORTAL.radius * 2.5
        assert c.position[0] == pytest.approx(back_x, abs=1.5)
        assert c.position[1] == pytest.approx(PORTAL.y, abs=0.5)
        p = c.predictor
        assert p is not None and p.acked_seq == p.seq  # every input, exactly once

        # the empty instance unloads after its delay: its shard leaves the registry
        deadline = time.monotonic() + 10
        while instance in {b.server_id for b in await hot.servers(realm.name)}:
            assert time.monotonic() < deadline, "the empty instance never unloaded"
            await asyncio.sleep(0.1)
        assert await c.logout() is True

        # a drained instance host with no instance left exits on its own, with code 0
        await hot.request_drain(realm.name, "deadmines-host-0")
        host = realm.child("deadmines-host-0")
        assert await asyncio.wait_for(host.proc.wait(), 10) == 0
    finally:
        await c.close()
        await hot.close()
