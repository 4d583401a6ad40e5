"""The player's journey over real sockets: HTTP to the gateway, UDP to the RCM."""

from __future__ import annotations

import asyncio
import math
import sqlite3

import pytest
from realm_client import ClientError, GatewayError, RealmClient

from gameserver.embedded.realm import EmbeddedRealm

pytestmark = pytest.mark.e2e


async def _player(realm: EmbeddedRealm, user: str, name: str) -> RealmClient:
    assert realm.addresses is not None
    c = RealmClient(realm.addresses.http)
    await c.signup(user, "password123")
    await c.login(user, "password123")
    ch = await c.create_character(name, "human", "warrior")
    assert [x.id for x in await c.characters()] == [ch.id]
    await c.enter_world(ch.id)
    return c


async def _walk(
    c: RealmClient, dx: float, dy: float, frames: int, speed: float | None = None
) -> None:
    for _ in range(frames):
        c.move(dx, dy, 0.05, speed)
        await asyncio.sleep(0.05)


async def _settle(c: RealmClient, within_s: float = 3.0) -> None:
    """Wait until the server has acked every input the client sent."""
    assert c.predictor is not None
    deadline = asyncio.get_running_loop().time() + within_s
    while c.predictor.acked_seq < c.predictor.seq:
        assert asyncio.get_running_loop().time() < deadline, "inputs never acked"
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.1)


async def test_two_players_meet_move_and_are_saved(realm: EmbeddedRealm, tmp_path) -> None:
    a = await _player(realm, "alice", "Alice")
    b = await _player(realm, "bob", "Bob")
    try:
        start_a = a.position
        await _walk(a, 1, 0, 20)
        await _walk(b, 0, 1, 20)
        await _settle(a)
        await _settle(b)
        # each sees the other, by the entity id the server gave it
        assert b.entity_id in a.seen_players and a.entity_id in b.seen_players
        # a walked 20 frames east at run speed: 20 * 0.05 s * 7 m/s = 7 m, as the server agrees
        assert a.position[0] - start_a[0] == pytest.approx(7.0, abs=0.05)
        assert a.last_snapshot is not None and a.last_snapshot.last_input_seq == a.predictor.seq  # type: ignore[union-attr]
        server_x = float(a.last_snapshot.you["x"])
        assert server_x == pytest.approx(a.position[0], abs=1e-3)
        assert a.predictor.corrections == 0  # type: ignore[union-attr]
        final_a = a.position
        assert await a.logout() is True
    finally:
        await a.close()
        await b.close()
    # logout saved alice's position to the SQLite file
    db = sqlite3.connect(realm.settings.data_dir / "realm.sqlite3")
    import json

    (state,) = db.execute("select state from characters where name = 'Alice'").fetchone()
    saved = json.loads(state)
    assert saved["x"] == pytest.approx(final_a[0], abs=1e-3)
    assert saved["y"] == pytest.approx(final_a[1], abs=1e-3)


async def test_speed_hack_is_corrected(realm: EmbeddedRealm) -> None:
    c = await _player(realm, "cheater", "Speedy")
    try:
        x0, _ = c.position
        # claim 5x run speed for 20 frames; the server allows run speed (+5%)
        await _walk(c, 1, 0, 20, speed=35.0)
        await _settle(c)
        assert c.predictor is not None and c.predictor.corrections > 0
        moved = c.position[0] - x0
        assert moved <= 7.0 * 1.05 + 0.1, f"server let the cheater move {moved} m in 1 s"
        assert moved > 5.0
        snap = c.last_snapshot
        assert snap is not None and float(snap.you["x"]) == pytest.approx(c.position[0], abs=1e-3)
    finally:
        await c.close()


async def test_replayed_and_garbage_datagrams_are_dropped_and_counted(realm: EmbeddedRealm) -> None:
    c = await _player(realm, "carol", "Carol")
    assert realm.rcm is not None
    try:
        conn = c.connection
        assert conn is not None
        import time

        from gameserver.wire.messages import Ping

        payload = conn.conn.send(Ping(client_time_ms=1), now=time.monotonic())
        conn.send_raw(payload)
        conn.send_raw(payload)  # the same datagram again: a replay
        conn.send_raw(b"\x02garbage-that-is-not-a-datagram")
        conn.send_raw(b"\x00" * 3)
        conn.send_raw(b"\x02" + b"\xff" * 2000)  # oversized
        tampered = bytearray(conn.conn.send(Ping(client_time_ms=2), now=time.monotonic()))
        tampered[-1] ^= 0x01
        conn.send_raw(bytes(tampered))
        await asyncio.sleep(0.3)
        dropped = realm.rcm.dropped
        assert dropped.get("replayed", 0) >= 1
        assert dropped.get("malformed", 0) >= 1  # too short for a header
        assert dropped.get("unknown_connection", 0) >= 1  # garbage naming no connection
        assert dropped.get("oversized", 0) >= 1
        assert dropped.get("unauthenticated", 0) >= 1
        # and the connection still works afterwards
        await _walk(c, 0, 1, 4)
        await _settle(c)
    finally:
        await c.close()
    from gameserver import metrics

    value = metrics.REGISTRY.get_sample_value(
        "realm_packets_dropped_total", {"realm": "test", "server": "rcm-0", "reason": "replayed"}
    )
    assert value is not None and value >= 1


async def test_bad_character_requests_get_clear_errors(realm: EmbeddedRealm) -> None:
    assert realm.addresses is not None
    c = RealmClient(realm.addresses.http)
    try:
        await c.signup("dave", "password123")
        with pytest.raises(GatewayError) as taken:
            await c.signup("Dave", "password123")
        assert taken.value.status == 409
        with pytest.raises(GatewayError) as bad:
            await c.login("dave", "wrong-password")
        assert bad.value.status == 401
        await c.login("dave", "password123")
        for name, race, cls, code in [
            ("X", "human", "warrior", "name_length"),
            ("Gamemasterx", "human", "warrior", "name_blacklisted"),
            ("Dave1", "human", "warrior", "name_letters"),
            ("Daaave", "human", "warrior", "name_repeats"),
            ("Dave", "orc", "paladin", "bad_combination"),
            ("Dave", "elf", "warrior", "bad_race"),
        ]:
            with pytest.raises(ClientError) as e:
                await c.create_character(name, race, cls)
            assert e.value.code == code
        await c.create_character("dave", "orc", "warrior")  # normalised to "Dave"
        with pytest.raises(ClientError) as dup:
            await c.create_character("DAVE", "human", "warrior")
        assert dup.value.code == "name_taken"
        with pytest.raises(ClientError) as other:
            await c.enter_world(999_999)
        assert other.value.code == "no_such_character"
    finally:
        await c.close()


async def test_second_login_takes_over_and_first_session_is_saved(realm: EmbeddedRealm) -> None:
    first = await _player(realm, "erin", "Erin")
    try:
        await _walk(first, 1, 1, 10)
        await _settle(first)
        where = first.position
        assert realm.addresses is not None
        second = RealmClient(realm.addresses.http)
        try:
            await second.login("erin", "password123")
            (ch,) = await second.characters()
            entered = await second.enter_world(ch.id)
            # the second session starts where the first one was when it was taken over
            assert math.hypot(entered.x - where[0], entered.y - where[1]) < 0.01
            assert realm.players == 1
            await asyncio.sleep(0.3)
            assert first.connection is not None and first.connection.closed_reason is not None
        finally:
            await second.close()
    finally:
        await first.close()
