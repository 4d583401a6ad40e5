"""`RealmDatabase` on PostgreSQL, for the distributed realm.

Every operation runs under one deadline (`op_timeout_s`, covering the wait for a pooled
connection and the query itself), so no request hangs on a dead or blackholed server. A
connection failure before the statement was sent is retried with backoff until the
deadline (the pool reconnects on the next acquire); a failure after it was sent is
retried only for idempotent operations, since a create that may have committed must not
run twice. Whatever is left at the deadline becomes `Unavailable`.

The SQL mirrors the SQLite backend's, and the migrations carry the same version numbers;
a PostgreSQL advisory lock serialises migrations so several pods may start at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

import asyncpg

from gameserver.storage._common import (
    Migration,
    OpMetrics,
    dump_state,
    load_migrations,
    load_state,
    name_key,
    timed,
    utcnow,
)
from gameserver.storage.interfaces import (
    Conflict,
    NotFound,
    StaleFence,
    StorageError,
    Unavailable,
)
from gameserver.storage.models import Account, Character, CharacterState
from gameserver.storage.postgres.realmdata import PostgresRealmData

MIGRATIONS: list[Migration] = load_migrations("gameserver.storage.postgres")

# pg_advisory_xact_lock key for migrations: any constant the realm uses for nothing else.
_MIGRATION_LOCK = 0x6F70656E7265616C  # "openreal"

_ACCOUNT_COLUMNS = "id, username, password_hash, created_at, banned, last_login_at"
_CHARACTER_COLUMNS = (
    "id, account_id, name, race, char_class, faction, state, created_at, saved_at, save_fence"
)

T = TypeVar("T")
Conn = Any  # asyncpg.Connection or a pool proxy; asyncpg ships no usable stubs


def describe_dsn(dsn: str) -> str:
    """`host:port/db` for error messages: where we tried, never the password."""
    parts = urlsplit(dsn)
    return f"{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path or ''}"


def _is_connection_error(exc: BaseException) -> bool:
    if isinstance(
        exc, OSError | asyncpg.PostgresConnectionError | asyncpg.OperatorInterventionError
    ):
        return True
    # The pool hands out a connection the server has just closed: asyncpg reports it as
    # an InterfaceError ("connection is closed"), which is an outage, not a bug.
    return isinstance(exc, asyncpg.InterfaceError) and "closed" in str(exc)


def _account(row: Any) -> Account:
    return Account(
        id=row["id"],
        username=row["username"],
        password_hash=row["password_hash"],
        created_at=row["created_at"],
        banned=row["banned"],
        last_login_at=row["last_login_at"],
    )


def _character(row: Any) -> Character:
    return Character(
        id=row["id"],
        account_id=row["account_id"],
        name=row["name"],
        race=row["race"],
        char_class=row["char_class"],
        faction=row["faction"],
        state=load_state(row["state"]),
        created_at=row["created_at"],
        saved_at=row["saved_at"],
        save_fence=row["save_fence"],
    )


class PostgresDatabase(PostgresRealmData):
    """The distributed realm's `RealmDatabase`.

    `PostgresDatabase(dsn)` then `await db.connect()`, or `await PostgresDatabase.open(dsn)`
    which also migrates. `connect` fails fast with `Unavailable` naming the server when
    it cannot be reached at start; later outages fail each operation at its deadline.
    """

    def __init__(
        self,
        dsn: str,
        *,
        realm: str = "home",
        op_timeout_s: float = 5.0,
        connect_timeout_s: float = 3.0,
        migrate_timeout_s: float = 120.0,
        min_size: int = 1,
        max_size: int = 10,
    ) -> None:
        self._dsn = dsn
        self.where = describe_dsn(dsn)
        self._op_timeout_s = op_timeout_s
        self._connect_timeout_s = connect_timeout_s
        self._migrate_timeout_s = migrate_timeout_s
        self._min_size = min_size
        self._max_size = max_size
        self._pool: Any = None
        self._metrics = OpMetrics(realm, "postgres")

    @classmethod
    async def open(
        cls, dsn: str, *, realm: str = "home", migrate: bool = True, **options: Any
    ) -> PostgresDatabase:
        db = cls(dsn, realm=realm, **options)
        await db.connect()
        if migrate:
            try:
                await db.migrate()
            except BaseException:
                await db.close()
                raise
        return db

    async def connect(self) -> None:
        if self._pool is not None:
            return
        try:
            async with asyncio.timeout(self._connect_timeout_s * 2):
                self._pool = await asyncpg.create_pool(
                    self._dsn,
                    min_size=self._min_size,
                    max_size=self._max_size,
                    timeout=self._connect_timeout_s,  # per connection attempt
                    command_timeout=self._op_timeout_s,  # per statement, server-side cancel
                )
        except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise Unavailable(f"PostgreSQL at {self.where} is unreachable: {exc!r}") from exc

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            try:
                await asyncio.wait_for(pool.close(), timeout=self._op_timeout_s)
            except TimeoutError:
                pool.terminate()

    # --- the one way every operation runs --------------------------------------------

    async def _run(
        self,
        what: str,
        fn: Callable[[Conn], Awaitable[T]],
        *,
        idempotent: bool,
        timeout_s: float | None = None,
    ) -> T:
        pool = self._pool
        if pool is None:
            raise StorageError("PostgresDatabase is not connected: call connect() or open()")
        budget = self._op_timeout_s if timeout_s is None else timeout_s
        loop = asyncio.get_running_loop()
        deadline = loop.time() + budget
        delay = 0.05
        last: BaseException | None = None
        while True:
            sent = False
            try:
                async with asyncio.timeout_at(deadline):
                    conn = await pool.acquire()
                    sent = True
                    try:
                        result = await fn(conn)
                    except BaseException as exc:
                        await self._give_back(pool, conn, exc)
                        raise
                    await pool.release(conn)
                    return result
            except TimeoutError as exc:
                raise Unavailable(
                    f"PostgreSQL at {self.where}: {what} got no answer within {budget:g}s"
                    + (f" (last error: {last!r})" if last is not None else "")
                ) from exc
            except Exception as exc:
                if not _is_connection_error(exc):
                    raise
                last = exc
                if sent and not idempotent:
                    raise Unavailable(
                        f"PostgreSQL at {self.where}: connection lost during {what};"
                        f" it may or may not have been applied: {exc!r}"
                    ) from exc
                if loop.time() + delay >= deadline:
                    raise Unavailable(
                        f"PostgreSQL at {self.where}: {what} failed until its {budget:g}s"
                        f" deadline: {exc!r}"
                    ) from exc
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)

    @staticmethod
    async def _give_back(pool: Any, conn: Conn, exc: BaseException) -> None:
        """Return a connection after `fn` raised. An answer from the server (a unique
        violation, say) leaves it healthy. A timeout or a broken link leaves it in an
        unknown state, perhaps mid-query on a dead socket, where a graceful release
        would wait on that socket: drop it instead, and the pool reconnects."""
        # InterfaceError: the pool already took back a connection that died under us.
        with contextlib.suppress(asyncpg.InterfaceError):
            if not isinstance(exc, Exception) or _is_connection_error(exc):
                conn.terminate()
            await pool.release(conn)

    # --- schema ----------------------------------------------------------------------

    @staticmethod
    async def _ensure_migrations_table(conn: Conn) -> None:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL)"
        )

    async def schema_version(self) -> int:
        async def op(conn: Conn) -> int:
            exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
            if not exists:
                return 0
            version = await conn.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
            return int(version)

        return await self._run("schema_version", op, idempotent=True)

    async def migrate(self, target: int | None = None) -> int:
        latest = len(MIGRATIONS)
        goal = latest if target is None else target
        if not 0 <= goal <= latest:
            raise ValueError(f"no migration {goal}: this build knows versions 1..{latest}")

        async def op(conn: Conn) -> int:
            current = 0
            for migration in [None, *MIGRATIONS]:
                # One transaction per migration, each under the advisory lock: a pod that
                # starts while another migrates waits, then sees the work done.
                async with conn.transaction():
                    await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
                    await self._ensure_migrations_table(conn)
                    current = int(
                        await conn.fetchval(
                            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations"
                        )
                    )
                    if current > latest:
                        raise StorageError(
                            f"PostgreSQL at {self.where} is at schema version {current},"
                            f" newer than this build ({latest}); upgrade the realm first"
                        )
                    if migration is None or not current < migration.version <= goal:
                        continue
                    try:
                        await conn.execute(migration.sql)
                    except asyncpg.PostgresError as exc:
                        if _is_connection_error(exc):
                            raise
                        raise StorageError(f"migration {migration.name} failed: {exc}") from exc
                    await conn.execute(
                        "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
                        migration.version,
                        utcnow(),
                    )
                    current = migration.version
            return current

        # Migrations are idempotent under the lock (applied ones are skipped), so a
        # connection lost midway is retried like a read.
        return await self._run(
            "migrate", op, idempotent=True, timeout_s=self._migrate_timeout_s
        )

    # --- accounts --------------------------------------------------------------------

    @timed
    async def create_account(self, username: str, password_hash: str) -> Account:
        created = utcnow()

        async def op(conn: Conn) -> Account:
            try:
                account_id = await conn.fetchval(
                    "INSERT INTO accounts (username, username_key, password_hash, created_at)"
                    " VALUES ($1, $2, $3, $4) RETURNING id",
                    username, name_key(username), password_hash, created,
                )
            except asyncpg.UniqueViolationError as exc:
                raise Conflict(f"username {username!r} is taken") from exc
            return Account(
                id=account_id, username=username, password_hash=password_hash,
                created_at=created,
            )

        return await self._run("create_account", op, idempotent=False)

    @timed
    async def get_account_by_name(self, username: str) -> Account | None:
        async def op(conn: Conn) -> Any:
            return await conn.fetchrow(
                f"SELECT {_ACCOUNT_COLUMNS} FROM accounts WHERE username_key = $1",
                name_key(username),
            )

        row = await self._run("get_account_by_name", op, idempotent=True)
        return _account(row) if row is not None else None

    @timed
    async def get_account(self, account_id: int) -> Account | None:
        async def op(conn: Conn) -> Any:
            return await conn.fetchrow(
                f"SELECT {_ACCOUNT_COLUMNS} FROM accounts WHERE id = $1", account_id
            )

        row = await self._run("get_account", op, idempotent=True)
        return _account(row) if row is not None else None

    @timed
    async def record_login(self, account_id: int, at: datetime | None = None) -> None:
        stamp = at or utcnow()

        async def op(conn: Conn) -> str:
            return str(
                await conn.execute(
                    "UPDATE accounts SET last_login_at = $1 WHERE id = $2", stamp, account_id
                )
            )

        status = await self._run("record_login", op, idempotent=True)
        if status == "UPDATE 0":
            raise NotFound(f"no account {account_id}")

    # --- characters ------------------------------------------------------------------

    @timed
    async def create_character(
        self,
        account_id: int,
        name: str,
        race: str,
        char_class: str,
        faction: str,
        state: CharacterState,
    ) -> Character:
        created = utcnow()

        async def op(conn: Conn) -> Character:
            try:
                character_id = await conn.fetchval(
                    "INSERT INTO characters (account_id, name, name_key, race, char_class,"
                    " faction, state, created_at, saved_at, save_fence)"
                    " VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $8, 0) RETURNING id",
                    account_id, name, name_key(name), race, char_class, faction,
                    dump_state(state), created,
                )
            except asyncpg.ForeignKeyViolationError as exc:
                raise NotFound(f"no account {account_id}") from exc
            except asyncpg.UniqueViolationError as exc:
                raise Conflict(f"character name {name!r} is taken") from exc
            return Character(
                id=character_id, account_id=account_id, name=name, race=race,
                char_class=char_class, faction=faction, state=state,
                created_at=created, saved_at=created, save_fence=0,
            )

        return await self._run("create_character", op, idempotent=False)

    @timed
    async def list_characters(self, account_id: int) -> list[Character]:
        async def op(conn: Conn) -> list[Any]:
            return list(
                await conn.fetch(
                    f"SELECT {_CHARACTER_COLUMNS} FROM characters WHERE account_id = $1"
                    " ORDER BY id",
                    account_id,
                )
            )

        return [_character(r) for r in await self._run("list_characters", op, idempotent=True)]

    @timed
    async def get_character(self, character_id: int) -> Character | None:
        async def op(conn: Conn) -> Any:
            return await conn.fetchrow(
                f"SELECT {_CHARACTER_COLUMNS} FROM characters WHERE id = $1", character_id
            )

        row = await self._run("get_character", op, idempotent=True)
        return _character(row) if row is not None else None

    @timed
    async def get_character_by_name(self, name: str) -> Character | None:
        async def op(conn: Conn) -> Any:
            return await conn.fetchrow(
                f"SELECT {_CHARACTER_COLUMNS} FROM characters WHERE name_key = $1",
                name_key(name),
            )

        row = await self._run("get_character_by_name", op, idempotent=True)
        return _character(row) if row is not None else None

    @timed
    async def count_characters(self) -> int:
        async def op(conn: Conn) -> int:
            return int(await conn.fetchval("SELECT COUNT(*) FROM characters"))

        return await self._run("count_characters", op, idempotent=True)

    @timed
    async def save_character(self, character_id: int, state: CharacterState, fence: int) -> None:
        payload = dump_state(state)

        async def op(conn: Conn) -> Any:
            # Check and write in one statement (one round trip, atomic). The outer SELECT
            # reads the row as it was before the UPDATE, which is what a refusal reports.
            return await conn.fetchrow(
                "WITH saved AS ("
                " UPDATE characters SET state = $2::jsonb, saved_at = $3, save_fence = $4"
                " WHERE id = $1 AND save_fence <= $4 RETURNING id)"
                " SELECT (SELECT COUNT(*) FROM saved) AS saved,"
                " (SELECT save_fence FROM characters WHERE id = $1) AS stored",
                character_id, payload, utcnow(), fence,
            )

        # Idempotent: replaying the same state under the same fence writes the same row.
        row = await self._run("save_character", op, idempotent=True)
        if row["saved"]:
            return
        if row["stored"] is None:
            raise NotFound(f"no character {character_id}")
        raise StaleFence(
            f"save for character {character_id} with fence {fence} refused:"
            f" a save with fence {row['stored']} already landed"
        )
