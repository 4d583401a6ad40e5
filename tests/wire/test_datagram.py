"""Framing, AEAD and the replay window."""

from __future__ import annotations

import os
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gameserver.wire import datagram as dg
from gameserver.wire.datagram import Drop, DropReason, Kind, ReplayWindow

KEY = bytes(range(32))
AEAD = dg.make_aead(KEY)


def _reason(exc: pytest.ExceptionInfo[Drop]) -> DropReason:
    return exc.value.reason


def test_data_round_trip() -> None:
    d = dg.seal(KEY, dg.CLIENT_TO_SERVER, 0xABCDEF01, 2**64 - 1, b"payload")
    assert len(d) == len(b"payload") + dg.OVERHEAD
    h = dg.parse(d)
    assert (h.kind, h.conn_id, h.seq, h.token) == (Kind.DATA, 0xABCDEF01, 2**64 - 1, None)
    assert bytes(h.aad) == d[:13]
    assert dg.open_(AEAD, dg.CLIENT_TO_SERVER, h) == b"payload"


def test_hello_round_trip_and_token_is_authenticated() -> None:
    token = os.urandom(81)
    d = dg.seal(AEAD, dg.CLIENT_TO_SERVER, 5, 1, b"hi", token=token)
    h = dg.parse(d)
    assert (h.kind, h.token) == (Kind.HELLO, token)
    assert dg.open_(AEAD, dg.CLIENT_TO_SERVER, h) == b"hi"
    bad = bytearray(d)
    bad[20] ^= 1  # inside the token: part of the AAD
    with pytest.raises(Drop) as e:
        dg.open_(AEAD, dg.CLIENT_TO_SERVER, dg.parse(bytes(bad)))
    assert _reason(e) is DropReason.UNAUTHENTICATED


def test_every_tampered_byte_is_unauthenticated_or_malformed() -> None:
    d = dg.seal(KEY, dg.SERVER_TO_CLIENT, 9, 77, b"x" * 40, token=b"t" * 10)
    for i in range(len(d)):
        bad = bytearray(d)
        bad[i] ^= 0x40
        with pytest.raises(Drop) as e:
            dg.open_(AEAD, dg.SERVER_TO_CLIENT, dg.parse(bytes(bad)))
        assert _reason(e) in (DropReason.UNAUTHENTICATED, DropReason.MALFORMED)


def test_wrong_key_and_wrong_direction() -> None:
    d = dg.seal(KEY, dg.CLIENT_TO_SERVER, 1, 1, b"secret")
    with pytest.raises(Drop) as e:
        dg.open_(dg.make_aead(os.urandom(32)), dg.CLIENT_TO_SERVER, dg.parse(d))
    assert _reason(e) is DropReason.UNAUTHENTICATED
    # A client datagram reflected back at the client (same key) must not verify.
    with pytest.raises(Drop) as e:
        dg.open_(AEAD, dg.SERVER_TO_CLIENT, dg.parse(d))
    assert _reason(e) is DropReason.UNAUTHENTICATED


def test_nonce_is_direction_plus_seq() -> None:
    d = dg.seal(KEY, 1, 3, 42, b"abc")
    assert AEAD.decrypt(struct.pack("<IQ", 1, 42), d[13:], d[:13]) == b"abc"


def test_oversized() -> None:
    with pytest.raises(Drop) as e:
        dg.parse(bytes(dg.MAX_DATAGRAM + 1))
    assert _reason(e) is DropReason.OVERSIZED
    with pytest.raises(ValueError):
        dg.seal(KEY, 0, 1, 1, bytes(dg.MAX_DATAGRAM - dg.OVERHEAD + 1))
    assert len(dg.seal(KEY, 0, 1, 1, bytes(dg.MAX_DATAGRAM - dg.OVERHEAD))) == dg.MAX_DATAGRAM


def test_truncated_is_malformed_or_unauthenticated() -> None:
    d = dg.seal(KEY, 0, 1, 1, b"hello world", token=b"T" * 30)
    for cut in range(len(d)):
        with pytest.raises(Drop) as e:
            dg.open_(AEAD, 0, dg.parse(d[:cut]))
        assert _reason(e) in (DropReason.MALFORMED, DropReason.UNAUTHENTICATED)
        if cut < 13 + 2 + 30 + 16:
            assert _reason(e) is DropReason.MALFORMED


def test_unknown_kind_and_bad_token_length() -> None:
    d = bytearray(dg.seal(KEY, 0, 1, 1, b"x"))
    d[0] = 7
    with pytest.raises(Drop) as e:
        dg.parse(bytes(d))
    assert _reason(e) is DropReason.MALFORMED
    h = bytearray(dg.seal(KEY, 0, 1, 1, b"x", token=b"abc"))
    struct.pack_into("<H", h, 13, 60000)
    with pytest.raises(Drop) as e:
        dg.parse(bytes(h))
    assert _reason(e) is DropReason.MALFORMED


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=1300))
def test_fuzz_parse_only_drops(data: bytes) -> None:
    try:
        h = dg.parse(data)
        dg.open_(AEAD, 0, h)
    except Drop:
        pass


# ------------------------------------------------------------------ replay window


def test_replay_window_basics() -> None:
    w = ReplayWindow(size=64)
    for s in (1, 2, 5, 3):
        w.check(s)
        w.accept(s)
    with pytest.raises(Drop) as e:
        w.check(3)
    assert _reason(e) is DropReason.REPLAYED
    w.check(4)  # a hole inside the window is fine, and check does not record it
    w.check(4)
    w.accept(4)
    with pytest.raises(Drop):
        w.check(4)


def test_replay_window_out_of_window() -> None:
    w = ReplayWindow(size=1024)
    w.accept(0)
    w.accept(2000)
    with pytest.raises(Drop) as e:
        w.check(2000 - 1024)
    assert _reason(e) is DropReason.OUT_OF_WINDOW
    w.check(2000 - 1023)  # the oldest slot still inside
    with pytest.raises(Drop) as e:
        w.check(0)
    assert _reason(e) is DropReason.OUT_OF_WINDOW
    with pytest.raises(Drop) as e:
        w.check(2000)
    assert _reason(e) is DropReason.REPLAYED


def test_replay_window_slides_bits_correctly() -> None:
    w = ReplayWindow(size=8)
    w.accept(10)
    w.accept(12)  # shift by 2: 10 is now 2 behind
    with pytest.raises(Drop):
        w.check(10)
    w.check(11)
    w.accept(30)  # jump beyond the window resets the bitmap
    w.check(29)
    with pytest.raises(Drop) as e:
        w.check(22)
    assert _reason(e) is DropReason.OUT_OF_WINDOW


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 300), max_size=200))
def test_replay_window_matches_a_set_model(seqs: list[int]) -> None:
    size = 32
    w = ReplayWindow(size)
    seen: set[int] = set()
    top = -1
    for s in seqs:
        if s in seen and s > top - size:
            expect: DropReason | None = DropReason.REPLAYED
        elif top >= 0 and s <= top - size:
            expect = DropReason.OUT_OF_WINDOW
        else:
            expect = None
        try:
            w.check(s)
            got = None
        except Drop as e:
            got = e.reason
        assert got == expect
        if got is None:
            w.accept(s)
            seen.add(s)
            top = max(top, s)
