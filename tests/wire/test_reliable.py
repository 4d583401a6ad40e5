"""The reliable channel with a fake clock (plain floats: no clock is ever read)."""

from __future__ import annotations

import pytest

from gameserver.wire.messages import Envelope, Ping
from gameserver.wire.reliable import (
    ACK_REPEATS,
    MAX_ACKS_PER_PACKET,
    RECV_WINDOW,
    ReliableChannel,
)


def test_ids_start_at_one_and_increase() -> None:
    ch = ReliableChannel()
    ids = [ch.track(Envelope(Ping(i)), now=0.0).reliable_id for i in range(3)]
    assert ids == [1, 2, 3]
    assert ch.in_flight == 3


def test_resend_with_exponential_backoff_until_acked() -> None:
    ch = ReliableChannel(rto_s=0.2, max_rto_s=1.0, give_up_s=100.0)
    env = ch.track(Envelope(Ping(1)), now=0.0)
    assert ch.due(0.19) == []
    resend_times = []
    for _ in range(7):
        t = ch.next_due()
        assert t is not None
        assert ch.due(t - 1e-6) == []
        assert ch.due(t) == [env]
        resend_times.append(t)
    gaps = [b - a for a, b in zip([0.0, *resend_times], resend_times, strict=False)]
    assert gaps == pytest.approx([0.2, 0.4, 0.8, 1.0, 1.0, 1.0, 1.0])  # doubled, capped
    assert ch.resent_count == 7
    ch.on_acks((env.reliable_id,))
    assert ch.due(1000.0) == [] and ch.in_flight == 0 and ch.next_due() is None
    assert ch.lost_count == 0


def test_ack_of_unknown_or_repeated_ids_is_harmless() -> None:
    ch = ReliableChannel()
    a = ch.track(Envelope(Ping(1)), now=0.0)
    b = ch.track(Envelope(Ping(2)), now=0.0)
    ch.on_acks((a.reliable_id, a.reliable_id, 999))
    assert ch.due(0.2) == [b]


def test_give_up() -> None:
    ch = ReliableChannel(rto_s=0.2, max_rto_s=2.0, give_up_s=10.0)
    env = ch.track(Envelope(Ping(1)), now=0.0)
    t = 0.0
    while t < 9.9:
        t += 0.1
        ch.due(t)
    assert ch.lost == [] and ch.in_flight == 1
    ch.due(12.0)
    assert ch.lost == [env] and ch.lost_count == 1 and ch.in_flight == 0
    assert ch.take_lost() == [env] and ch.lost == [] and ch.lost_count == 1


def test_receive_dedupes_but_always_acks() -> None:
    ch = ReliableChannel()
    assert ch.receive(1, now=0.0) is True
    assert ch.receive(3, now=0.0) is True
    assert ch.receive(1, now=0.0) is False
    assert ch.acks_pending
    assert ch.take_acks() == (1, 3)
    assert not ch.acks_pending and ch.ack_pending_since is None
    assert ch.receive(1, now=1.0) is False  # duplicate after the ack went out: ack again
    assert ch.acks_pending and ch.ack_pending_since == 1.0
    assert ch.take_acks() == (1, 3)  # fresh 1, then a repeat of 3
    assert ch.receive(2) is True and ch.receive(3) is False
    assert ch.take_acks()[:2] == (2, 3)


def test_acks_are_repeated_on_later_envelopes() -> None:
    ch = ReliableChannel()
    ch.receive(5)
    sent = [ch.take_acks() for _ in range(ACK_REPEATS + 2)]
    assert sent[:ACK_REPEATS] == [(5,)] * ACK_REPEATS
    assert sent[ACK_REPEATS:] == [(), ()]
    assert not ch.acks_pending  # repeats alone never call for an Ack-only datagram


def test_take_acks_is_bounded() -> None:
    ch = ReliableChannel()
    for i in range(1, 80):
        ch.receive(i, now=0.5)
    first = ch.take_acks()
    assert first == tuple(range(1, MAX_ACKS_PER_PACKET + 1))
    assert ch.ack_pending_since == 0.5  # the rest are still waiting
    second = ch.take_acks()
    assert second == tuple(range(33, 65))
    third = ch.take_acks()
    assert len(third) == MAX_ACKS_PER_PACKET
    assert third[: 79 - 64] == tuple(range(65, 80))  # fresh first, repeats fill the rest
    assert all(len(ch.take_acks()) <= MAX_ACKS_PER_PACKET for _ in range(10))
    assert not ch.acks_pending


def test_receive_memory_is_bounded_past_a_hole() -> None:
    ch = ReliableChannel()
    # id 1 is never received (the sender gave up); everything after arrives.
    for i in range(2, RECV_WINDOW * 3):
        assert ch.receive(i) is True
        ch.take_acks()
    assert len(ch._above) <= RECV_WINDOW
    assert ch.receive(RECV_WINDOW * 3 - 1) is False
