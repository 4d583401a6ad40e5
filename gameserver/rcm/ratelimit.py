"""Token buckets for the network edge: a flooding client is cut off at the RCM, before its
datagrams cost any decryption or reach a region server."""

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
