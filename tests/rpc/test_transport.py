"""Each gRPC client/server pair over real gRPC on localhost: round trips of every boundary
record, domain errors raised again on the caller's side, deadlines, and dead peers.

The services behind the servers are small fakes that record what they were asked, so
these tests pin the transport, not the game logic (the distributed e2e runs the real
services)."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from gameserver.api.errors import RemoteError, ServiceUnavailable
from gameserver.api.oem import OemError, Placement
from gameserver.api.region import Continuity, Extracted, JoinResult, PlayerJoin
from gameserver.rpc import codegen
from gameserver.rpc.directory import HeartbeatDirectory
from gameserver.rpc.oem import OemClient, add_oem
from gameserver.rpc.rcm import RcmClient, RemoteRcmDirectory, add_rcm
from gameserver.rpc.region import LinkHub, RegionClient, RegionPool, add_region, encode_command
from gameserver.rpc.rwam import RwamClient, add_rwam
from gameserver.rpc.transport import start_server
from gameserver.rwam.characters import CharacterRuleError
from gameserver.storage.memory import MemoryHotState
from gameserver.storage.models import (
    Character,
    CharacterState,
    ItemStack,
    Lease,
    ServerHeartbeat,
    ServerState,
)
from gameserver.wire.messages import Message, Ping, Respawn
from gameserver.wire.structs import INPUT_FRAME_DTYPE
from gameserver.world.map import DEFAULT_MAP

pytestmark = pytest.mark.timeout(20)

NOW = datetime(2024, 1, 1, tzinfo=UTC)
STATE = CharacterState(
    region="elwynn", x=1.5, y=-2.25, gold=7, items=(ItemStack(uid="u1", item_id=3, count=2),)
)


def character(cid: int = 1, account: int = 10) -> Character:
    return Character(
        id=cid,
        account_id=account,
        name="Alice",
        race="human",
        char_class="warrior",
        faction="alliance",
        state=STATE,
        created_at=NOW,
        saved_at=NOW,
        save_fence=4,
    )


def player_join() -> PlayerJoin:
    return PlayerJoin(
        character=character(),
        state=STATE,
        lease=Lease(key="character:1", holder="rcm/5", fence=9, expires_at_ms=123),
        conn_id=5,
        rcm="127.0.0.1:1",
        continuity=Continuity(last_seq=7, client_ms=700, session_ms=900, pending=(b"\x01" * 20,)),
    )


def _ignore(_: object) -> None:
    pass


def free_port_address() -> str:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"


# --- RWAM --------------------------------------------------------------------------------
class FakeRwam:
    def __init__(self) -> None:
        self.chars: dict[int, Character] = {1: character()}

    async def list_characters(self, account_id: int) -> list[Character]:
        return [c for c in self.chars.values() if c.account_id == account_id]

    async def create_character(
        self, account_id: int, name: str, race: str, char_class: str
    ) -> Character:
        if name == "Bad":
            raise CharacterRuleError("name_taken", "the name Bad is taken")
        if name == "Crash":
            raise ZeroDivisionError("boom")
        c = character(len(self.chars) + 1, account_id).model_copy(update={"name": name})
        self.chars[c.id] = c
        return c

    async def owned_character(self, account_id: int, character_id: int) -> Character:
        c = self.chars.get(character_id)
        if c is None or c.account_id != account_id:
            raise CharacterRuleError("no_such_character", "no such character on this account")
        return c


async def test_rwam_round_trip_and_errors(serve: Any) -> None:
    address = await serve(lambda s: add_rwam(s, FakeRwam()))
    client = RwamClient(address)
    try:
        assert await client.list_characters(10) == [character()]  # every field, items included
        made = await client.create_character(10, "Bob", "human", "mage")
        assert made.name == "Bob" and made.state == STATE
        assert await client.owned_character(10, made.id) == made
        with pytest.raises(CharacterRuleError) as e:
            await client.create_character(10, "Bad", "human", "mage")
        assert e.value.code == "name_taken" and str(e.value) == "the name Bad is taken"
        with pytest.raises(CharacterRuleError, match="no such character") as e2:
            await client.owned_character(99, 1)
        assert e2.value.code == "no_such_character"
        with pytest.raises(RemoteError, match="ZeroDivisionError: boom"):
            await client.create_character(10, "Crash", "human", "mage")
    finally:
        await client.close()


# --- OEM ---------------------------------------------------------------------------------
class FakeOem:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    async def enter_world(
        self, account_id: int, character_id: int, conn_id: int, rcm: str
    ) -> Placement:
        self.calls.append(("enter", account_id, character_id, conn_id, rcm))
        if character_id == 2:
            raise OemError("no_capacity", "no region server has room")
        return Placement("elwynn-0", "10.0.0.1:50051", "elwynn", JoinResult(3, 1.0, 2.0, 0.5), 7.0)

    async def leave_world(
        self, account_id: int, reason: str = "logout", kick: str | None = None
    ) -> bool:
        self.calls.append(("leave", account_id, reason, kick))
        return True

    async def handoff(
        self, character_id: int, account_id: int, to_region: str | None, reason: str
    ) -> bool:
        self.calls.append(("handoff", character_id, account_id, to_region, reason))
        if reason == "slow":
            await asyncio.sleep(30)
        return to_region is not None


async def test_oem_round_trip_and_oem_error(serve: Any) -> None:
    fake = FakeOem()
    address = await serve(lambda s: add_oem(s, fake))
    client = OemClient(address)
    try:
        p = await client.enter_world(10, 1, 5, "rcm-a")
        assert p == Placement(
            "elwynn-0", "10.0.0.1:50051", "elwynn", JoinResult(3, 1.0, 2.0, 0.5), 7.0
        )
        with pytest.raises(OemError) as e:
            await client.enter_world(10, 2, 5, "rcm-a")
        assert e.value.code == "no_capacity"
        assert await client.leave_world(10) is True
        assert await client.leave_world(10, "takeover", "bye") is True
        assert await client.handoff(1, 10, "westfall", "border") is True
        assert await client.handoff(1, 10, None, "drain") is False
        assert fake.calls[2:] == [
            ("leave", 10, "logout", None),
            ("leave", 10, "takeover", "bye"),
            ("handoff", 1, 10, "westfall", "border"),
            ("handoff", 1, 10, None, "drain"),  # None survives the wire (not "")
        ]
    finally:
        await client.close()


async def test_deadline_is_a_clear_error_not_a_hang(serve: Any) -> None:
    address = await serve(lambda s: add_oem(s, FakeOem()))
    client = OemClient(address, timeout_s=0.3)
    try:
        started = time.monotonic()
        with pytest.raises(ServiceUnavailable, match=r"Oem\.Handoff") as e:
            await client.handoff(1, 10, None, "slow")
        assert "DEADLINE_EXCEEDED" in str(e.value)
        assert time.monotonic() - started < 2.0
    finally:
        await client.close()


async def test_dead_peer_fails_fast_with_the_peer_named() -> None:
    address = free_port_address()  # nothing listens here
    rwam, oem = RwamClient(address, timeout_s=1.0), OemClient(address, timeout_s=1.0)
    try:
        started = time.monotonic()
        with pytest.raises(ServiceUnavailable, match=re.escape(address)):
            await oem.enter_world(1, 1, 1, "r")  # a write: one attempt
        assert time.monotonic() - started < 1.0
        with pytest.raises(ServiceUnavailable, match=r"Rwam\.ListCharacters"):
            await rwam.list_characters(1)  # a read: retried until the deadline, then clear
        assert time.monotonic() - started < 3.0
    finally:
        await rwam.close()
        await oem.close()


async def test_idempotent_read_survives_a_peer_restart(serve: Any) -> None:
    address = free_port_address()
    client = RwamClient(address, timeout_s=5.0)
    port = int(address.rsplit(":", 1)[1])

    async def start_late() -> Any:
        await asyncio.sleep(0.4)
        server, _ = await start_server(lambda s: add_rwam(s, FakeRwam()), "127.0.0.1", port)
        return server

    late = asyncio.create_task(start_late())
    try:
        assert [c.id for c in await client.list_characters(10)] == [1]
    finally:
        await (await late).stop(None)
        await client.close()


# --- region ------------------------------------------------------------------------------
class FakeRegion:
    region_name = "elwynn"

    def __init__(self, server_id: str = "elwynn-0") -> None:
        self.server_id = server_id
        self.joined: list[PlayerJoin] = []
        self.inputs: list[tuple[int, bytes]] = []
        self.commands: list[tuple[int, Message]] = []
        self.acks: list[tuple[int, int]] = []

    async def add_player(self, join: PlayerJoin) -> JoinResult:
        if join.character.id in {j.character.id for j in self.joined}:
            raise RuntimeError("already here")
        self.joined.append(join)
        return JoinResult(42, join.state.x, join.state.y, join.state.facing)

    async def remove_player(
        self, character_id: int, reason: str = "logout", kick: str | None = None
    ) -> CharacterState | None:
        return STATE if character_id == 1 else None

    async def extract_player(self, character_id: int, reason: str) -> Extracted | None:
        if character_id != 1:
            return None
        return Extracted(player_join(), saved=True)

    def submit_inputs(
        self, character_id: int, frames: npt.NDArray[np.void], ack_tick: int = 0
    ) -> None:
        self.inputs.append((character_id, frames.tobytes()))
        if ack_tick:
            self.acks.append((character_id, ack_tick))

    def submit_command(self, character_id: int, msg: Message) -> None:
        self.commands.append((character_id, msg))


class Collect:
    def __init__(self) -> None:
        self.delivered: list[tuple[int, bytes]] = []
        self.kicked: list[tuple[int, str]] = []
        self.event = asyncio.Event()

    def deliver(self, conn_id: int, payload: bytes) -> None:
        self.delivered.append((conn_id, payload))
        self.event.set()

    def kick(self, conn_id: int, reason: str) -> None:
        self.kicked.append((conn_id, reason))
        self.event.set()


async def _until(cond: Callable[[], bool], within: float = 3.0) -> None:
    deadline = time.monotonic() + within
    while not cond():
        assert time.monotonic() < deadline, "condition never held"
        await asyncio.sleep(0.01)


def frames(n: int, seq0: int = 1) -> npt.NDArray[np.void]:
    f = np.zeros(n, dtype=INPUT_FRAME_DTYPE)
    f["seq"] = np.arange(seq0, seq0 + n)
    f["dt_ms"] = 50
    f["x"] = 1.0
    return f


async def test_region_placement_round_trip(serve: Any) -> None:
    fake, hub = FakeRegion(), LinkHub()
    address = await serve(lambda s: add_region(s, fake, hub))
    client = RegionClient(address, server_id="elwynn-0", region_name="elwynn")
    try:
        assert await client.add_player(player_join()) == JoinResult(42, 1.5, -2.25, 0.0)
        assert fake.joined == [player_join()]  # continuity, pending frames, lease, rcm intact
        with pytest.raises(RemoteError, match="already here"):
            await client.add_player(player_join())
        assert await client.extract_player(1, "border") == Extracted(player_join(), True)
        assert await client.extract_player(2, "border") is None
        assert await client.remove_player(1) == STATE
        assert await client.remove_player(2, "logout", "bye") is None
    finally:
        await client.close()


async def test_link_carries_inputs_up_and_tick_batches_down(serve: Any) -> None:
    fake, hub = FakeRegion(), LinkHub()
    address = await serve(lambda s: add_region(s, fake, hub))
    rcm = Collect()
    pool = RegionPool(rcm, "rcm-a")
    try:
        client = pool("elwynn-0", address)
        assert pool("elwynn-0", address) is client  # one client (and link) per server
        await client.add_player(player_join())  # binds conn 5 to rcm "127.0.0.1:1"
        await asyncio.wait_for(client.link_up.wait(), 3)
        await _until(lambda: hub.links == 1)
        client.submit_inputs(1, frames(3))
        client.submit_command(1, Respawn())
        client.submit_inputs(1, frames(2, seq0=4), ack_tick=77)
        client.submit_inputs(1, frames(0), ack_tick=78)  # an ack alone still travels
        await _until(lambda: len(fake.inputs) == 3)
        assert fake.inputs[:2] == [(1, frames(3).tobytes()), (1, frames(2, 4).tobytes())]
        assert fake.commands == [(1, Respawn())]
        assert fake.acks == [(1, 77), (1, 78)]  # a field of the batch, not a command
        # conn 5 belongs to RCM "127.0.0.1:1", which has no link; conn 6 is unknown, and
        # with one link open it goes there
        hub.bind(6, "rcm-a")
        hub.deliver(6, b"snap-1")
        hub.deliver(6, b"snap-2")
        hub.kick(6, "bye")
        await _until(lambda: len(rcm.delivered) == 2 and len(rcm.kicked) == 1)
        assert rcm.delivered == [(6, b"snap-1"), (6, b"snap-2")]
        assert rcm.kicked == [(6, "bye")]
        hub.deliver(5, b"lost")  # its RCM has no link: dropped and counted, never blocks
        assert hub.dropped_no_link == 1
    finally:
        await pool.close()


async def test_link_drops_malformed_input_batches(serve: Any) -> None:
    fake, hub = FakeRegion(), LinkHub()
    address = await serve(lambda s: add_region(s, fake, hub))
    rcm = Collect()
    client = RegionClient(address, server_id="x", region_name="x", outbox=rcm, rcm_id="r")
    try:
        from gameserver.rpc import realm_pb2 as pb

        client.open_link()
        await asyncio.wait_for(client.link_up.wait(), 3)
        one, size = frames(1).tobytes(), INPUT_FRAME_DTYPE.itemsize
        bad = [
            pb.InputColumns(characters=[1], counts=[1], acks=[0], frames=one[:-1]),  # partial
            pb.InputColumns(characters=[1], counts=[65], acks=[0], frames=b"\0" * size * 65),
            pb.InputColumns(characters=[1, 2], counts=[1], acks=[0, 0], frames=one),  # ragged
            pb.InputColumns(characters=[1, 2], counts=[1, 1], acks=[0, 0], frames=one),  # short
        ]
        for moves in bad:  # each message dropped whole
            client._up.put_nowait(pb.LinkUp(moves=moves))
        client._up.put_nowait(
            pb.LinkUp(
                inputs=[
                    pb.InputBatch(character_id=1, command=b"garbage"),
                    pb.InputBatch(character_id=1, command=encode_command(Ping(client_time_ms=1))),
                ],
                moves=pb.InputColumns(characters=[1, 2], counts=[1, 0], acks=[0, 9], frames=one),
            )
        )
        await _until(lambda: len(fake.inputs) == 2)
        assert fake.inputs == [(1, one), (2, b"")]
        assert fake.acks == [(2, 9)]
        await asyncio.sleep(0.05)
        assert fake.commands == []  # garbage and non-command messages are dropped
    finally:
        await client.close()


async def test_link_reconnects_after_the_region_server_restarts() -> None:
    fake, hub = FakeRegion(), LinkHub()
    server, port = await start_server(lambda s: _ignore(add_region(s, fake, hub)), "127.0.0.1", 0)
    rcm = Collect()
    client = RegionClient(
        f"127.0.0.1:{port}", server_id="x", region_name="x", outbox=rcm, rcm_id="r"
    )
    try:
        client.open_link()
        await asyncio.wait_for(client.link_up.wait(), 3)
        await server.stop(None)  # the region server dies
        await _until(lambda: not client.link_up.is_set())
        client.submit_inputs(1, frames(1))  # never blocks while the peer is gone
        hub2 = LinkHub()
        server, _ = await start_server(
            lambda s: _ignore(add_region(s, fake, hub2)), "127.0.0.1", port
        )
        await asyncio.wait_for(client.link_up.wait(), 5)
        await _until(lambda: hub2.links == 1)
        hub2.deliver(9, b"after-restart")
        await _until(lambda: rcm.delivered == [(9, b"after-restart")])
        assert client.link_failures >= 1
    finally:
        await client.close()
        await server.stop(None)


# --- RCM ---------------------------------------------------------------------------------
class FakeRcm:
    rcm_id = "fake"

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def hold(self, conn_id: int) -> None:
        self.calls.append(("hold", conn_id))

    def reroute(self, conn_id: int, placement: Placement | None) -> None:
        self.calls.append(("reroute", conn_id, placement))

    def deliver(self, conn_id: int, payload: bytes) -> None:
        self.calls.append(("deliver", conn_id, payload))

    def kick(self, conn_id: int, reason: str) -> None:
        self.calls.append(("kick", conn_id, reason))


async def test_rcm_calls_arrive_in_order_and_settle_waits_for_them(serve: Any) -> None:
    fake = FakeRcm()
    address = await serve(lambda s: add_rcm(s, fake))
    rcms = RemoteRcmDirectory()
    try:
        client = rcms.get(address)
        assert isinstance(client, RcmClient) and client.rcm_id == address
        assert rcms.get("rcm-0") is None  # an in-process id, not an address
        p = Placement("s", "a:1", "elwynn", JoinResult(1, 2.0, 3.0, 0.0), 7.0)
        client.hold(5)
        await rcms.settle()
        assert fake.calls == [("hold", 5)]  # in force once settle() returns
        client.reroute(5, p)
        client.reroute(6, None)
        client.deliver(5, b"x")
        client.kick(5, "bye")
        await rcms.settle()
        assert fake.calls[1:] == [
            ("reroute", 5, p),
            ("reroute", 6, None),
            ("deliver", 5, b"x"),
            ("kick", 5, "bye"),
        ]
    finally:
        await rcms.close()


async def test_rcm_client_to_a_dead_rcm_does_not_block_the_caller() -> None:
    client = RcmClient(free_port_address(), timeout_s=0.5)
    try:
        client.hold(1)
        client.reroute(1, None)
        await asyncio.wait_for(client.settle(), 3)
        assert client.failures == 2
    finally:
        await client.close()


# --- the OEM's directory ------------------------------------------------------------------
async def test_heartbeat_directory_places_on_ready_servers_and_forgets_dead_ones(
    serve: Any,
) -> None:
    clock = [1_000_000]
    hot = MemoryHotState(lambda: clock[0], realm="test")
    fake = FakeRegion("b")  # the one the test places on (calls name their server)
    address = await serve(lambda s: add_region(s, fake, LinkHub()))
    directory = HeartbeatDirectory(hot, "test", DEFAULT_MAP)

    def beat(sid: str, state: ServerState, players: int, sent: int = 1) -> ServerHeartbeat:
        return ServerHeartbeat(
            server_id=sid,
            realm="test",
            region="elwynn",
            address=address,
            state=state,
            players=players,
            capacity=2,
            sent_at_ms=sent,
        )

    try:
        await hot.heartbeat(beat("a", ServerState.READY, 1), ttl_ms=5000)
        await hot.heartbeat(beat("b", ServerState.READY, 0), ttl_ms=5000)
        await hot.heartbeat(beat("c", ServerState.STARTING, 0), ttl_ms=5000)
        await directory.refresh()
        picked = directory.pick("elwynn")
        assert picked is not None and picked.server_id == "b"
        assert picked.max_speed == DEFAULT_MAP.region("elwynn").max_speed
        assert directory.pick("elwynn", exclude=("b",)) is directory.get("a")
        assert directory.pick("westfall") is None
        await picked.add_player(player_join())  # counted before the next heartbeat
        assert picked.players == 1
        await hot.heartbeat(beat("b", ServerState.READY, 2, sent=2), ttl_ms=5000)
        await directory.refresh()
        assert directory.get("b") is picked and picked.players == 2 and not picked.has_room()
        clock[0] += 10_000  # every heartbeat expires: the servers are gone
        await directory.refresh()
        assert directory.get("a") is None and directory.pick("elwynn") is None
    finally:
        await directory.close()


def test_generated_rpc_code_is_fresh() -> None:
    assert codegen.is_fresh(), "gameserver/rpc/realm_pb2*.py are stale: run `realm dev gen-rpc`"


def test_stale_generated_code_is_detected(tmp_path: Any) -> None:
    for name in codegen.GENERATED:
        (tmp_path / name).write_bytes((codegen.RPC_DIR / name).read_bytes())
    assert codegen.is_fresh(tmp_path)
    stub = tmp_path / "realm_pb2_grpc.pyi"
    stub.write_text(stub.read_text().replace("HandoffReply", "HandoffReplyOld"))
    assert not codegen.is_fresh(tmp_path)
