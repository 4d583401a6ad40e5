"""`RealmDatabase` on one SQLite file, for the embedded realm.

One aiosqlite connection serves the process. SQLite allows one writer at a time anyway,
and a single connection shared by coroutines would let one coroutine's statement land
inside another's open transaction, so every operation holds `_lock`: transactions are
whole, and reads never see another coroutine's half-done write.

The file runs in WAL mode (readers, such as a backup or the sqlite3 shell, do not block
the realm) with `synchronous=NORMAL`: a crash of the process loses nothing, a power cut
may lose the last few saves, which the periodic checkpoint bounds anyway.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

import aiosqlite

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
from gameserver.storage.sqlite.realmdata import SqliteRealmData

MIGRATIONS: list[Migration] = load_migrations("gameserver.storage.sqlite")

_ACCOUNT_COLUMNS = "id, username, password_hash, created_at, banned, last_login_at"
_CHARACTER_COLUMNS = (
    "id, account_id, name, race, char_class, faction, state, created_at, saved_at, save_fence"
)


def _ts(value: datetime) -> str:
    return value.isoformat()


def _account(row: sqlite3.Row) -> Account:
    last = row["last_login_at"]
    return Account(
        id=row["id"],
        username=row["username"],
        password_hash=row["password_hash"],
        created_at=datetime.fromisoformat(row["created_at"]),
        banned=bool(row["banned"]),
        last_login_at=datetime.fromisoformat(last) if last is not None else None,
    )


def _character(row: sqlite3.Row) -> Character:
    return Character(
        id=row["id"],
        account_id=row["account_id"],
        name=row["name"],
        race=row["race"],
        char_class=row["char_class"],
        faction=row["faction"],
        state=load_state(row["state"]),
        created_at=datetime.fromisoformat(row["created_at"]),
        saved_at=datetime.fromisoformat(row["saved_at"]),
        save_fence=row["save_fence"],
    )


class SqliteDatabase(SqliteRealmData):
    """The embedded realm's `RealmDatabase`.

    `SqliteDatabase(path)` then `await db.connect()`, or `await SqliteDatabase.open(path)`
    which also migrates. The parent directory and the file are created when missing.
    """

    def __init__(self, path: Path, *, realm: str = "home", busy_timeout_ms: int = 5000) -> None:
        self.path = Path(path)
        self._busy_timeout_ms = busy_timeout_ms
        self._conn: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()
        self._metrics = OpMetrics(realm, "sqlite")

    @classmethod
    async def open(
        cls, path: Path, *, realm: str = "home", migrate: bool = True
    ) -> SqliteDatabase:
        db = cls(path, realm=realm)
        await db.connect()
        if migrate:
            try:
                await db.migrate()
            except BaseException:
                await db.close()
                raise
        return db

    async def connect(self) -> None:
        if self._conn is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # isolation_level=None: no implicit transactions; we issue BEGIN ourselves so
            # a transaction spans exactly what the method says.
            conn = await aiosqlite.connect(self.path, isolation_level=None)
        except sqlite3.Error as exc:
            raise Unavailable(f"cannot open SQLite database {self.path}: {exc}") from exc
        conn.row_factory = sqlite3.Row
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA synchronous=NORMAL")
        await conn.execute("PRAGMA foreign_keys=ON")
        await conn.execute(f"PRAGMA busy_timeout={int(self._busy_timeout_ms)}")
        self._conn = conn

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()

    def _require(self) -> aiosqlite.Connection:
        if self._conn is None:
            raise StorageError("SqliteDatabase is not connected: call connect() or open()")
        return self._conn

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._lock:
            yield self._require()

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction. BEGIN IMMEDIATE takes the write lock up front, so a
        transaction never fails halfway on a lock it could not upgrade."""
        async with self._lock:
            conn = self._require()
            try:
                await conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise Unavailable(f"SQLite database {self.path} is busy: {exc}") from exc
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:
                    await conn.execute("ROLLBACK")
                raise
            await conn.execute("COMMIT")

    # --- schema ----------------------------------------------------------------------

    async def _version(self, conn: aiosqlite.Connection) -> int:
        async with conn.execute("SELECT MAX(version) FROM schema_migrations") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row is not None and row[0] is not None else 0

    async def schema_version(self) -> int:
        async with self._read() as conn:
            await self._ensure_migrations_table(conn)
            return await self._version(conn)

    @staticmethod
    async def _ensure_migrations_table(conn: aiosqlite.Connection) -> None:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
        )

    async def migrate(self, target: int | None = None) -> int:
        latest = len(MIGRATIONS)
        goal = latest if target is None else target
        if not 0 <= goal <= latest:
            raise ValueError(f"no migration {goal}: this build knows versions 1..{latest}")
        async with self._read() as conn:
            await self._ensure_migrations_table(conn)
            current = await self._version(conn)
            if current > latest:
                raise StorageError(
                    f"{self.path} is at schema version {current}, newer than this build"
                    f" ({latest}); upgrade the realm before using this database"
                )
            for migration in MIGRATIONS:
                if current < migration.version <= goal:
                    await self._apply(conn, migration)
                    current = migration.version
            return await self._version(conn)

    async def _apply(self, conn: aiosqlite.Connection, migration: Migration) -> None:
        # executescript() runs arbitrary DDL (triggers included) but commits any open
        # transaction first, so the transaction is part of the script itself. The
        # version row goes in the same transaction: if another process applied the same
        # migration first, the primary key fails and everything rolls back.
        script = (
            "BEGIN IMMEDIATE;\n"
            f"{migration.sql}\n;\n"
            "INSERT INTO schema_migrations (version, applied_at)"
            f" VALUES ({migration.version}, '{_ts(utcnow())}');\n"
            "COMMIT;\n"
        )
        try:
            await conn.executescript(script)
        except sqlite3.Error as exc:
            if conn.in_transaction:
                await conn.execute("ROLLBACK")
            if await self._version(conn) >= migration.version:
                return  # another process got there first
            raise StorageError(f"migration {migration.name} failed: {exc}") from exc

    # --- accounts --------------------------------------------------------------------

    @timed
    async def create_account(self, username: str, password_hash: str) -> Account:
        created = utcnow()
        async with self._tx() as conn:
            try:
                cur = await conn.execute(
                    "INSERT INTO accounts (username, username_key, password_hash, created_at)"
                    " VALUES (?, ?, ?, ?)",
                    (username, name_key(username), password_hash, _ts(created)),
                )
            except sqlite3.IntegrityError as exc:
                raise Conflict(f"username {username!r} is taken") from exc
            account_id = cur.lastrowid
        assert account_id is not None
        return Account(
            id=account_id, username=username, password_hash=password_hash, created_at=created
        )

    @timed
    async def get_account_by_name(self, username: str) -> Account | None:
        async with self._read() as conn, conn.execute(
            f"SELECT {_ACCOUNT_COLUMNS} FROM accounts WHERE username_key = ?",
            (name_key(username),),
        ) as cur:
            row = await cur.fetchone()
        return _account(row) if row is not None else None

    @timed
    async def get_account(self, account_id: int) -> Account | None:
        async with self._read() as conn, conn.execute(
            f"SELECT {_ACCOUNT_COLUMNS} FROM accounts WHERE id = ?", (account_id,)
        ) as cur:
            row = await cur.fetchone()
        return _account(row) if row is not None else None

    @timed
    async def record_login(self, account_id: int, at: datetime | None = None) -> None:
        async with self._tx() as conn:
            cur = await conn.execute(
                "UPDATE accounts SET last_login_at = ? WHERE id = ?",
                (_ts(at or utcnow()), account_id),
            )
            if cur.rowcount == 0:
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
        async with self._tx() as conn:
            try:
                cur = await conn.execute(
                    "INSERT INTO characters (account_id, name, name_key, race, char_class,"
                    " faction, state, created_at, saved_at, save_fence)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0)",
                    (
                        account_id, name, name_key(name), race, char_class, faction,
                        dump_state(state), _ts(created), _ts(created),
                    ),
                )
            except sqlite3.IntegrityError as exc:
                if "FOREIGN KEY" in str(exc):
                    raise NotFound(f"no account {account_id}") from exc
                raise Conflict(f"character name {name!r} is taken") from exc
            character_id = cur.lastrowid
        assert character_id is not None
        return Character(
            id=character_id, account_id=account_id, name=name, race=race,
            char_class=char_class, faction=faction, state=state,
            created_at=created, saved_at=created, save_fence=0,
        )

    @timed
    async def list_characters(self, account_id: int) -> list[Character]:
        async with self._read() as conn, conn.execute(
            f"SELECT {_CHARACTER_COLUMNS} FROM characters WHERE account_id = ? ORDER BY id",
            (account_id,),
        ) as cur:
            rows = await cur.fetchall()
        return [_character(row) for row in rows]

    @timed
    async def get_character(self, character_id: int) -> Character | None:
        async with self._read() as conn, conn.execute(
            f"SELECT {_CHARACTER_COLUMNS} FROM characters WHERE id = ?", (character_id,)
        ) as cur:
            row = await cur.fetchone()
        return _character(row) if row is not None else None

    @timed
    async def get_character_by_name(self, name: str) -> Character | None:
        async with self._read() as conn, conn.execute(
            f"SELECT {_CHARACTER_COLUMNS} FROM characters WHERE name_key = ?", (name_key(name),)
        ) as cur:
            row = await cur.fetchone()
        return _character(row) if row is not None else None

    @timed
    async def count_characters(self) -> int:
        async with self._read() as conn, conn.execute("SELECT COUNT(*) FROM characters") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row is not None else 0

    @timed
    async def save_character(self, character_id: int, state: CharacterState, fence: int) -> None:
        async with self._tx() as conn:
            # The fence check and the write are one statement: no window in which a newer
            # holder's save could land between them.
            cur = await conn.execute(
                "UPDATE characters SET state = ?, saved_at = ?, save_fence = ?"
                " WHERE id = ? AND save_fence <= ?",
                (dump_state(state), _ts(utcnow()), fence, character_id, fence),
            )
            if cur.rowcount == 1:
                return
            async with conn.execute(
                "SELECT save_fence FROM characters WHERE id = ?", (character_id,)
            ) as check:
                row = await check.fetchone()
        if row is None:
            raise NotFound(f"no character {character_id}")
        raise StaleFence(
            f"save for character {character_id} with fence {fence} refused:"
            f" a save with fence {row[0]} already landed"
        )
