"""Token buckets against spam: chat lines, whispers, mail, invites.

The RCM already caps datagrams per connection; these cap *actions* per character, which a
client could otherwise spend its whole datagram budget on (a mail every 10 ms). Pure and
clock-injected, so tests drive time by hand.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class TokenBucket:
    rate: float  # tokens per second
    burst: float
    tokens: float = -1.0
    updated_ms: int = 0

    def allow(self, now_ms: int, cost: float = 1.0) -> bool:
        if self.tokens < 0:
            self.tokens, self.updated_ms = self.burst, now_ms
        elapsed = max(0, now_ms - self.updated_ms) / 1000.0
        self.tokens = min(self.burst, self.tokens + elapsed * self.rate)
        self.updated_ms = now_ms
        if self.tokens >= cost:
            self.tokens -= cost
            return True
        return False


class RateLimiter:
    """One bucket per (character, kind of action); `check` raises nothing, it answers."""

    def __init__(self, rates: dict[str, tuple[float, float]]) -> None:
        self._rates = rates
        self._buckets: dict[tuple[int, str], TokenBucket] = {}

    def allow(self, character_id: int, kind: str, now_ms: int) -> bool:
        bucket = self._buckets.get((character_id, kind))
        if bucket is None:
            rate, burst = self._rates[kind]
            bucket = self._buckets[(character_id, kind)] = TokenBucket(rate, burst)
        return bucket.allow(now_ms)

    def forget(self, character_id: int) -> None:
        for key in [k for k in self._buckets if k[0] == character_id]:
            del self._buckets[key]
