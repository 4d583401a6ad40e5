"""The storage seams of the realm.

Durable data (accounts, characters, realm data such as mail and auctions) lives behind
`RealmDatabase`; hot, expiring state (character leases, checkpoints, routes, server
heartbeats, the login queue) behind `HotState`. The embedded realm uses SQLite and an
in-memory `HotState`; a distributed realm uses PostgreSQL and Redis. Services receive
these protocols and never import a backend (import-linter checks it).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Protocol, TypeVar

from gameserver.storage.loginqueue import AdmissionRate, Admitted, LoginResult
from gameserver.storage.models import (
    Account,
    Character,
    CharacterState,
    Lease,
    Route,
    ServerHeartbeat,
)
from gameserver.storage.realmdata import (
    Auction,
    AuctionQuery,
    EconomyAudit,
    EconomySubject,
    Guild,
    GuildMember,
    GuildRank,
    Mail,
    NewAuction,
    NewMail,
    Relation,
    RelationKind,
)

T = TypeVar("T")


class StorageError(Exception):
    """A storage operation failed in a way the caller may report to a player."""


class Conflict(StorageError):
    """A uniqueness rule was broken (a taken username or character name)."""


class StaleFence(StorageError):
    """A save came from a lease holder whose lease was superseded; it was refused."""


class Unavailable(StorageError):
    """The backend could not be reached within the operation's deadline."""


class LimitReached(StorageError):
    """A per-owner limit (friends, ignores) is full."""


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


class RealmTx(Protocol):
    """One open transaction over the realm's economy tables (see `EconomyStore.transact`).

    Reads with `lock=True` hold the row until the transaction ends (PostgreSQL `FOR
    UPDATE`; SQLite serialises whole transactions anyway), so two bids on one auction,
    or two takes of one mail, run one after the other."""

    async def subject(self, character_id: int, *, lock: bool = True) -> EconomySubject | None:
        ...

    async def write_subject(self, character_id: int, state: CharacterState, fence: int) -> None:
        """Write the character's state like `save_character` (StaleFence, NotFound)."""
        ...

    async def character_id_by_name(self, name: str) -> tuple[int, str] | None:
        """(id, stored name) of the character called `name` (casefolded match)."""
        ...

    async def insert_mail(self, mail: NewMail) -> int:
        """Store a mail and its items (Conflict if an item uid is already held)."""
        ...

    async def mail(self, mail_id: int, *, lock: bool = True) -> Mail | None: ...

    async def replace_mail(self, mail: Mail) -> None:
        """Write every mutable field of `mail`, its items included (they replace the old
        ones)."""
        ...

    async def delete_mail(self, mail_id: int) -> None:
        """Delete a mail and whatever it still holds (callers empty it first)."""
        ...

    async def count_mail(self, recipient_id: int) -> int: ...

    async def insert_auction(self, auction: NewAuction) -> int: ...
    async def auction(self, auction_id: int, *, lock: bool = True) -> Auction | None: ...
    async def set_bid(self, auction_id: int, bidder_id: int, bid: int) -> None: ...
    async def delete_auction(self, auction_id: int) -> None:
        """Delete an auction and its held item (callers have mailed the item on)."""
        ...

    async def count_auctions(self, seller_id: int) -> int: ...
    async def add_sink(self, kind: str, amount: int) -> None:
        """Record gold that left the economy on purpose (deposits kept, cuts)."""
        ...


class EconomyStore(Protocol):
    """Mail and auctions: everything that holds gold or items outside a character."""

    async def transact(self, fn: Callable[[RealmTx], Awaitable[T]]) -> T:
        """Run `fn` in one transaction and commit; roll back if it raises.

        `fn` may run more than once (PostgreSQL retries a transaction that lost a
        deadlock or serialisation race), so it must do nothing outside `tx` but compute.
        """
        ...

    async def list_mail(
        self, recipient_id: int, offset: int, limit: int
    ) -> tuple[list[Mail], int]:
        """A page of the recipient's mail, newest first, and the total count."""
        ...

    async def mark_mail_read(self, mail_id: int, recipient_id: int) -> bool: ...

    async def search_auctions(
        self, query: AuctionQuery, now_ms: int
    ) -> tuple[list[Auction], int]:
        """A page of running auctions matching `query`, and how many match in all."""
        ...

    async def due_mail(self, now_ms: int, limit: int) -> list[int]:
        """Ids of mail whose expiry time has passed."""
        ...

    async def due_auctions(self, now_ms: int, limit: int) -> list[int]:
        """Ids of auctions whose end time has passed."""
        ...

    async def audit(self) -> EconomyAudit:
        """Every coin and item of the realm, read in one consistent snapshot."""
        ...


class SocialStore(Protocol):
    """Friends, ignore lists and guilds."""

    async def add_relation(
        self, owner_id: int, other_id: int, kind: RelationKind, limit: int
    ) -> None:
        """Conflict if it exists; `LimitReached` if the owner already has `limit`."""
        ...

    async def remove_relation(self, owner_id: int, other_id: int, kind: RelationKind) -> bool: ...
    async def relations(self, owner_id: int, kind: RelationKind) -> list[Relation]: ...
    async def related_to(self, other_id: int, kind: RelationKind) -> list[int]:
        """Owners whose `kind` list holds `other_id` (whom to tell it came online)."""
        ...

    async def has_relation(self, owner_id: int, other_id: int, kind: RelationKind) -> bool: ...

    async def create_guild(
        self, name: str, leader_id: int, ranks: list[GuildRank], now_ms: int
    ) -> Guild:
        """Conflict if the name is taken or the leader is already in a guild."""
        ...

    async def get_guild(self, guild_id: int) -> Guild | None: ...
    async def guild_member(self, character_id: int) -> GuildMember | None: ...
    async def guild_members(self, guild_id: int) -> list[GuildMember]: ...
    async def guild_ranks(self, guild_id: int) -> list[GuildRank]: ...
    async def add_guild_member(
        self, guild_id: int, character_id: int, rank: int, now_ms: int
    ) -> None:
        """Conflict if the character is already in a guild; NotFound if the guild is gone."""
        ...

    async def remove_guild_member(self, guild_id: int, character_id: int) -> bool: ...
    async def set_member_rank(self, guild_id: int, character_id: int, rank: int) -> bool: ...
    async def set_guild_leader(self, guild_id: int, old_leader: int, new_leader: int) -> None:
        """Swap ranks (the new leader gets rank 0, the old one rank 1) in one transaction."""
        ...

    async def set_motd(self, guild_id: int, motd: str) -> None: ...
    async def set_rank(self, guild_id: int, rank: GuildRank) -> None: ...
    async def delete_guild(self, guild_id: int) -> None: ...


class RealmDatabase(AccountStore, CharacterStore, EconomyStore, SocialStore, Protocol):
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

    async def break_lease(self, key: str) -> None:
        """Expire a lease now, whoever holds it (its holder is known dead). The fence is
        kept, so the holder's saves are refused if it was not dead after all."""
        ...

    async def get(self, key: str) -> Lease | None:
        """The current, unexpired lease on `key`, if any."""
        ...


class CheckpointStore(Protocol):
    async def put_checkpoint(self, character_id: int, state: CharacterState, fence: int) -> None:
        """Store the latest state; StaleFence if a checkpoint with a larger fence is stored."""
        ...

    async def put_checkpoints(
        self, checkpoints: Sequence[tuple[int, CharacterState, int]]
    ) -> list[int]:
        """Store many (character id, state, fence) at once (one round trip: a region server
        checkpoints every player every few seconds); the ids refused for a stale fence."""
        ...

    async def get_checkpoint(self, character_id: int) -> tuple[CharacterState, int] | None: ...
    async def delete_checkpoint(self, character_id: int) -> None: ...


class RouteStore(Protocol):
    async def set_route(self, route: Route) -> None: ...
    async def get_route(self, account_id: int) -> Route | None: ...
    async def clear_route(self, account_id: int) -> None: ...

    async def routes_on(self, server_id: str) -> list[Route]:
        """The routes that point at `server_id` (the players it simulates)."""
        ...


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

    async def publish_border(
        self, realm: str, region: str, server_id: str, payload: bytes, ttl_ms: int
    ) -> None:
        """A region server's entities near its edges (packed EntityState records), for
        the servers of neighbouring regions to show as ghosts."""
        ...

    async def set_lockout(
        self, realm: str, character_id: int, template: str, instance_id: str, ttl_ms: int
    ) -> None:
        """Bind a character to an instance of a dungeon until the lockout expires."""
        ...

    async def get_lockout(self, realm: str, character_id: int, template: str) -> str | None: ...

    async def border_feeds(self, realm: str, regions: list[str]) -> list[tuple[str, bytes]]:
        """The unexpired border payloads of every server of `regions`: (server_id, payload)."""
        ...


class LoginQueueStore(Protocol):
    """The realm's seats and login queue (see `gameserver.storage.loginqueue`).

    A seat is held per account from admission until its RCM session closes; an admitted
    player who never connects loses the seat after `pending_ttl_ms`. Every decision that
    reads seats, the queue and the rate bucket and then writes them is atomic. Positions
    are 1-based ranks of ever-growing tickets, answered in O(log n) at any queue length.
    """

    async def queue_login(
        self, realm: str, account_id: int, limit: int, rate: AdmissionRate, pending_ttl_ms: int
    ) -> LoginResult:
        """Admit the account now (a seat below `limit`, a token in the bucket, nobody
        waiting ahead in its lane) or queue it. A live grace entry is consumed and puts the
        ticket ahead of every ordinary one. Idempotent: an account already queued keeps its
        ticket, one already seated is admitted on the `seated` path."""
        ...

    async def admit_queued(
        self, realm: str, limit: int, rate: AdmissionRate, pending_ttl_ms: int, max_n: int
    ) -> list[Admitted]:
        """Take up to `admission_budget(...)` players from the head of the queue and give
        them pending seats; each is also appended to the admissions log."""
        ...

    async def queue_positions(self, realm: str, account_ids: Sequence[int]) -> list[int | None]:
        """Each account's 1-based place in the queue, None if it is not queued."""
        ...

    async def queue_length(self, realm: str) -> int: ...

    async def leave_queue(self, realm: str, account_id: int) -> bool: ...

    async def confirm_seat(self, realm: str, account_id: int) -> bool:
        """The account's RCM session opened: its seat no longer expires. False if it held
        no seat."""
        ...

    async def release_seat(self, realm: str, account_id: int, grace_ms: int) -> bool:
        """Free the account's seat; with `grace_ms > 0` it may re-enter ahead of the queue
        until then. False if it held no seat (no grace is granted then)."""
        ...

    async def holds_seat(self, realm: str, account_id: int) -> bool: ...

    async def seats_in_use(self, realm: str) -> int: ...

    async def admission_cursor(self, realm: str) -> str:
        """Where the admissions log ends now (read on from here with `admissions_since`)."""
        ...

    async def admissions_since(
        self, realm: str, cursor: str, limit: int = 1000
    ) -> tuple[list[Admitted], str]:
        """Admissions logged after `cursor`, oldest first, and the cursor to read on from.
        The log is bounded (the oldest entries are trimmed); every gateway tails it to
        hand grants to the waiters it holds, whichever gateway admitted them."""
        ...


class HotState(
    LeaseStore, CheckpointStore, RouteStore, ServerRegistry, LoginQueueStore, Protocol
):
    async def close(self) -> None: ...
