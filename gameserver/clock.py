"""The realm's one clock for simulation and protocol timing: monotonic milliseconds.

Wall time jumps (NTP, DST); movement checks, replay windows and timeouts must not.
Anything that needs calendar time (saves, token expiry shared between processes) uses
`wall_ms` instead.
"""

from __future__ import annotations

import time


def now_ms() -> int:
    return time.monotonic_ns() // 1_000_000


def wall_ms() -> int:
    return time.time_ns() // 1_000_000
