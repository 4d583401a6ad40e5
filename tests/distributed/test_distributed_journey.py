"""The player's journey with every role in its own process, over gRPC, on PostgreSQL and
Redis: the topology the operator deploys, run as local `realm serve` processes.

Two clients sign up and log in at the gateway (HTTP), create characters through the RCM
(UDP) and the RWAM (gRPC), enter the world (OEM -> region server), move (inputs over the
region `Link`), see each other (snapshots back over the `Link`), log out, and their final
positions are in PostgreSQL. Then every process stops cleanly on SIGTERM, in order."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import asyncpg
import pytest
from realm_client import RealmClient

from gameserver.roles.local import LocalDistributedRealm

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]


@pytest.fixture
async def distributed(
    postgres_url: str, redis_url: str, tmp_path: Path
) -> AsyncIterator[LocalDistributedRealm]:
    realm = LocalDistributedRealm(
        postgres_url,
        redis_url,
        tmp_path / "logs",
        name=f"e2e{uuid.uuid4().hex[:8]}",  # its own keys in the shared Redis
        extra_env={"REALM_ARGON2_TIME_COST": "1", "REALM_ARGON2_MEMORY_KIB": "1024"},
        log_level="WARNING",
    )
    await realm.start()
    try:
        yield realm
    finally:
        await realm.stop()


async def _player(realm: LocalDistributedRealm, user: str, name: str) -> RealmClient:
    c = RealmClient(realm.gateway_url)
    await c.signup(user, "password123")
    await c.login(user, "password123")
    ch = await c.create_character(name, "human", "warrior")
    assert [x.id for x in await c.characters()] == [ch.id]
    await c.enter_world(ch.id)
    return c


async def _walk(c: RealmClient, dx: float, dy: float, frames: int) -> None:
    for _ in range(frames):
        c.move(dx, dy, 0.05, None)
        await asyncio.sleep(0.05)


async def _settle(c: RealmClient) -> None:
    """Every input the client sent has been acked by the region server."""
    p = c.predictor
    assert p is not None
    await _until(lambda: p.acked_seq >= p.seq, 5, "inputs never acked")


async def _until(cond: Callable[[], bool], within_s: float, what: str) -> None:
    deadline = time.monotonic() + within_s
    while not cond():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.02)


async def test_two_players_across_processes(distributed: LocalDistributedRealm) -> None:
    realm = distributed
    assert set(realm.alive()) == {
        "rwam",
        "oem",
        "elwynn-0",
        "westfall-0",
        "deadmines-host-0",
        "rcm",
        "gateway",
    }
    a = await _player(realm, "alice", "Alice")
    b = await _player(realm, "bob", "Bob")
    try:
        start_a = a.position
        await asyncio.gather(_walk(a, 1, 0, 20), _walk(b, 0, 1, 20))
        for c in (a, b):
            await _settle(c)
        await _until(
            lambda: b.entity_id in a.seen_players and a.entity_id in b.seen_players,
            5,
            "the players never saw each other",
        )
        # 20 frames east at run speed, as the server (in another process) agrees
        assert a.position[0] - start_a[0] == pytest.approx(7.0, abs=0.05)
        snap = a.last_snapshot
        assert snap is not None
        assert float(snap.you["x"]) == pytest.approx(a.position[0], abs=1e-3)
        final = {"Alice": a.position, "Bob": b.position}
        assert await a.logout() is True
        assert await b.logout() is True
    finally:
        await a.close()
        await b.close()

    conn = await asyncpg.connect(realm.postgres_url)
    try:
        rows = await conn.fetch("select name, state from characters order by name")
    finally:
        await conn.close()
    saved = {
        r["name"]: json.loads(r["state"]) if isinstance(r["state"], str) else r["state"]
        for r in rows
    }
    assert set(saved) == {"Alice", "Bob"}
    for who, (x, y) in final.items():
        assert saved[who]["x"] == pytest.approx(x, abs=1e-3)
        assert saved[who]["y"] == pytest.approx(y, abs=1e-3)

    codes = await realm.stop()  # SIGTERM, in order; every role exits 0
    assert codes == {
        "gateway": 0,
        "rcm": 0,
        "elwynn-0": 0,
        "westfall-0": 0,
        "deadmines-host-0": 0,
        "oem": 0,
        "rwam": 0,
    }


async def test_sigterm_to_a_region_server_saves_its_players(
    distributed: LocalDistributedRealm,
) -> None:
    realm = distributed
    c = await _player(realm, "carol", "Carol")
    try:
        await _walk(c, 1, 0, 10)
        p = c.predictor
        assert p is not None
        await _until(lambda: p.acked_seq >= p.seq, 5, "inputs never acked")
        x, y = c.position
        # Carol's server is stopped under her (a pod deleted): it saves her, then exits 0
        # and her client is told (the kick travels back over the RCM's link).
        region = realm.child("elwynn-0")
        region.proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(region.proc.wait(), 20) == 0
        conn = c.connection
        assert conn is not None
        await _until(lambda: conn.closed_reason is not None, 5, "the client was never told")
        assert conn.closed_reason == "server shutting down"
    finally:
        await c.close()
    conn = await asyncpg.connect(realm.postgres_url)
    try:
        state = await conn.fetchval("select state from characters where name = 'Carol'")
    finally:
        await conn.close()
    saved = json.loads(state) if isinstance(state, str) else state
    assert (saved["x"], saved["y"]) == (pytest.approx(x, abs=1e-3), pytest.approx(y, abs=1e-3))


def test_a_role_missing_configuration_names_the_variables() -> None:
    env = {"PATH": "/usr/bin:/bin", "REALM_METRICS_PORT": "0"}
    out = subprocess.run(
        [sys.executable, "-m", "gameserver.cli.main", "serve", "region"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 2
    assert "REALM_POSTGRES_URL" in out.stderr and "REALM_OEM_ADDRESS" in out.stderr
