"""UDP datagram framing: header, AEAD, replay window.

Why: every datagram between client and RCM must prove it comes from the holder of the
session key (which arrived with the login token over TLS), must not be replayable, and
must be rejected cheaply, before any per-connection state is touched, when it is junk.
This module does only that, without sockets (sans-I/O), so the RCM and the client share
it and tests can feed it garbage.

Layout (little-endian)::

    0   kind      u8    HELLO=1 (carries the login token) or DATA=2
    1   conn_id   u32   chosen by the gateway, inside the token
    5   seq       u64   per direction, strictly increasing, never reused with a key
    13  token_len u16   HELLO only
    15  token     bytes HELLO only (see token.py)
    ..  ciphertext      ChaCha20-Poly1305(encoded Envelope), 16-byte tag at the end

AAD is every header byte before the ciphertext (so the token and conn_id are bound to
the key too). Nonce = direction u32 + seq u64 (direction 0 client->server, 1
server->client), so both directions share one session key without ever reusing a nonce.
Overhead: 13 + 16 = 29 bytes per DATA datagram.

Drops are `Drop(reason)` exceptions; `ReplayWindow` is the DTLS/WireGuard sliding bitmap:
`check` before decrypting (cheap, does not mutate), `accept` only after the tag verified,
so forged datagrams cannot move the window.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from gameserver.wire.errors import Drop, DropReason

__all__ = [
    "CLIENT_TO_SERVER",
    "DATA_HEADER_SIZE",
    "MAX_DATAGRAM",
    "MAX_TOKEN",
    "OVERHEAD",
    "SERVER_TO_CLIENT",
    "TAG_SIZE",
    "Drop",
    "DropReason",
    "Header",
    "Kind",
    "ReplayWindow",
    "make_aead",
    "open_",
    "parse",
    "seal",
]

MAX_DATAGRAM = 1200
TAG_SIZE = 16
DATA_HEADER_SIZE = 13
#: Bytes a DATA datagram adds around the encoded Envelope.
OVERHEAD = DATA_HEADER_SIZE + TAG_SIZE
#: Largest token a HELLO may carry.
MAX_TOKEN = 256
#: Largest sequence number (u64).
MAX_SEQ = 2**64 - 1

CLIENT_TO_SERVER = 0
SERVER_TO_CLIENT = 1

_HEAD = struct.Struct("<BIQ")
_TOKEN_LEN = struct.Struct("<H")
_NONCE = struct.Struct("<IQ")


class Kind(IntEnum):
    """Datagram kinds (byte 0)."""

    HELLO = 1
    DATA = 2


@dataclass(frozen=True, slots=True)
class Header:
    """A parsed, not yet authenticated datagram."""

    kind: Kind
    conn_id: int
    seq: int
    token: bytes | None
    aad: memoryview
    ciphertext: memoryview

    @property
    def size(self) -> int:
        """Bytes of the whole datagram."""
        return len(self.aad) + len(self.ciphertext)


def make_aead(key: bytes) -> ChaCha20Poly1305:
    """The AEAD for a 32-byte session key (build once per connection, not per datagram)."""
    if len(key) != 32:
        raise ValueError("session key must be 32 bytes")
    return ChaCha20Poly1305(key)


def _nonce(direction: int, seq: int) -> bytes:
    return _NONCE.pack(direction, seq)


def seal(
    key: bytes | ChaCha20Poly1305,
    direction: int,
    conn_id: int,
    seq: int,
    plaintext: bytes,
    token: bytes | None = None,
) -> bytes:
    """Frame and encrypt one datagram (HELLO if `token` is given, else DATA).

    Raises ValueError if the result would exceed `MAX_DATAGRAM` or a field is out of range.
    """
    aead = key if isinstance(key, ChaCha20Poly1305) else make_aead(key)
    if direction not in (CLIENT_TO_SERVER, SERVER_TO_CLIENT):
        raise ValueError("direction must be 0 or 1")
    if not 0 <= seq <= MAX_SEQ or not 0 <= conn_id < 2**32:
        raise ValueError("seq or conn_id out of range")
    if token is None:
        header = _HEAD.pack(Kind.DATA, conn_id, seq)
    else:
        if len(token) > MAX_TOKEN:
            raise ValueError("token too large")
        header = _HEAD.pack(Kind.HELLO, conn_id, seq) + _TOKEN_LEN.pack(len(token)) + token
    size = len(header) + len(plaintext) + TAG_SIZE
    if size > MAX_DATAGRAM:
        raise ValueError(f"datagram of {size} bytes exceeds {MAX_DATAGRAM}")
    return header + aead.encrypt(_nonce(direction, seq), plaintext, header)


def parse(data: bytes | bytearray | memoryview) -> Header:
    """Split a datagram into header fields and ciphertext, without decrypting.

    Raises Drop(oversized) or Drop(malformed). Allocates nothing but the small Header
    (and the token's bytes, at most `MAX_TOKEN`).
    """
    n = len(data)
    if n > MAX_DATAGRAM:
        raise Drop(DropReason.OVERSIZED, f"{n} bytes")
    if n < DATA_HEADER_SIZE + TAG_SIZE:
        raise Drop(DropReason.MALFORMED, "too short")
    view = memoryview(data)
    kind, conn_id, seq = _HEAD.unpack_from(view, 0)
    if kind == Kind.DATA:
        return Header(
            Kind.DATA, conn_id, seq, None, view[:DATA_HEADER_SIZE], view[DATA_HEADER_SIZE:]
        )
    if kind == Kind.HELLO:
        if n < DATA_HEADER_SIZE + 2 + TAG_SIZE:
            raise Drop(DropReason.MALFORMED, "too short")
        (token_len,) = _TOKEN_LEN.unpack_from(view, DATA_HEADER_SIZE)
        end = DATA_HEADER_SIZE + 2 + token_len
        if token_len > MAX_TOKEN or end + TAG_SIZE > n:
            raise Drop(DropReason.MALFORMED, "bad token length")
        token = bytes(view[DATA_HEADER_SIZE + 2 : end])
        return Header(Kind.HELLO, conn_id, seq, token, view[:end], view[end:])
    raise Drop(DropReason.MALFORMED, f"unknown kind {kind}")


def open_(aead: ChaCha20Poly1305, direction: int, header: Header) -> bytes:
    """Verify and decrypt a parsed datagram. Raises Drop(unauthenticated)."""
    try:
        return aead.decrypt(_nonce(direction, header.seq), header.ciphertext, header.aad)
    except InvalidTag:
        raise Drop(DropReason.UNAUTHENTICATED) from None


class ReplayWindow:
    """Sliding-window replay protection over u64 sequence numbers (RFC 6479 style).

    Remembers the highest accepted seq and, as bits of an int, which of the `size`
    sequence numbers below it were accepted. Older than the window -> out_of_window;
    seen -> replayed. Reordering within the window is fine.
    """

    __slots__ = ("_bits", "_mask", "_top", "size")

    def __init__(self, size: int = 1024) -> None:
        if size < 1:
            raise ValueError("size must be positive")
        self.size = size
        self._mask = (1 << size) - 1
        self._top = -1
        self._bits = 0

    @property
    def highest(self) -> int:
        """The highest accepted seq, -1 before the first."""
        return self._top

    def check(self, seq: int) -> None:
        """Raise Drop(replayed) or Drop(out_of_window); never mutates."""
        if seq > self._top:
            return
        behind = self._top - seq
        if behind >= self.size:
            raise Drop(DropReason.OUT_OF_WINDOW, f"seq {seq} behind {self._top}")
        if self._bits >> behind & 1:
            raise Drop(DropReason.REPLAYED, f"seq {seq}")

    def accept(self, seq: int) -> None:
        """Record `seq` as received (call only after the AEAD verified it)."""
        self.check(seq)
        if seq > self._top:
            shift = seq - self._top
            self._bits = ((self._bits << shift) | 1) & self._mask if shift < self.size else 1
            self._top = seq
        else:
            self._bits |= 1 << (self._top - seq)
