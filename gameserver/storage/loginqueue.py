"""The login queue's records and the one admission rule every backend enforces.

Why this module sits in `storage` and not in the gateway: the decision "may this player
take a seat now?" has to be made atomically where the seats and the queue live (a Lua
script in Redis, one synchronous method in memory), or two gateways would both see the
last free seat. So the rule is part of the storage contract, written once here as pure
functions: the memory backend calls them, the Redis scripts mirror them line for line,
and one parametrized test suite holds both to the same behaviour. The gateway's policy
(`gameserver.gateway.login_queue.policy`) decides the inputs: the seat limit from Ready
capacity and the realm's player limit, and the admission rate.

Tickets are integers that only grow, so a player's place is the rank of its ticket among
the live ones; nobody's ticket is ever rewritten when someone ahead leaves or is
admitted. Players re-entering within their grace period get tickets from a second
counter, offset by `GRACE_OFFSET` below zero, so they sort ahead of every ordinary ticket
and among themselves in arrival order.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

# Grace tickets are `sequence - GRACE_OFFSET`: negative, so ahead of every ordinary ticket.
# 2**50 keeps every score exactly representable as a double (Redis sorted-set scores).
GRACE_OFFSET = 2**50

# Expiry of a seat whose RCM session is open (it never expires on its own; the session's
# close releases it). Finite and below 2**53 so it survives a round trip through a double.
CONFIRMED_SEAT_MS = 2**52


class LoginPath(enum.StrEnum):
    """How a login got its seat (the `path` label of `realm_login_admissions_total`)."""

    FREE_SEAT = "free_seat"  # a seat was free and nobody was waiting ahead
    QUEUE = "queue"  # admitted from the queue
    GRACE = "grace"  # re-entered within the grace period
    SEATED = "seated"  # already held a seat (a second login of a seated account)


@dataclass(frozen=True, slots=True)
class AdmissionRate:
    """A token bucket: `per_second` admissions on average, at most `burst` at once."""

    per_second: float
    burst: int

    def __post_init__(self) -> None:
        if self.per_second <= 0 or self.burst < 1:
            raise ValueError("an admission rate needs per_second > 0 and burst >= 1")


@dataclass(frozen=True, slots=True)
class LoginResult:
    """What `queue_login` decided: admitted with a seat (`path`), or queued (`ticket`,
    1-based `position`)."""

    path: LoginPath | None
    ticket: int = 0
    position: int = 0

    @property
    def admitted(self) -> bool:
        return self.path is not None


@dataclass(frozen=True, slots=True)
class Admitted:
    """A player taken from the queue and given a (pending) seat."""

    account_id: int
    ticket: int
    enqueued_at_ms: int
    admitted_at_ms: int

    @property
    def grace(self) -> bool:
        return self.ticket < 0

    @property
    def path(self) -> LoginPath:
        return LoginPath.GRACE if self.grace else LoginPath.QUEUE

    @property
    def waited_s(self) -> float:
        return max(0, self.admitted_at_ms - self.enqueued_at_ms) / 1000.0


def refill(tokens: float, last_ms: int, now_ms: int, rate: AdmissionRate) -> float:
    """The bucket's tokens at `now_ms`: grown by the rate since `last_ms`, capped at the
    burst. A clock that stepped back adds nothing."""
    elapsed = max(0, now_ms - last_ms)
    return min(float(rate.burst), tokens + elapsed * rate.per_second / 1000.0)


def admission_budget(
    seats_in_use: int, limit: int, tokens: float, waiting: int, max_n: int
) -> int:
    """How many players may take a seat now: no more than the free seats, the whole tokens
    in the bucket, the players waiting, and the caller's batch size."""
    return max(0, min(limit - seats_in_use, math.floor(tokens), waiting, max_n))
