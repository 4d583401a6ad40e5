"""The local supervisor applies the shared scaling policy to the embedded realm's shards:
a second shard starts when players exceed the target, and it is drained (never stopped
with players on it) once they leave."""

from __future__ import annotations

import asyncio
from pathlib import Path

from realm_client import RealmClient

from gameserver.embedded.realm import EmbeddedRealm
from gameserver.storage.models import ServerState
from tests.conftest import realm_settings
from tests.handoff.test_handoff import BORDER_MAP


async def _until(cond, within_s: float, what: str) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    end = loop.time() + within_s
    while not cond():
        assert loop.time() < end, what
        await asyncio.sleep(0.05)


async def test_supervisor_scales_a_region_up_with_players_and_back_down(tmp_path: Path) -> None:
    settings = realm_settings(
        tmp_path,
        players_per_server=4,
        target_utilisation=0.75,
        scale_down_window_s=1.0,
        drain_timeout_s=30.0,
    )
    realm = EmbeddedRealm(settings, world=BORDER_MAP)
    await realm.start()
    clients: list[RealmClient] = []
    try:
        assert realm.supervisor is not None and realm.addresses is not None
        east = lambda: [s for s in realm.regions if s.region.name == "east"]  # noqa: E731

        async def join(i: int) -> RealmClient:
            c = RealmClient(realm.addresses.http)  # type: ignore[union-attr]
            await c.signup(f"load{i}", "password123")
            await c.login(f"load{i}", "password123")
            ch = await c.create_character(f"Load{'abcdefgh'[i]}", "human", "warrior")
            await c.enter_world(ch.id)
            return c

        for i in range(3):
            clients.append(await join(i))
        await asyncio.sleep(1.5)
        assert len(east()) == 1  # 3 players = the target of one shard (4 x 0.75)
        # a fourth and fifth player: over the target, a second shard starts (the fifth
        # waits in the login queue until it is Ready: the queue drives the scale-up too)
        extra = await asyncio.gather(join(3), join(4))
        clients.extend(extra)
        await _until(lambda: len(east()) == 2, 10, "no second shard started")
        await _until(
            lambda: all(s.state is ServerState.READY for s in east()), 5, "second shard not Ready"
        )
        assert sum(s.players for s in east()) == 5
        ups = [d for r, d in realm.supervisor.decisions if d.start]
        assert ups and "scale up" in " ".join(ups[0].reasons)
        # everybody leaves: after the down window the emptiest shard is drained and stopped
        for c in clients:
            await c.logout()
        await _until(lambda: len(east()) == 1, 15, "the extra shard was not drained away")
        downs = [d for r, d in realm.supervisor.decisions if d.drain]
        assert downs and downs[0].drain is not None
        deleted = [sid for r, d in realm.supervisor.decisions for sid in d.delete]
        assert deleted == [downs[0].drain]
    finally:
        for c in clients:
            await c.close()
        await realm.stop()


async def test_every_shard_gets_the_realms_snapshot_settings(tmp_path: Path) -> None:
    """The settings reach the servers the realm starts and the ones the supervisor adds."""
    from gameserver.embedded.fleet import EmbeddedFleet

    settings = realm_settings(tmp_path, snapshot_every=3, snapshot_budget_bytes=150)
    realm = EmbeddedRealm(settings)
    await realm.start()
    try:
        first = realm.regions[0]
        await EmbeddedFleet(realm).start(first.region.name)
        assert len(realm.regions) >= 2
        for server in realm.regions:
            cfg = server.shard.snapshots
            assert (cfg.every, cfg.budget_bytes) == (3, 150), server.server_id
    finally:
        await realm.stop()
