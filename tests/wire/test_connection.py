"""Two Connections exchanging datagrams in memory: handshake, loss, acks, hostile input."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from gameserver.wire import datagram as dg
from gameserver.wire.connection import Connection, accept_hello
from gameserver.wire.errors import Drop, DropReason
from gameserver.wire.messages import Ack, Envelope, Error, Hello, Inputs, Ping, Snapshot, Welcome
from gameserver.wire.structs import INPUT_FRAME_DTYPE
from gameserver.wire.token import LoginToken, TokenSealer

from .support import random_states

SESSION = bytes(range(32))
GATEWAY_KEY = os.urandom(32)


def pair() -> tuple[Connection, Connection]:
    return Connection(SESSION, 42, is_client=True), Connection(SESSION, 42, is_client=False)


def test_send_receive_both_ways() -> None:
    c, s = pair()
    env = s.receive(c.send(Ping(5), now=0.0), now=0.0)
    assert env == Envelope(Ping(5))
    back = c.receive(s.send(Error("x", "y"), request_id=3, now=0.0), now=0.0)
    assert back == Envelope(Error("x", "y"), request_id=3)
    assert (c.packets_out, c.packets_in, s.packets_in, s.packets_out) == (1, 1, 1, 1)
    assert c.bytes_out == s.bytes_in > 0 and s.bytes_out == c.bytes_in > 0


def test_handshake_via_token_and_hello_until_answered() -> None:
    sealer = TokenSealer(GATEWAY_KEY)
    token = sealer.seal(LoginToken(7, 42, SESSION, expires_at_ms=60_000))
    c = Connection(SESSION, 42, is_client=True)
    first = c.hello(token, Hello("1.0"), now=0.0)
    second = c.send(Ping(1), now=0.0)  # still HELLO: the first one may be lost
    assert dg.parse(first).kind == dg.parse(second).kind == dg.Kind.HELLO
    # The RCM has no connection yet: it opens the token from the *second* datagram.
    h = dg.parse(second)
    s, tok = accept_hello(h, sealer, now_ms=1_000)
    assert tok.account_id == 7 and s.conn_id == 42
    assert s.receive(h, now=0.0) == Envelope(Ping(1))
    # The lost Hello is resent, still as a HELLO, and delivered.
    resent = c.poll(now=0.3)
    assert len(resent) == 1 and dg.parse(resent[0]).kind == dg.Kind.HELLO
    got = s.receive(resent[0], now=0.3)
    assert got is not None and got.msg == Hello("1.0") and got.reliable_id == 1
    # Once the server answered, the client switches to DATA.
    c.receive(s.send(Welcome(7, 42, 0), reliable=True, now=0.3), now=0.3)
    assert c.established and dg.parse(c.send(Ping(2), now=0.4)).kind == dg.Kind.DATA


def test_accept_hello_rejects() -> None:
    sealer = TokenSealer(GATEWAY_KEY)
    c = Connection(SESSION, 42, is_client=True)
    other = sealer.seal(LoginToken(7, 43, SESSION, expires_at_ms=60_000))
    with pytest.raises(Drop) as e:
        accept_hello(dg.parse(c.hello(other, Hello(), now=0.0)), sealer, now_ms=0)
    assert e.value.reason is DropReason.BAD_TOKEN
    expired = sealer.seal(LoginToken(7, 42, SESSION, expires_at_ms=5))
    with pytest.raises(Drop) as e:
        accept_hello(dg.parse(c.hello(expired, Hello(), now=0.0)), sealer, now_ms=5)
    assert e.value.reason is DropReason.EXPIRED_TOKEN
    with pytest.raises(Drop) as e:
        accept_hello(dg.parse(pair()[0].send(Ping(1), now=0.0)), sealer, now_ms=0)
    assert e.value.reason is DropReason.MALFORMED
    # A valid token with the wrong session key: the connection is made, receive rejects.
    stolen = sealer.seal(LoginToken(7, 42, os.urandom(32), expires_at_ms=60_000))
    h = dg.parse(c.hello(stolen, Hello(), now=0.0))
    s, _ = accept_hello(h, sealer, now_ms=0)
    with pytest.raises(Drop) as e:
        s.receive(h, now=0.0)
    assert e.value.reason is DropReason.UNAUTHENTICATED


def test_drops_are_raised_and_counted() -> None:
    c, s = pair()
    d = c.send(Ping(1), now=0.0)
    s.receive(d, now=0.0)
    with pytest.raises(Drop) as e:
        s.receive(d, now=0.0)
    assert e.value.reason is DropReason.REPLAYED
    tampered = bytearray(c.send(Ping(2), now=0.0))
    tampered[-1] ^= 1
    with pytest.raises(Drop) as e:
        s.receive(bytes(tampered), now=0.0)
    assert e.value.reason is DropReason.UNAUTHENTICATED
    with pytest.raises(Drop) as e:
        s.receive(Connection(SESSION, 41, is_client=True).send(Ping(1), now=0.0), now=0.0)
    assert e.value.reason is DropReason.UNKNOWN_CONNECTION
    with pytest.raises(Drop) as e:
        forged = b"\x02" + (42).to_bytes(4, "little") + (99).to_bytes(8, "little") + bytes(40)
        s.receive(forged, now=0.0)
    assert e.value.reason is DropReason.UNAUTHENTICATED
    with pytest.raises(Drop) as e:
        s.receive(bytes(5), now=0.0)
    assert e.value.reason is DropReason.MALFORMED
    with pytest.raises(Drop) as e:
        s.receive(bytes(dg.MAX_DATAGRAM + 1), now=0.0)
    assert e.value.reason is DropReason.OVERSIZED
    # a server-sent datagram reflected back to the server (with a seq not yet seen)
    for _ in range(3):
        s.send(Ping(0), now=0.0)
    with pytest.raises(Drop) as e:
        s.receive(s.send(Ping(3), now=0.0), now=0.0)
    assert e.value.reason is DropReason.UNAUTHENTICATED
    assert s.drops == {
        DropReason.REPLAYED: 1,
        DropReason.UNAUTHENTICATED: 3,
        DropReason.UNKNOWN_CONNECTION: 1,
        DropReason.MALFORMED: 1,
        DropReason.OVERSIZED: 1,
    }
    assert s.packets_in == 1  # only the authentic one counted as traffic


def test_authenticated_garbage_payload_is_malformed() -> None:
    _, s = pair()
    d = dg.seal(SESSION, dg.CLIENT_TO_SERVER, 42, 1, b"not a flatbuffer at all")
    with pytest.raises(Drop) as e:
        s.receive(d, now=0.0)
    assert e.value.reason is DropReason.MALFORMED


def test_old_seq_beyond_window_is_out_of_window() -> None:
    c, s = pair()
    old = c.send(Ping(0), now=0.0)
    for i in range(1100):
        d = c.send(Ping(i), now=0.0)
    s.receive(d, now=0.0)
    with pytest.raises(Drop) as e:
        s.receive(old, now=0.0)
    assert e.value.reason is DropReason.OUT_OF_WINDOW


def test_duplicate_reliable_returns_none_and_is_acked_again() -> None:
    c, s = pair()
    d1 = c.send(Ping(1), reliable=True, now=0.0)
    assert s.receive(d1, now=0.0) is not None
    (resend,) = c.poll(now=0.25)  # ack not yet seen by the client
    assert s.receive(resend, now=0.25) is None
    acks = s.poll(now=0.25 + 0.05)
    assert len(acks) == 1
    env = c.receive(acks[0], now=0.3)
    assert env is not None and env.msg == Ack() and env.acks == (1,)
    assert c.reliable.in_flight == 0 and c.poll(now=5.0) == []


def test_acks_piggyback_and_delayed_ack_only_when_idle() -> None:
    c, s = pair()
    s.receive(c.send(Ping(1), reliable=True, now=0.0), now=0.0)
    assert s.poll(now=0.01) == []  # waiting for a piggyback
    assert s.next_timer() == pytest.approx(0.05)
    snap = s.send(Snapshot(tick=1), now=0.02)
    got = c.receive(snap, now=0.02)
    assert got is not None and got.acks == (1,)
    assert s.poll(now=1.0) == [] and c.reliable.in_flight == 0


@dataclass
class Lossy:
    """Delivers datagrams in order, dropping every `nth`."""

    nth: int
    count: int = 0
    dropped: int = 0
    delivered: list[Envelope] = field(default_factory=list)

    def carry(self, datagrams: list[bytes], to: Connection, now: float) -> None:
        for d in datagrams:
            self.count += 1
            if self.count % self.nth == 0:
                self.dropped += 1
                continue
            env = to.receive(d, now=now)
            if env is not None and not isinstance(env.msg, Ack):
                self.delivered.append(env)


def test_reliable_exactly_once_with_every_third_datagram_lost() -> None:
    c, s = pair()
    to_server, to_client = Lossy(3), Lossy(3)
    now = 0.0
    n = 60
    for i in range(n):
        to_server.carry([c.send(Ping(i), reliable=True, now=now)], s, now)
        to_client.carry([s.send(Ping(1000 + i), reliable=True, now=now)], c, now)
        # unreliable traffic in between, which also carries acks
        to_server.carry([c.send(Inputs(np.zeros(2, INPUT_FRAME_DTYPE)), now=now)], s, now)
        now += 0.016
        to_server.carry(c.poll(now), s, now)
        to_client.carry(s.poll(now), c, now)
    for _ in range(2000):
        now += 0.016
        to_server.carry(c.poll(now), s, now)
        to_client.carry(s.poll(now), c, now)
        if c.reliable.in_flight == 0 and s.reliable.in_flight == 0:
            break
    got_s = sorted(e.msg.client_time_ms for e in to_server.delivered if isinstance(e.msg, Ping))
    got_c = sorted(e.msg.client_time_ms for e in to_client.delivered if isinstance(e.msg, Ping))
    assert got_s == list(range(n))
    assert got_c == [1000 + i for i in range(n)]
    assert to_server.dropped > 20 and to_client.dropped > 20
    assert c.reliable.in_flight == s.reliable.in_flight == 0
    assert c.reliable.lost_count == s.reliable.lost_count == 0


def test_snapshot_through_connection(rng: np.random.Generator) -> None:
    c, s = pair()
    states = random_states(rng, 40)
    env = c.receive(s.send(Snapshot(tick=3, you=states[0], entities=states), now=0.0), now=0.0)
    assert env is not None and env.msg == Snapshot(tick=3, you=states[0], entities=states)
    assert s.bytes_out <= dg.MAX_DATAGRAM


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=1400))
def test_fuzz_receive_random_bytes_only_drops(data: bytes) -> None:
    _, s = pair()
    with pytest.raises(Drop):
        s.receive(data, now=0.0)


@settings(max_examples=300, deadline=None)
@given(
    st.booleans(),
    st.lists(st.tuples(st.integers(0, 2000), st.integers(1, 255)), min_size=1, max_size=4),
)
def test_fuzz_mutated_datagrams_are_dropped(hello: bool, muts: list[tuple[int, int]]) -> None:
    c, s = pair()
    if hello:
        d = bytearray(c.hello(b"T" * 81, Hello("x"), now=0.0))
    else:
        d = bytearray(c.send(Ping(1), reliable=True, now=0.0))
    original = bytes(d)
    for pos, xor in muts:
        d[pos % len(d)] ^= xor
    assume(bytes(d) != original)
    with pytest.raises(Drop):
        s.receive(bytes(d), now=0.0)
