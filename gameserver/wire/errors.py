"""The wire layer's two failure types, and nothing else.

Everything a peer sends is hostile until proven otherwise, so the wire layer has exactly
one way to say "I could not read this" (`WireError`, raised by the message decoder) and
one way to say "this datagram is dropped, here is why" (`Drop`, raised by framing, the
replay window, tokens and `Connection`). Callers catch one type per layer, count the
reason (`realm_packets_dropped_total{reason=...}`) and move on; no other exception may
escape a parser, which the fuzz tests in `tests/wire/` hold us to.
"""

from __future__ import annotations

from enum import StrEnum


class WireError(Exception):
    """A message could not be decoded: truncated, garbage, bad offsets, over a limit."""


class DropReason(StrEnum):
    """Why a datagram was dropped; the values are the metric label values."""

    MALFORMED = "malformed"
    OVERSIZED = "oversized"
    UNAUTHENTICATED = "unauthenticated"
    REPLAYED = "replayed"
    OUT_OF_WINDOW = "out_of_window"
    UNKNOWN_CONNECTION = "unknown_connection"
    BAD_TOKEN = "bad_token"
    EXPIRED_TOKEN = "expired_token"
    RATE_LIMITED = "rate_limited"


class Drop(Exception):
    """A datagram is dropped. `reason` says why; callers count it and carry on."""

    def __init__(self, reason: DropReason, detail: str = "") -> None:
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
        self.reason = reason
        self.detail = detail
