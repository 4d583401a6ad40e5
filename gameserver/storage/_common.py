"""Pieces every backend shares: name keys, time, JSON state, migrations, latency metrics.

Backends must not import each other (the SQLite and PostgreSQL/Redis sides stay
separable), so what they have in common lives here, below both.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

from gameserver.metrics import STORAGE_LATENCY
from gameserver.storage.models import CharacterState

P = ParamSpec("P")
R = TypeVar("R")


def name_key(name: str) -> str:
    """The form a unique name is compared in. Computed in Python, not with SQL `lower()`,
    so both databases agree on non-ASCII names (SQLite's lower() only folds ASCII)."""
    return name.casefold()


def utcnow() -> datetime:
    return datetime.now(UTC)


def wall_clock_ms() -> Callable[[], int]:
    """A clock in wall-time milliseconds that never steps back within this process.

    Anchored to the wall clock once and advanced by the monotonic clock, so lease expiry
    is immune to NTP steps while fences derived from it still beat those of an earlier
    process (which the database remembers)."""
    offset = time.time_ns() // 1_000_000 - time.monotonic_ns() // 1_000_000

    def now_ms() -> int:
        return time.monotonic_ns() // 1_000_000 + offset

    return now_ms


def dump_state(state: CharacterState) -> str:
    return state.model_dump_json()


def load_state(raw: str | bytes) -> CharacterState:
    return CharacterState.model_validate_json(raw)


# --- migrations ----------------------------------------------------------------------

_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def load_migrations(package: str) -> list[Migration]:
    """Read `<package>/migrations/NNNN_name.sql` in order; versions must run 1, 2, 3...

    A gap or duplicate is a packaging mistake that would silently skip schema, so it fails
    loudly here rather than at some later query."""
    found: list[Migration] = []
    for entry in resources.files(package).joinpath("migrations").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), entry.name, entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migrations in {package} are not numbered 1..n: {versions}")
    return found


# --- metrics -------------------------------------------------------------------------


class OpMetrics:
    """Per-operation latency histograms for one backend instance.

    `labels()` hashes and locks on every call; caching the children keeps an observation
    to a dict lookup and a lock-free-ish `observe`, cheap enough for every save."""

    __slots__ = ("_backend", "_children", "_realm")

    def __init__(self, realm: str, backend: str) -> None:
        self._realm = realm
        self._backend = backend
        self._children: dict[str, Any] = {}

    def observe(self, operation: str, seconds: float) -> None:
        child = self._children.get(operation)
        if child is None:
            child = STORAGE_LATENCY.labels(self._realm, self._backend, operation)
            self._children[operation] = child
        child.observe(seconds)


class _HasMetrics(Protocol):
    _metrics: OpMetrics


S = TypeVar("S", bound=_HasMetrics)


def timed(
    fn: Callable[Concatenate[S, P], Awaitable[R]],
) -> Callable[Concatenate[S, P], Coroutine[Any, Any, R]]:
    """Observe the wrapped method's latency under its own name, failures included (a slow
    failure is exactly what the dashboard must show)."""
    operation = fn.__name__

    async def wrapper(self: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
        start = time.perf_counter()
        try:
            return await fn(self, *args, **kwargs)
        finally:
            self._metrics.observe(operation, time.perf_counter() - start)

    functools.update_wrapper(wrapper, fn)
    return wrapper
