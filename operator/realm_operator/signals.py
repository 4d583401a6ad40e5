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
from typing import Protocol, runtime_checkable

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


#: The key prefix the roles' hot state uses (`gameserver.storage.factory.open_hot_state`);
#: a test checks the two agree.
ROLE_PREFIX = "openrealm:{realm}:"


class RedisSignals:
    """Production provider: one `RedisHotState` per Redis URL and realm (the roles key
    every realm's hot state under `openrealm:<realm>:`), the URL taken from `url` when the
    operator was given one, else from the secret the Realm names. `prefix` overrides the
    key prefix; `{realm}` in it is replaced by the realm's name."""

    def __init__(self, api: KubeApi, url: str | None = None, prefix: str | None = None) -> None:
        self.api = api
        self.url = url
        self.prefix = prefix or ROLE_PREFIX
        self._cache: dict[tuple[str, str], RealmSignals] = {}

    async def __call__(self, namespace: str, realm: str, spec: RealmSpec) -> RealmSignals:
        url = self.url or await self.api.read_secret_key(namespace, spec.redis.name, spec.redis.key)
        if not url:
            raise SecretNotReady(
                f"secret {namespace}/{spec.redis.name} has no key {spec.redis.key!r}"
            )
        prefix = self.prefix.replace("{realm}", realm)
        if (url, prefix) not in self._cache:
            module = importlib.import_module("gameserver.storage.redis")
            state = module.RedisHotState(url, realm=realm, prefix=prefix)
            queue = state if isinstance(state, LoginQueueLength) else None
            self._cache[(url, prefix)] = RealmSignals(registry=state, queue=queue)
        return self._cache[(url, prefix)]

    async def close(self) -> None:
        for signals in self._cache.values():
            close = getattr(signals.registry, "close", None)
            if close is not None:
                await close()
        self._cache.clear()
