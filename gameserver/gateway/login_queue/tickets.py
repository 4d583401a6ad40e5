"""Queue tickets: what a queued client presents to follow its place and get its grant.

The ticket is a bearer credential (whoever holds it receives the account's login token
when it is admitted), so it must be unforgeable, and any gateway of the realm must be able
to check it without asking another: it is the account id and issue time, signed with
HMAC-SHA256 under a key derived from the realm's token key (which every gateway shares).
It expires after `ttl_ms`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct

_CONTEXT = b"openrealm login-queue ticket v1"
_BODY = struct.Struct(">QQ")  # account id, issued at (wall ms)
_MAC_LEN = 16


def derive_key(token_key: bytes) -> bytes:
    """A key for tickets only, so a ticket can never be mistaken for anything sealed with
    the token key itself."""
    return hmac.new(token_key, _CONTEXT, hashlib.sha256).digest()


def issue(key: bytes, account_id: int, now_ms: int) -> str:
    body = _BODY.pack(account_id, now_ms)
    mac = hmac.new(key, body, hashlib.sha256).digest()[:_MAC_LEN]
    return base64.urlsafe_b64encode(body + mac).decode().rstrip("=")


def verify(key: bytes, ticket: str, now_ms: int, ttl_ms: int) -> int | None:
    """The account id a ticket was issued to; None if it is malformed, forged or old."""
    if len(ticket) > 64:
        return None
    try:
        raw = base64.urlsafe_b64decode(ticket + "=" * (-len(ticket) % 4))
    except (ValueError, TypeError):
        return None
    if len(raw) != _BODY.size + _MAC_LEN:
        return None
    body, mac = raw[: _BODY.size], raw[_BODY.size :]
    if not hmac.compare_digest(mac, hmac.new(key, body, hashlib.sha256).digest()[:_MAC_LEN]):
        return None
    account_id, issued = _BODY.unpack(body)
    if not issued <= now_ms + 60_000 or now_ms - issued > ttl_ms:
        return None
    return int(account_id)
