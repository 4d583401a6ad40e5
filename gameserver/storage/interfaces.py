"""The storage seams of the realm.

Durable data (accounts, characters, realm data such as mail and auctions) lives behind
`RealmDatabase`; hot, expiring state (character leases, checkpoints, routes, server
heartbeats, the login queue) behind `HotState`. The embedded realm uses SQLite and an
in-memory `HotState`; a distributed realm uses PostgreSQL and Redis. Services receive
these protocols and never import a backend (import-linter checks it).
"""

from __future__ import annotations

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


class AccountStore(Protocol):
    async def create_account(self, username: str, password_hash: str) -> Account: ...
    async def get_account_by_name(self, username: str) -> Account | None: ...
    async def get_account(self, account_id: int) -> Account | None: ...


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
        """Write `state` unless a save with a larger fence already landed (StaleFence)."""
        ...


class RealmDatabase(AccountStore, CharacterStore, Protocol):
    """Everything durable. Mail, auctions, guilds and friends join here as they land."""

    async def migrate(self) -> int:
        """Bring the schema to the current version in place; returns that version."""
        ...

    async def schema_version(self) -> int: ...
    async def close(self) -> None: ...


class LeaseStore(Protocol):
    async def acquire(self, key: str, holder: str, ttl_ms: int) -> Lease | None:
        """Grant the lease if it is free or expired (with a new, larger fence)."""
        ...

    async def renew(self, lease: Lease, ttl_ms: int) -> Lease | None:
        """Extend a lease still held by `lease.holder` with `lease.fence`; None if lost."""
        ...

    async def release(self, lease: Lease) -> bool: ...
    async def get(self, key: str) -> Lease | None: ...


class CheckpointStore(Protocol):
    async def put_checkpoint(self, character_id: int, state: CharacterState, fence: int) -> None: ...
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
