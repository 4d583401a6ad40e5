"""Login tokens: sealed by the gateway, opened by the RCM."""

from __future__ import annotations

import os

import pytest

from gameserver.wire.errors import Drop, DropReason
from gameserver.wire.token import TOKEN_SIZE, LoginToken, TokenSealer

KEY = os.urandom(32)
SESSION = os.urandom(32)
TOK = LoginToken(account_id=2**64 - 1, conn_id=77, session_key=SESSION, expires_at_ms=10_000)


def test_round_trip() -> None:
    sealer = TokenSealer(KEY)
    data = sealer.seal(TOK)
    assert len(data) == TOKEN_SIZE == 81
    assert sealer.open(data, now_ms=9_999) == TOK
    assert SESSION not in data
    assert sealer.seal(TOK) != data  # random nonce
    assert "redacted" in repr(TOK) and SESSION.hex() not in repr(TOK)


def test_expired() -> None:
    sealer = TokenSealer(KEY)
    with pytest.raises(Drop) as e:
        sealer.open(sealer.seal(TOK), now_ms=10_000)
    assert e.value.reason is DropReason.EXPIRED_TOKEN


def test_every_tampered_byte_is_bad_token() -> None:
    sealer = TokenSealer(KEY)
    data = sealer.seal(TOK)
    for i in range(len(data)):
        bad = bytearray(data)
        bad[i] ^= 1
        with pytest.raises(Drop) as e:
            sealer.open(bytes(bad), now_ms=0)
        assert e.value.reason is DropReason.BAD_TOKEN


def test_wrong_key_wrong_size_garbage() -> None:
    data = TokenSealer(KEY).seal(TOK)
    for bad in (data[:-1], data + b"\0", b"", os.urandom(81)):
        with pytest.raises(Drop) as e:
            TokenSealer(KEY).open(bad, now_ms=0)
        assert e.value.reason is DropReason.BAD_TOKEN
    with pytest.raises(Drop) as e:
        TokenSealer(os.urandom(32)).open(data, now_ms=0)
    assert e.value.reason is DropReason.BAD_TOKEN


def test_validation() -> None:
    with pytest.raises(ValueError):
        LoginToken(1, 1, b"short", 1)
    with pytest.raises(ValueError):
        TokenSealer(b"short")
