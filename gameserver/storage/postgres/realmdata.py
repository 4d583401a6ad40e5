"""Mail, auctions, friends and guilds on PostgreSQL (the distributed realm).

A mixin of `PostgresDatabase`, the twin of `gameserver/storage/sqlite/realmdata.py` (keep
the two in step). Economy transactions run at READ COMMITTED with row locks: every read
the logic decides on is `SELECT ... FOR UPDATE` (the auction, the mail, the character),
so two bids on one auction, or a bid and a cancel, queue on the row instead of both
deciding on the same old value. A transaction that loses a deadlock or a serialisation
race is rolled back and run again from the start (that is why `transact`'s function must
be pure apart from the transaction).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

import asyncpg

from gameserver.storage._common import OpMetrics, dump_state, load_state, name_key, timed, utcnow
from gameserver.storage.interfaces import Conflict, LimitReached, NotFound, StaleFence
from gameserver.storage.models import CharacterState, ItemStack
from gameserver.storage.realmdata import (
    Auction,
    AuctionQuery,
    AuctionSort,
    EconomyAudit,
    EconomySubject,
    Guild,
    GuildMember,
    GuildRank,
    HeldItem,
    Mail,
    MailKind,
    NewAuction,
    NewMail,
    Relation,
    RelationKind,
)

T = TypeVar("T")
Conn = Any  # asyncpg ships no usable stubs

#: How many times a transaction that lost a deadlock/serialisation race is run again.
TX_ATTEMPTS = 8

_MAIL_COLUMNS = (
    "id, kind, sender_id, sender_name, recipient_id, subject, body, gold, cod,"
    " sent_at_ms, expires_at_ms, returned, is_read"
)
_AUCTION_COLUMNS = (
    "a.id, a.seller_id, a.seller_name, a.item_id, a.item_count, a.item_name, a.item_level,"
    " a.quality, a.start_bid, a.buyout, a.bid, a.bidder_id, a.deposit, a.created_at_ms,"
    " a.ends_at_ms, h.uid"
)


def _mail(row: Any, items: tuple[ItemStack, ...]) -> Mail:
    return Mail(
        id=row["id"], kind=MailKind(row["kind"]), sender_id=row["sender_id"],
        sender_name=row["sender_name"], recipient_id=row["recipient_id"],
        subject=row["subject"], body=row["body"], gold=row["gold"], cod=row["cod"],
        items=items, sent_at_ms=row["sent_at_ms"], expires_at_ms=row["expires_at_ms"],
        returned=row["returned"], read=row["is_read"],
    )


def _auction(row: Any) -> Auction:
    return Auction(
        id=row["id"], seller_id=row["seller_id"], seller_name=row["seller_name"],
        item=ItemStack(uid=row["uid"], item_id=row["item_id"], count=row["item_count"]),
        item_name=row["item_name"], item_level=row["item_level"], quality=row["quality"],
        start_bid=row["start_bid"], buyout=row["buyout"], bid=row["bid"],
        bidder_id=row["bidder_id"], deposit=row["deposit"],
        created_at_ms=row["created_at_ms"], ends_at_ms=row["ends_at_ms"],
    )


async def _held(conn: Conn, kind: str, holder_id: int) -> tuple[ItemStack, ...]:
    rows = await conn.fetch(
        "SELECT uid, item_id, count FROM held_items WHERE holder_kind = $1 AND holder_id = $2"
        " ORDER BY position",
        kind, holder_id,
    )
    return tuple(ItemStack(uid=r[0], item_id=r[1], count=r[2]) for r in rows)


async def _hold(conn: Conn, kind: str, holder_id: int, items: Iterable[ItemStack]) -> None:
    rows = [(it.uid, kind, holder_id, i, it.item_id, it.count) for i, it in enumerate(items)]
    if not rows:
        return
    try:
        await conn.executemany(
            "INSERT INTO held_items (uid, holder_kind, holder_id, position, item_id, count)"
            " VALUES ($1, $2, $3, $4, $5, $6)",
            rows,
        )
    except asyncpg.UniqueViolationError as exc:
        raise Conflict(f"an item is already held elsewhere: {exc}") from exc


def _lock(lock: bool) -> str:
    return " FOR UPDATE" if lock else ""


class PostgresRealmTx:
    """`RealmTx` on the connection of an open PostgreSQL transaction."""

    def __init__(self, conn: Conn) -> None:
        self._c = conn

    async def subject(self, character_id: int, *, lock: bool = True) -> EconomySubject | None:
        row = await self._c.fetchrow(
            "SELECT id, account_id, name, state, save_fence FROM characters WHERE id = $1"
            + _lock(lock),
            character_id,
        )
        if row is None:
            return None
        return EconomySubject(
            id=row[0], account_id=row[1], name=row[2], state=load_state(row[3]),
            save_fence=row[4],
        )

    async def write_subject(self, character_id: int, state: CharacterState, fence: int) -> None:
        status = await self._c.execute(
            "UPDATE characters SET state = $2::jsonb, saved_at = $3, save_fence = $4"
            " WHERE id = $1 AND save_fence <= $4",
            character_id, dump_state(state), utcnow(), fence,
        )
        if status == "UPDATE 1":
            return
        stored = await self._c.fetchval(
            "SELECT save_fence FROM characters WHERE id = $1", character_id
        )
        if stored is None:
            raise NotFound(f"no character {character_id}")
        raise StaleFence(f"character {character_id}: fence {fence} < stored {stored}")

    async def character_id_by_name(self, name: str) -> tuple[int, str] | None:
        row = await self._c.fetchrow(
            "SELECT id, name FROM characters WHERE name_key = $1", name_key(name)
        )
        return (int(row[0]), str(row[1])) if row is not None else None

    async def insert_mail(self, mail: NewMail) -> int:
        mail_id = int(
            await self._c.fetchval(
                "INSERT INTO mail (kind, sender_id, sender_name, recipient_id, subject, body,"
                " gold, cod, sent_at_ms, expires_at_ms, returned, is_read)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, FALSE) RETURNING id",
                mail.kind.value, mail.sender_id, mail.sender_name, mail.recipient_id,
                mail.subject, mail.body, mail.gold, mail.cod, mail.sent_at_ms,
                mail.expires_at_ms, mail.returned,
            )
        )
        await _hold(self._c, "mail", mail_id, mail.items)
        return mail_id

    async def mail(self, mail_id: int, *, lock: bool = True) -> Mail | None:
        row = await self._c.fetchrow(
            f"SELECT {_MAIL_COLUMNS} FROM mail WHERE id = $1" + _lock(lock), mail_id
        )
        if row is None:
            return None
        return _mail(row, await _held(self._c, "mail", mail_id))

    async def replace_mail(self, mail: Mail) -> None:
        await self._c.execute(
            "UPDATE mail SET kind = $1, sender_id = $2, sender_name = $3, recipient_id = $4,"
            " subject = $5, body = $6, gold = $7, cod = $8, expires_at_ms = $9,"
            " returned = $10, is_read = $11 WHERE id = $12",
            mail.kind.value, mail.sender_id, mail.sender_name, mail.recipient_id,
            mail.subject, mail.body, mail.gold, mail.cod, mail.expires_at_ms,
            mail.returned, mail.read, mail.id,
        )
        await self._c.execute(
            "DELETE FROM held_items WHERE holder_kind = 'mail' AND holder_id = $1", mail.id
        )
        await _hold(self._c, "mail", mail.id, mail.items)

    async def delete_mail(self, mail_id: int) -> None:
        await self._c.execute(
            "DELETE FROM held_items WHERE holder_kind = 'mail' AND holder_id = $1", mail_id
        )
        await self._c.execute("DELETE FROM mail WHERE id = $1", mail_id)

    async def count_mail(self, recipient_id: int) -> int:
        return int(
            await self._c.fetchval(
                "SELECT COUNT(*) FROM mail WHERE recipient_id = $1", recipient_id
            )
        )

    async def insert_auction(self, auction: NewAuction) -> int:
        it = auction.item
        auction_id = int(
            await self._c.fetchval(
                "INSERT INTO auctions (seller_id, seller_name, item_id, item_count, item_name,"
                " name_key, item_level, quality, start_bid, buyout, bid, bidder_id, deposit,"
                " created_at_ms, ends_at_ms)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0, NULL, $11, $12, $13)"
                " RETURNING id",
                auction.seller_id, auction.seller_name, it.item_id, it.count, auction.item_name,
                name_key(auction.item_name), auction.item_level, auction.quality,
                auction.start_bid, auction.buyout, auction.deposit, auction.created_at_ms,
                auction.ends_at_ms,
            )
        )
        await _hold(self._c, "auction", auction_id, (it.model_copy(update={"slot": None}),))
        return auction_id

    async def auction(self, auction_id: int, *, lock: bool = True) -> Auction | None:
        row = await self._c.fetchrow(
            f"SELECT {_AUCTION_COLUMNS} FROM auctions a JOIN held_items h"
            " ON h.holder_kind = 'auction' AND h.holder_id = a.id WHERE a.id = $1"
            + (" FOR UPDATE OF a" if lock else ""),
            auction_id,
        )
        return _auction(row) if row is not None else None

    async def set_bid(self, auction_id: int, bidder_id: int, bid: int) -> None:
        await self._c.execute(
            "UPDATE auctions SET bid = $1, bidder_id = $2 WHERE id = $3",
            bid, bidder_id, auction_id,
        )

    async def delete_auction(self, auction_id: int) -> None:
        await self._c.execute(
            "DELETE FROM held_items WHERE holder_kind = 'auction' AND holder_id = $1", auction_id
        )
        await self._c.execute("DELETE FROM auctions WHERE id = $1", auction_id)

    async def count_auctions(self, seller_id: int) -> int:
        return int(
            await self._c.fetchval("SELECT COUNT(*) FROM auctions WHERE seller_id = $1", seller_id)
        )

    async def add_sink(self, kind: str, amount: int) -> None:
        if amount:
            await self._c.execute(
                "INSERT INTO economy_sinks (kind, amount) VALUES ($1, $2)"
                " ON CONFLICT (kind) DO UPDATE SET amount = economy_sinks.amount + EXCLUDED.amount",
                kind, amount,
            )


_PRICE = (
    "(CASE WHEN a.buyout > 0 THEN a.buyout WHEN a.bid > 0 THEN a.bid ELSE a.start_bid END)"
)
_ORDER = {
    AuctionSort.ENDING: "a.ends_at_ms, a.id",
    AuctionSort.PRICE: f"{_PRICE}, a.id",
    AuctionSort.NAME: "a.name_key, a.id",
}


def _auction_where(q: AuctionQuery, now_ms: int) -> tuple[str, list[Any]]:
    args: list[Any] = [now_ms]
    where = ["a.ends_at_ms > $1"]

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    if q.name:
        where.append(f"strpos(a.name_key, {arg(name_key(q.name))}) > 0")
    for column, value, op in (
        ("a.item_id", q.item_id, "="),
        ("a.item_level", q.min_level, ">="),
        ("a.item_level", q.max_level, "<="),
        ("a.quality", q.quality, "="),
        ("a.seller_id", q.seller_id, "="),
        ("a.bidder_id", q.bidder_id, "="),
    ):
        if value is not None:
            where.append(f"{column} {op} {arg(value)}")
    if q.max_price is not None:
        where.append(f"{_PRICE} <= {arg(q.max_price)}")
    return " AND ".join(where), args


class PostgresRealmData:
    """The `EconomyStore` and `SocialStore` halves of `PostgresDatabase`."""

    _metrics: OpMetrics

    async def _run(
        self,
        what: str,
        fn: Callable[[Conn], Awaitable[T]],
        *,
        idempotent: bool,
        timeout_s: float | None = None,
    ) -> T:
        raise NotImplementedError

    # --- economy ----------------------------------------------------------------------

    @timed
    async def transact(self, fn: Callable[[PostgresRealmTx], Awaitable[T]]) -> T:
        async def op(conn: Conn) -> T:
            for attempt in range(TX_ATTEMPTS):
                try:
                    async with conn.transaction():
                        return await fn(PostgresRealmTx(conn))
                except (asyncpg.DeadlockDetectedError, asyncpg.SerializationError):
                    if attempt == TX_ATTEMPTS - 1:
                        raise
                    await asyncio.sleep(random.uniform(0.001, 0.01) * (attempt + 1))
            raise AssertionError("unreachable")

        # Not idempotent: a connection lost during COMMIT leaves it unknown whether the
        # transaction landed, and the caller must find out (see rwam/economy.py).
        return await self._run("transact", op, idempotent=False)

    @timed
    async def list_mail(
        self, recipient_id: int, offset: int, limit: int
    ) -> tuple[list[Mail], int]:
        async def op(conn: Conn) -> tuple[list[Mail], int]:
            async with conn.transaction(readonly=True):
                rows = await conn.fetch(
                    f"SELECT {_MAIL_COLUMNS} FROM mail WHERE recipient_id = $1"
                    " ORDER BY id DESC LIMIT $2 OFFSET $3",
                    recipient_id, limit, offset,
                )
                mails = [_mail(r, await _held(conn, "mail", r["id"])) for r in rows]
                total = await conn.fetchval(
                    "SELECT COUNT(*) FROM mail WHERE recipient_id = $1", recipient_id
                )
            return mails, int(total)

        return await self._run("list_mail", op, idempotent=True)

    @timed
    async def mark_mail_read(self, mail_id: int, recipient_id: int) -> bool:
        async def op(conn: Conn) -> str:
            return str(
                await conn.execute(
                    "UPDATE mail SET is_read = TRUE WHERE id = $1 AND recipient_id = $2",
                    mail_id, recipient_id,
                )
            )

        return await self._run("mark_mail_read", op, idempotent=True) == "UPDATE 1"

    @timed
    async def search_auctions(
        self, query: AuctionQuery, now_ms: int
    ) -> tuple[list[Auction], int]:
        where, args = _auction_where(query, now_ms)
        n = len(args)

        async def op(conn: Conn) -> tuple[list[Auction], int]:
            async with conn.transaction(readonly=True):
                rows = await conn.fetch(
                    f"SELECT {_AUCTION_COLUMNS} FROM auctions a JOIN held_items h"
                    " ON h.holder_kind = 'auction' AND h.holder_id = a.id"
                    f" WHERE {where} ORDER BY {_ORDER[query.sort]}"
                    f" LIMIT ${n + 1} OFFSET ${n + 2}",
                    *args, query.limit, query.offset,
                )
                total = await conn.fetchval(
                    f"SELECT COUNT(*) FROM auctions a WHERE {where}", *args
                )
            return [_auction(r) for r in rows], int(total)

        return await self._run("search_auctions", op, idempotent=True)

    @timed
    async def due_mail(self, now_ms: int, limit: int) -> list[int]:
        async def op(conn: Conn) -> list[int]:
            rows = await conn.fetch(
                "SELECT id FROM mail WHERE expires_at_ms IS NOT NULL AND expires_at_ms <= $1"
                " ORDER BY expires_at_ms LIMIT $2",
                now_ms, limit,
            )
            return [int(r[0]) for r in rows]

        return await self._run("due_mail", op, idempotent=True)

    @timed
    async def due_auctions(self, now_ms: int, limit: int) -> list[int]:
        async def op(conn: Conn) -> list[int]:
            rows = await conn.fetch(
                "SELECT id FROM auctions WHERE ends_at_ms <= $1 ORDER BY ends_at_ms LIMIT $2",
                now_ms, limit,
            )
            return [int(r[0]) for r in rows]

        return await self._run("due_auctions", op, idempotent=True)

    @timed
    async def audit(self) -> EconomyAudit:
        async def op(conn: Conn) -> EconomyAudit:
            # REPEATABLE READ: every query sees the same snapshot.
            async with conn.transaction(isolation="repeatable_read", readonly=True):
                rows = await conn.fetch("SELECT state FROM characters")
                states = [load_state(r[0]) for r in rows]
                mail_gold = await conn.fetchval("SELECT COALESCE(SUM(gold), 0) FROM mail")
                auction = await conn.fetchrow(
                    "SELECT COALESCE(SUM(bid), 0), COALESCE(SUM(deposit), 0) FROM auctions"
                )
                sinks = {
                    str(r[0]): int(r[1])
                    for r in await conn.fetch("SELECT kind, amount FROM economy_sinks")
                }
                held = [
                    HeldItem(
                        holder_kind=r[0], holder_id=r[1],
                        item=ItemStack(uid=r[2], item_id=r[3], count=r[4]),
                    )
                    for r in await conn.fetch(
                        "SELECT holder_kind, holder_id, uid, item_id, count FROM held_items"
                    )
                ]
            return EconomyAudit(
                character_gold=sum(s.gold for s in states),
                mail_gold=int(mail_gold),
                auction_bids=int(auction[0]),
                auction_deposits=int(auction[1]),
                sinks=sinks,
                character_items=tuple(it for s in states for it in s.items),
                held_items=tuple(held),
            )

        return await self._run("audit", op, idempotent=True)

    # --- friends and ignore lists -----------------------------------------------------

    @timed
    async def add_relation(
        self, owner_id: int, other_id: int, kind: RelationKind, limit: int
    ) -> None:
        async def op(conn: Conn) -> None:
            async with conn.transaction():
                # Lock the owner's row: two adds at once cannot both pass the count.
                await conn.execute("SELECT 1 FROM characters WHERE id = $1 FOR UPDATE", owner_id)
                count = await conn.fetchval(
                    "SELECT COUNT(*) FROM relations WHERE owner_id = $1 AND kind = $2",
                    owner_id, kind.value,
                )
                if int(count) >= limit:
                    raise LimitReached(f"the {kind.value} list is full ({limit})")
                try:
                    await conn.execute(
                        "INSERT INTO relations (owner_id, kind, other_id, created_at_ms)"
                        " VALUES ($1, $2, $3, $4)",
                        owner_id, kind.value, other_id, int(utcnow().timestamp() * 1000),
                    )
                except asyncpg.ForeignKeyViolationError as exc:
                    raise NotFound("no such character") from exc
                except asyncpg.UniqueViolationError as exc:
                    raise Conflict(f"already on the {kind.value} list") from exc

        await self._run("add_relation", op, idempotent=False)

    @timed
    async def remove_relation(self, owner_id: int, other_id: int, kind: RelationKind) -> bool:
        async def op(conn: Conn) -> str:
            return str(
                await conn.execute(
                    "DELETE FROM relations WHERE owner_id = $1 AND kind = $2 AND other_id = $3",
                    owner_id, kind.value, other_id,
                )
            )

        return await self._run("remove_relation", op, idempotent=True) == "DELETE 1"

    @timed
    async def relations(self, owner_id: int, kind: RelationKind) -> list[Relation]:
        async def op(conn: Conn) -> list[Any]:
            return list(
                await conn.fetch(
                    "SELECT r.other_id, c.name FROM relations r"
                    " JOIN characters c ON c.id = r.other_id"
                    " WHERE r.owner_id = $1 AND r.kind = $2 ORDER BY c.name_key",
                    owner_id, kind.value,
                )
            )

        rows = await self._run("relations", op, idempotent=True)
        return [
            Relation(owner_id=owner_id, other_id=r[0], other_name=r[1], kind=kind)
            for r in rows
        ]

    @timed
    async def related_to(self, other_id: int, kind: RelationKind) -> list[int]:
        async def op(conn: Conn) -> list[int]:
            rows = await conn.fetch(
                "SELECT owner_id FROM relations WHERE other_id = $1 AND kind = $2",
                other_id, kind.value,
            )
            return [int(r[0]) for r in rows]

        return await self._run("related_to", op, idempotent=True)

    @timed
    async def has_relation(self, owner_id: int, other_id: int, kind: RelationKind) -> bool:
        async def op(conn: Conn) -> bool:
            return (
                await conn.fetchval(
                    "SELECT 1 FROM relations WHERE owner_id = $1 AND kind = $2 AND other_id = $3",
                    owner_id, kind.value, other_id,
                )
                is not None
            )

        return await self._run("has_relation", op, idempotent=True)

    # --- guilds -----------------------------------------------------------------------

    @timed
    async def create_guild(
        self, name: str, leader_id: int, ranks: list[GuildRank], now_ms: int
    ) -> Guild:
        async def op(conn: Conn) -> Guild:
            async with conn.transaction():
                try:
                    guild_id = int(
                        await conn.fetchval(
                            "INSERT INTO guilds (name, name_key, leader_id, motd, created_at_ms)"
                            " VALUES ($1, $2, $3, '', $4) RETURNING id",
                            name, name_key(name), leader_id, now_ms,
                        )
                    )
                except asyncpg.ForeignKeyViolationError as exc:
                    raise NotFound(f"no character {leader_id}") from exc
                except asyncpg.UniqueViolationError as exc:
                    raise Conflict(f"the guild name {name!r} is taken") from exc
                await conn.executemany(
                    "INSERT INTO guild_ranks (guild_id, rank, name, permissions)"
                    " VALUES ($1, $2, $3, $4)",
                    [(guild_id, r.rank, r.name, r.permissions) for r in ranks],
                )
                try:
                    await conn.execute(
                        "INSERT INTO guild_members (character_id, guild_id, rank, joined_at_ms)"
                        " VALUES ($1, $2, 0, $3)",
                        leader_id, guild_id, now_ms,
                    )
                except asyncpg.UniqueViolationError as exc:
                    raise Conflict("already in a guild") from exc
            return Guild(id=guild_id, name=name, leader_id=leader_id, created_at_ms=now_ms)

        return await self._run("create_guild", op, idempotent=False)

    @timed
    async def get_guild(self, guild_id: int) -> Guild | None:
        async def op(conn: Conn) -> Any:
            return await conn.fetchrow(
                "SELECT id, name, leader_id, motd, created_at_ms FROM guilds WHERE id = $1",
                guild_id,
            )

        r = await self._run("get_guild", op, idempotent=True)
        if r is None:
            return None
        return Guild(id=r[0], name=r[1], leader_id=r[2], motd=r[3], created_at_ms=r[4])

    @timed
    async def guild_member(self, character_id: int) -> GuildMember | None:
        async def op(conn: Conn) -> Any:
            return await conn.fetchrow(
                "SELECT m.guild_id, m.character_id, c.name, m.rank, m.joined_at_ms"
                " FROM guild_members m JOIN characters c ON c.id = m.character_id"
                " WHERE m.character_id = $1",
                character_id,
            )

        r = await self._run("guild_member", op, idempotent=True)
        if r is None:
            return None
        return GuildMember(
            guild_id=r[0], character_id=r[1], name=r[2], rank=r[3], joined_at_ms=r[4]
        )

    @timed
    async def guild_members(self, guild_id: int) -> list[GuildMember]:
        async def op(conn: Conn) -> list[Any]:
            return list(
                await conn.fetch(
                    "SELECT m.guild_id, m.character_id, c.name, m.rank, m.joined_at_ms"
                    " FROM guild_members m JOIN characters c ON c.id = m.character_id"
                    " WHERE m.guild_id = $1 ORDER BY m.rank, c.name_key",
                    guild_id,
                )
            )

        rows = await self._run("guild_members", op, idempotent=True)
        return [
            GuildMember(guild_id=r[0], character_id=r[1], name=r[2], rank=r[3], joined_at_ms=r[4])
            for r in rows
        ]

    @timed
    async def guild_ranks(self, guild_id: int) -> list[GuildRank]:
        async def op(conn: Conn) -> list[Any]:
            return list(
                await conn.fetch(
                    "SELECT rank, name, permissions FROM guild_ranks WHERE guild_id = $1"
                    " ORDER BY rank",
                    guild_id,
                )
            )

        rows = await self._run("guild_ranks", op, idempotent=True)
        return [GuildRank(rank=r[0], name=r[1], permissions=r[2]) for r in rows]

    @timed
    async def add_guild_member(
        self, guild_id: int, character_id: int, rank: int, now_ms: int
    ) -> None:
        async def op(conn: Conn) -> None:
            try:
                await conn.execute(
                    "INSERT INTO guild_members (character_id, guild_id, rank, joined_at_ms)"
                    " VALUES ($1, $2, $3, $4)",
                    character_id, guild_id, rank, now_ms,
                )
            except asyncpg.ForeignKeyViolationError as exc:
                raise NotFound("no such guild or character") from exc
            except asyncpg.UniqueViolationError as exc:
                raise Conflict("already in a guild") from exc

        await self._run("add_guild_member", op, idempotent=False)

    async def _status(self, what: str, sql: str, *args: Any) -> str:
        async def op(conn: Conn) -> str:
            return str(await conn.execute(sql, *args))

        return await self._run(what, op, idempotent=True)

    @timed
    async def remove_guild_member(self, guild_id: int, character_id: int) -> bool:
        status = await self._status(
            "remove_guild_member",
            "DELETE FROM guild_members WHERE guild_id = $1 AND character_id = $2",
            guild_id, character_id,
        )
        return status == "DELETE 1"

    @timed
    async def set_member_rank(self, guild_id: int, character_id: int, rank: int) -> bool:
        status = await self._status(
            "set_member_rank",
            "UPDATE guild_members SET rank = $1 WHERE guild_id = $2 AND character_id = $3",
            rank, guild_id, character_id,
        )
        return status == "UPDATE 1"

    @timed
    async def set_guild_leader(self, guild_id: int, old_leader: int, new_leader: int) -> None:
        async def op(conn: Conn) -> None:
            async with conn.transaction():
                status = await conn.execute(
                    "UPDATE guild_members SET rank = 0 WHERE guild_id = $1 AND character_id = $2",
                    guild_id, new_leader,
                )
                if status != "UPDATE 1":
                    raise NotFound("the new leader is not in the guild")
                await conn.execute(
                    "UPDATE guild_members SET rank = 1 WHERE guild_id = $1 AND character_id = $2",
                    guild_id, old_leader,
                )
                await conn.execute(
                    "UPDATE guilds SET leader_id = $1 WHERE id = $2", new_leader, guild_id
                )

        await self._run("set_guild_leader", op, idempotent=True)

    @timed
    async def set_motd(self, guild_id: int, motd: str) -> None:
        await self._status(
            "set_motd", "UPDATE guilds SET motd = $1 WHERE id = $2", motd, guild_id
        )

    @timed
    async def set_rank(self, guild_id: int, rank: GuildRank) -> None:
        await self._status(
            "set_rank",
            "INSERT INTO guild_ranks (guild_id, rank, name, permissions) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (guild_id, rank) DO UPDATE SET name = EXCLUDED.name,"
            " permissions = EXCLUDED.permissions",
            guild_id, rank.rank, rank.name, rank.permissions,
        )

    @timed
    async def delete_guild(self, guild_id: int) -> None:
        async def op(conn: Conn) -> None:
            async with conn.transaction():
                await conn.execute("DELETE FROM guild_members WHERE guild_id = $1", guild_id)
                await conn.execute("DELETE FROM guild_ranks WHERE guild_id = $1", guild_id)
                await conn.execute("DELETE FROM guilds WHERE id = $1", guild_id)

        await self._run("delete_guild", op, idempotent=True)
