"""The storage seams of the realm.

Durable data (accounts, characters, realm data such as mail and auctions) lives behind
`RealmDatabase`; hot, expiring state (character leases, checkpoints, routes, server
heartbeats, the login queue) behind `HotState`. The embedded realm uses SQLite and an
in-memory `HotState`; a distributed realm uses PostgreSQL and Redis. Services receive
these protocols and never import a backend (import-linter checks it).
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from gameserver.storage.models import (
    Account,
    Character,
    CharacterState,
    Lease,
    Route,
    ServerHeartbeat,
)


class StorageError(Exception):
    """A storage operation failed in a way the caller may report to a player."""


class Conflict(StorageError):
    """A uniqueness rule was broken (a taken username or character name)."""


class StaleFence(StorageError):
    """A save came from a lease holder whose lease was superseded; it was refused."""


class Unavailable(StorageError):
    """The backend could not be reached within the operation's deadline."""


class NotFound(StorageError):
    """The row an update names does not exist (for example a save for a deleted character).

    Distinct from `StaleFence` so a caller never mistakes a missing character for a lost
    lease, and vice versa."""


class AccountStore(Protocol):
    async def create_account(self, username: str, password_hash: str) -> Account: ...
    async def get_account_by_name(self, username: str) -> Account | None: ...
    async def get_account(self, account_id: int) -> Account | None: ...
    async def record_login(self, account_id: int, at: datetime | None = None) -> None:
        """Stamp `last_login_at` (now by default); NotFound if there is no such account."""
        ...


class CharacterStore(Protocol):
    async def create_character(
        self,
        account_id: int,
        name: str,
        race: str,
        char_class: str,
        faction: str,
        state: CharacterState,
    ) -> Character: ...
    async def list_characters(self, account_id: int) -> list[Character]: ...
    async def get_character(self, character_id: int) -> Character | None: ...
    async def get_character_by_name(self, name: str) -> Character | None: ...
    async def count_characters(self) -> int: ...
    async def save_character(
        self, character_id: int, state: CharacterState, fence: int
    ) -> None:
        """Write `state` unless a save with a larger fence already landed (StaleFence).

        A save with the same fence as the stored one is accepted (a holder saves many
        times under one lease). NotFound if the character does not exist."""
        ...


class RealmDatabase(AccountStore, CharacterStore, Protocol):
    """Everything durable. Mail, auctions, guilds and friends join here as they land."""

    async def migrate(self, target: int | None = None) -> int:
        """Bring the schema to `target` (default: the latest) in place, keeping the data;
        returns the version reached. Never downgrades: a target below the current version
        leaves the schema as it is."""
        ...

    async def schema_version(self) -> int: ...
    async def close(self) -> None: ...


class LeaseStore(Protocol):
    """Fenced, expiring leases ("one live copy, ever").

    Fences grow per key and never repeat, even across a restart of an in-memory store or
    a Redis that lost its data: a new fence is at least the store's clock in microseconds,
    so it still beats every fence an earlier incarnation handed out (and that the
    database remembers as `save_fence`)."""

    async def acquire(self, key: str, holder: str, ttl_ms: int) -> Lease | None:
        """Grant the lease if it is free or expired (with a new, larger fence).

        The current holder acquiring again (say, a server that restarted under the same
        id) gets a fresh lease with a larger fence; any other holder gets None."""
        ...

    async def renew(self, lease: Lease, ttl_ms: int) -> Lease | None:
        """Extend a lease still held by `lease.holder` with `lease.fence`; None if lost."""
        ...

    async def release(self, lease: Lease) -> bool:
        """Free the lease if `lease` is still the current one; False (and no change) if a
        newer lease replaced it or it expired."""
        ...

    async def get(self, key: str) -> Lease | None:
        """The current, unexpired lease on `key`, if any."""
        ...


class CheckpointStore(Protocol):
    async def put_checkpoint(self, character_id: int, state: CharacterState, fence: int) -> None:
        """Store the latest state; StaleFence if a checkpoint with a larger fence is stored."""
        ...

    async def get_checkpoint(self, character_id: int) -> tuple[CharacterState, int] | None: ...
    async def delete_checkpoint(self, character_id: int) -> None: ...


class RouteStore(Protocol):
    async def set_route(self, route: Route) -> None: ...
    async def get_route(self, account_id: int) -> Route | None: ...
    async def clear_route(self, account_id: int) -> None: ...


class ServerRegistry(Protocol):
    async def heartbeat(self, beat: ServerHeartbeat, ttl_ms: int) -> None: ...
    async def servers(self, realm: str) -> list[ServerHeartbeat]:
        """Every server whose heartbeat has not expired."""
        ...

    async def remove(self, realm: str, server_id: str) -> None: ...

    async def request_drain(self, realm: str, server_id: str) -> None:
        """Ask a server to drain: it stops taking players and the OEM moves its players
        to other shards. The operator and the local supervisor both drain this way."""
        ...

    async def drain_requested(self, realm: str, server_id: str) -> bool: ...


class HotState(LeaseStore, CheckpointStore, RouteStore, ServerRegistry, Protocol):
    async def close(self) -> None: ...
