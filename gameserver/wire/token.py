"""The login token: how the RCM learns a session key without asking the gateway.

On login the gateway picks a random 32-byte session key and a connection id, returns the
key to the client over TLS, and gives it a `LoginToken` sealed with a key only the
gateway and the RCMs share. The client puts the sealed token in its HELLO datagram; the
RCM opens it, checks expiry and that it names the datagram's conn_id, and from then on
authenticates that connection's datagrams with the session key. No gateway round-trip,
no shared session table.

Sealed form (81 bytes): version (1) | nonce (12, random) | ChaCha20-Poly1305 of the
fixed 52-byte struct `<QI32sQ` (account_id, conn_id, session_key, expires_at_ms) with
AAD `b"openrealm-login-token-v1"`. Any tamper, wrong key, or wrong length is
Drop(bad_token); a token at or after its expiry is Drop(expired_token).

A token can be replayed by whoever saw it until it expires; that only lets them send
HELLOs that fail AEAD, since they lack the session key, which never travels in clear.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from gameserver.wire.errors import Drop, DropReason

__all__ = ["TOKEN_AAD", "TOKEN_SIZE", "TOKEN_VERSION", "LoginToken", "TokenSealer"]

TOKEN_VERSION = 1
TOKEN_AAD = b"openrealm-login-token-v1"
_BODY = struct.Struct("<QI32sQ")
_NONCE_SIZE = 12
TOKEN_SIZE = 1 + _NONCE_SIZE + _BODY.size + 16


@dataclass(frozen=True, slots=True)
class LoginToken:
    """What the gateway tells the RCM about an admitted client."""

    account_id: int
    conn_id: int
    session_key: bytes
    expires_at_ms: int

    def __post_init__(self) -> None:
        if len(self.session_key) != 32:
            raise ValueError("session_key must be 32 bytes")

    def __repr__(self) -> str:  # never log the key
        return (
            f"LoginToken(account_id={self.account_id}, conn_id={self.conn_id}, "
            f"session_key=<redacted>, expires_at_ms={self.expires_at_ms})"
        )


class TokenSealer:
    """Seals (gateway) and opens (RCM) login tokens with a shared 32-byte key."""

    __slots__ = ("_aead",)

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("token key must be 32 bytes")
        self._aead = ChaCha20Poly1305(key)

    def seal(self, tok: LoginToken) -> bytes:
        nonce = os.urandom(_NONCE_SIZE)
        body = _BODY.pack(tok.account_id, tok.conn_id, tok.session_key, tok.expires_at_ms)
        return bytes([TOKEN_VERSION]) + nonce + self._aead.encrypt(nonce, body, TOKEN_AAD)

    def open(self, data: bytes | bytearray | memoryview, now_ms: int) -> LoginToken:
        """Verify and decrypt; raises Drop(bad_token) or Drop(expired_token)."""
        if len(data) != TOKEN_SIZE or data[0] != TOKEN_VERSION:
            raise Drop(DropReason.BAD_TOKEN, "wrong size or version")
        raw = bytes(data)
        try:
            body = self._aead.decrypt(raw[1 : 1 + _NONCE_SIZE], raw[1 + _NONCE_SIZE :], TOKEN_AAD)
        except InvalidTag:
            raise Drop(DropReason.BAD_TOKEN, "unauthenticated") from None
        account_id, conn_id, key, expires_at_ms = _BODY.unpack(body)
        if now_ms >= expires_at_ms:
            raise Drop(DropReason.EXPIRED_TOKEN)
        return LoginToken(account_id, conn_id, key, expires_at_ms)
