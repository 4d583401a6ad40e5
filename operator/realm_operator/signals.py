"""Where the operator reads load from: a realm's server registry (heartbeats, drain requests)
and its login-queue length.

The operator codes against the `ServerRegistry` protocol only. Which implementation backs it
is decided by a provider: in production the realm's Redis (URL read from the secret its
Realm names, or one URL given to the operator), in tests an in-memory registry passed in.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from gameserver.storage.interfaces import ServerRegistry
from realm_operator.kube import KubeApi
from realm_operator.resources import RealmSpec


@runtime_checkable
class LoginQueueLength(Protocol):
    """Implemented by hot-state backends that hold the login queue."""

    async def queue_length(self, realm: str) -> int: ...


@dataclass(frozen=True)
class RealmSignals:
    registry: ServerRegistry
    queue: LoginQueueLength | None = None

    async def queue_length(self, realm: str) -> int:
        return await self.queue.queue_length(realm) if self.queue is not None else 0


SignalsProvider = Callable[[str, str, RealmSpec], Awaitable[RealmSignals]]


def static_signals(signals: RealmSignals) -> SignalsProvider:
    """Every realm reads the same registry (tests; or one shared Redis)."""

    async def provide(namespace: str, realm: str, spec: RealmSpec) -> RealmSignals:
        return signals

    return provide


class SecretNotReady(Exception):
    """The realm's Redis secret is missing or lacks its key (retried on the next tick)."""


class RedisSignals:
    """Production provider: one `RedisHotState` per distinct Redis URL, the URL taken from
    `url` when the operator was given one, else from the secret the Realm names."""

    def __init__(self, api: KubeApi, url: str | None = None, prefix: str | None = None) -> None:
        self.api = api
        self.url = url
        self.prefix = prefix
        self._cache: dict[str, RealmSignals] = {}

    async def __call__(self, namespace: str, realm: str, spec: RealmSpec) -> RealmSignals:
        url = self.url or await self.api.read_secret_key(namespace, spec.redis.name, spec.redis.key)
        if not url:
            raise SecretNotReady(
                f"secret {namespace}/{spec.redis.name} has no key {spec.redis.key!r}"
            )
        if url not in self._cache:
            module = importlib.import_module("gameserver.storage.redis")
            kwargs: dict[str, Any] = {} if self.prefix is None else {"prefix": self.prefix}
            state = module.RedisHotState(url, **kwargs)
            queue = state if isinstance(state, LoginQueueLength) else None
            self._cache[url] = RealmSignals(registry=state, queue=queue)
        return self._cache[url]

    async def close(self) -> None:
        for signals in self._cache.values():
            close = getattr(signals.registry, "close", None)
            if close is not None:
                await close()
        self._cache.clear()
