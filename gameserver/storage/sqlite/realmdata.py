"""Mail, auctions, friends and guilds on SQLite (the embedded realm).

A mixin of `SqliteDatabase`, in its own module so the realm-actions SQL grows apart from
the account and character SQL. It uses the database's one connection and lock: every
transaction is whole (`BEGIN IMMEDIATE` ... `COMMIT`), so SQLite needs no row locks and
`lock=True` reads are plain reads here. The PostgreSQL twin is
`gameserver/storage/postgres/realmdata.py`; keep the two in step.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable, Iterable
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

import aiosqlite

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

_MAIL_COLUMNS = (
    "id, kind, sender_id, sender_name, recipient_id, subject, body, gold, cod,"
    " sent_at_ms, expires_at_ms, returned, is_read"
)
_AUCTION_COLUMNS = (
    "a.id, a.seller_id, a.seller_name, a.item_id, a.item_count, a.item_name, a.item_level,"
    " a.quality, a.start_bid, a.buyout, a.bid, a.bidder_id, a.deposit, a.created_at_ms,"
    " a.ends_at_ms, h.uid"
)


def _mail(row: sqlite3.Row, items: tuple[ItemStack, ...]) -> Mail:
    return Mail(
        id=row["id"], kind=MailKind(row["kind"]), sender_id=row["sender_id"],
        sender_name=row["sender_name"], recipient_id=row["recipient_id"],
        subject=row["subject"], body=row["body"], gold=row["gold"], cod=row["cod"],
        items=items, sent_at_ms=row["sent_at_ms"], expires_at_ms=row["expires_at_ms"],
        returned=bool(row["returned"]), read=bool(row["is_read"]),
    )


def _auction(row: sqlite3.Row) -> Auction:
    return Auction(
        id=row["id"], seller_id=row["seller_id"], seller_name=row["seller_name"],
        item=ItemStack(uid=row["uid"], item_id=row["item_id"], count=row["item_count"]),
        item_name=row["item_name"], item_level=row["item_level"], quality=row["quality"],
        start_bid=row["start_bid"], buyout=row["buyout"], bid=row["bid"],
        bidder_id=row["bidder_id"], deposit=row["deposit"],
        created_at_ms=row["created_at_ms"], ends_at_ms=row["ends_at_ms"],
    )


async def _held(conn: aiosqlite.Connection, kind: str, holder_id: int) -> tuple[ItemStack, ...]:
    async with conn.execute(
        "SELECT uid, item_id, count FROM held_items WHERE holder_kind = ? AND holder_id = ?"
        " ORDER BY position",
        (kind, holder_id),
    ) as cur:
        rows = await cur.fetchall()
    return tuple(ItemStack(uid=r[0], item_id=r[1], count=r[2]) for r in rows)


async def _hold(
    conn: aiosqlite.Connection, kind: str, holder_id: int, items: Iterable[ItemStack]
) -> None:
    try:
        await conn.executemany(
            "INSERT INTO held_items (uid, holder_kind, holder_id, position, item_id, count)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [(it.uid, kind, holder_id, i, it.item_id, it.count) for i, it in enumerate(items)],
        )
    except sqlite3.IntegrityError as exc:
        raise Conflict(f"an item is already held elsewhere: {exc}") from exc


class SqliteRealmTx:
    """`RealmTx` on the connection of an open SQLite transaction."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._c = conn

    async def subject(self, character_id: int, *, lock: bool = True) -> EconomySubject | None:
        async with self._c.execute(
            "SELECT id, account_id, name, state, save_fence FROM characters WHERE id = ?",
            (character_id,),
        ) as cur:
            row = await cur.fetchone()
        if row is None:
            return None
        return EconomySubject(
            id=row[0], account_id=row[1], name=row[2], state=load_state(row[3]),
            save_fence=row[4],
        )

    async def write_subject(self, character_id: int, state: CharacterState, fence: int) -> None:
        cur = await self._c.execute(
            "UPDATE characters SET state = ?, saved_at = ?, save_fence = ?"
            " WHERE id = ? AND save_fence <= ?",
            (dump_state(state), utcnow().isoformat(), fence, character_id, fence),
        )
        if cur.rowcount == 1:
            return
        async with self._c.execute(
            "SELECT save_fence FROM characters WHERE id = ?", (character_id,)
        ) as check:
            row = await check.fetchone()
        if row is None:
            raise NotFound(f"no character {character_id}")
        raise StaleFence(f"character {character_id}: fence {fence} < stored {row[0]}")

    async def character_id_by_name(self, name: str) -> tuple[int, str] | None:
        async with self._c.execute(
            "SELECT id, name FROM characters WHERE name_key = ?", (name_key(name),)
        ) as cur:
            row = await cur.fetchone()
        return (int(row[0]), str(row[1])) if row is not None else None

    async def insert_mail(self, mail: NewMail) -> int:
        cur = await self._c.execute(
            "INSERT INTO mail (kind, sender_id, sender_name, recipient_id, subject, body, gold,"
            " cod, sent_at_ms, expires_at_ms, returned, is_read)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)",
            (
                mail.kind.value, mail.sender_id, mail.sender_name, mail.recipient_id,
                mail.subject, mail.body, mail.gold, mail.cod, mail.sent_at_ms,
                mail.expires_at_ms, int(mail.returned),
            ),
        )
        mail_id = cur.lastrowid
        assert mail_id is not None
        await _hold(self._c, "mail", mail_id, mail.items)
        return mail_id

    async def mail(self, mail_id: int, *, lock: bool = True) -> Mail | None:
        async with self._c.execute(
            f"SELECT {_MAIL_COLUMNS} FROM mail WHERE id = ?", (mail_id,)
        ) as cur:
            row = await cur.fetchone()
        if row is None:
            return None
        return _mail(row, await _held(self._c, "mail", mail_id))

    async def replace_mail(self, mail: Mail) -> None:
        await self._c.execute(
            "UPDATE mail SET kind = ?, sender_id = ?, sender_name = ?, recipient_id = ?,"
            " subject = ?, body = ?, gold = ?, cod = ?, expires_at_ms = ?, returned = ?,"
            " is_read = ? WHERE id = ?",
            (
                mail.kind.value, mail.sender_id, mail.sender_name, mail.recipient_id,
                mail.subject, mail.body, mail.gold, mail.cod, mail.expires_at_ms,
                int(mail.returned), int(mail.read), mail.id,
            ),
        )
        await self._c.execute(
            "DELETE FROM held_items WHERE holder_kind = 'mail' AND holder_id = ?", (mail.id,)
        )
        await _hold(self._c, "mail", mail.id, mail.items)

    async def delete_mail(self, mail_id: int) -> None:
        await self._c.execute(
            "DELETE FROM held_items WHERE holder_kind = 'mail' AND holder_id = ?", (mail_id,)
        )
        await self._c.execute("DELETE FROM mail WHERE id = ?", (mail_id,))

    async def count_mail(self, recipient_id: int) -> int:
        async with self._c.execute(
            "SELECT COUNT(*) FROM mail WHERE recipient_id = ?", (recipient_id,)
        ) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row is not None else 0

    async def insert_auction(self, auction: NewAuction) -> int:
        it = auction.item
        cur = await self._c.execute(
            "INSERT INTO auctions (seller_id, seller_name, item_id, item_count, item_name,"
            " name_key, item_level, quality, start_bid, buyout, bid, bidder_id, deposit,"
            " created_at_ms, ends_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, NULL, ?, ?, ?)",
            (
                auction.seller_id, auction.seller_name, it.item_id, it.count, auction.item_name,
                name_key(auction.item_name), auction.item_level, auction.quality,
                auction.start_bid, auction.buyout, auction.deposit, auction.created_at_ms,
                auction.ends_at_ms,
            ),
        )
        auction_id = cur.lastrowid
        assert auction_id is not None
        await _hold(self._c, "auction", auction_id, (it.model_copy(update={"slot": None}),))
        return auction_id

    async def auction(self, auction_id: int, *, lock: bool = True) -> Auction | None:
        async with self._c.execute(
            f"SELECT {_AUCTION_COLUMNS} FROM auctions a JOIN held_items h"
            " ON h.holder_kind = 'auction' AND h.holder_id = a.id WHERE a.id = ?",
            (auction_id,),
        ) as cur:
            row = await cur.fetchone()
        return _auction(row) if row is not None else None

    async def set_bid(self, auction_id: int, bidder_id: int, bid: int) -> None:
        await self._c.execute(
            "UPDATE auctions SET bid = ?, bidder_id = ? WHERE id = ?", (bid, bidder_id, auction_id)
        )

    async def delete_auction(self, auction_id: int) -> None:
        await self._c.execute(
            "DELETE FROM held_items WHERE holder_kind = 'auction' AND holder_id = ?",
            (auction_id,),
        )
        await self._c.execute("DELETE FROM auctions WHERE id = ?", (auction_id,))

    async def count_auctions(self, seller_id: int) -> int:
        async with self._c.execute(
            "SELECT COUNT(*) FROM auctions WHERE seller_id = ?", (seller_id,)
        ) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row is not None else 0

    async def add_sink(self, kind: str, amount: int) -> None:
        if amount:
            await self._c.execute(
                "INSERT INTO economy_sinks (kind, amount) VALUES (?, ?)"
                " ON CONFLICT (kind) DO UPDATE SET amount = amount + excluded.amount",
                (kind, amount),
            )


def _auction_where(q: AuctionQuery, now_ms: int) -> tuple[str, list[Any]]:
    where = ["a.ends_at_ms > ?"]
    args: list[Any] = [now_ms]
    if q.name:
        where.append("instr(a.name_key, ?) > 0")
        args.append(name_key(q.name))
    for column, value, op in (
        ("a.item_id", q.item_id, "="),
        ("a.item_level", q.min_level, ">="),
        ("a.item_level", q.max_level, "<="),
        ("a.quality", q.quality, "="),
        ("a.seller_id", q.seller_id, "="),
        ("a.bidder_id", q.bidder_id, "="),
    ):
        if value is not None:
            where.append(f"{column} {op} ?")
            args.append(value)
    if q.max_price is not None:
        where.append(
            "(CASE WHEN a.buyout > 0 THEN a.buyout WHEN a.bid > 0 THEN a.bid"
            " ELSE a.start_bid END) <= ?"
        )
        args.append(q.max_price)
    return " AND ".join(where), args


_ORDER = {
    AuctionSort.ENDING: "a.ends_at_ms, a.id",
    AuctionSort.PRICE: (
        "(CASE WHEN a.buyout > 0 THEN a.buyout WHEN a.bid > 0 THEN a.bid"
        " ELSE a.start_bid END), a.id"
    ),
    AuctionSort.NAME: "a.name_key, a.id",
}


class SqliteRealmData:
    """The `EconomyStore` and `SocialStore` halves of `SqliteDatabase`."""

    _metrics: OpMetrics

    def _tx(self) -> AbstractAsyncContextManager[aiosqlite.Connection]:
        raise NotImplementedError

    def _read(self) -> AbstractAsyncContextManager[aiosqlite.Connection]:
        raise NotImplementedError

    # --- economy ----------------------------------------------------------------------

    @timed
    async def transact(self, fn: Callable[[SqliteRealmTx], Awaitable[T]]) -> T:
        async with self._tx() as conn:
            return await fn(SqliteRealmTx(conn))

    @timed
    async def list_mail(
        self, recipient_id: int, offset: int, limit: int
    ) -> tuple[list[Mail], int]:
        async with self._read() as conn:
            async with conn.execute(
                f"SELECT {_MAIL_COLUMNS} FROM mail WHERE recipient_id = ?"
                " ORDER BY id DESC LIMIT ? OFFSET ?",
                (recipient_id, limit, offset),
            ) as cur:
                rows = await cur.fetchall()
            mails = [_mail(r, await _held(conn, "mail", r["id"])) for r in rows]
            async with conn.execute(
                "SELECT COUNT(*) FROM mail WHERE recipient_id = ?", (recipient_id,)
            ) as cur:
                total = await cur.fetchone()
        return mails, int(total[0]) if total is not None else 0

    @timed
    async def mark_mail_read(self, mail_id: int, recipient_id: int) -> bool:
        async with self._tx() as conn:
            cur = await conn.execute(
                "UPDATE mail SET is_read = 1 WHERE id = ? AND recipient_id = ?",
                (mail_id, recipient_id),
            )
            return cur.rowcount == 1

    @timed
    async def search_auctions(
        self, query: AuctionQuery, now_ms: int
    ) -> tuple[list[Auction], int]:
        where, args = _auction_where(query, now_ms)
        async with self._read() as conn:
            async with conn.execute(
                f"SELECT {_AUCTION_COLUMNS} FROM auctions a JOIN held_items h"
                " ON h.holder_kind = 'auction' AND h.holder_id = a.id"
                f" WHERE {where} ORDER BY {_ORDER[query.sort]} LIMIT ? OFFSET ?",
                (*args, query.limit, query.offset),
            ) as cur:
                rows = await cur.fetchall()
            async with conn.execute(
                f"SELECT COUNT(*) FROM auctions a WHERE {where}", args
            ) as cur:
                total = await cur.fetchone()
        return [_auction(r) for r in rows], int(total[0]) if total is not None else 0

    @timed
    async def due_mail(self, now_ms: int, limit: int) -> list[int]:
        async with self._read() as conn, conn.execute(
            "SELECT id FROM mail WHERE expires_at_ms IS NOT NULL AND expires_at_ms <= ?"
            " ORDER BY expires_at_ms LIMIT ?",
            (now_ms, limit),
        ) as cur:
            return [int(r[0]) for r in await cur.fetchall()]

    @timed
    async def due_auctions(self, now_ms: int, limit: int) -> list[int]:
        async with self._read() as conn, conn.execute(
            "SELECT id FROM auctions WHERE ends_at_ms <= ? ORDER BY ends_at_ms LIMIT ?",
            (now_ms, limit),
        ) as cur:
            return [int(r[0]) for r in await cur.fetchall()]

    @timed
    async def audit(self) -> EconomyAudit:
        # One transaction, so the totals are a consistent snapshot.
        async with self._tx() as conn:
            async with conn.execute("SELECT state FROM characters") as cur:
                states = [load_state(r[0]) for r in await cur.fetchall()]
            async with conn.execute("SELECT COALESCE(SUM(gold), 0) FROM mail") as cur:
                mail_gold = await cur.fetchone()
            async with conn.execute(
                "SELECT COALESCE(SUM(bid), 0), COALESCE(SUM(deposit), 0) FROM auctions"
            ) as cur:
                auction = await cur.fetchone()
            async with conn.execute("SELECT kind, amount FROM economy_sinks") as cur:
                sinks = {str(r[0]): int(r[1]) for r in await cur.fetchall()}
            async with conn.execute(
                "SELECT holder_kind, holder_id, uid, item_id, count FROM held_items"
            ) as cur:
                held = [
                    HeldItem(
                        holder_kind=r[0], holder_id=r[1],
                        item=ItemStack(uid=r[2], item_id=r[3], count=r[4]),
                    )
                    for r in await cur.fetchall()
                ]
        assert mail_gold is not None and auction is not None
        return EconomyAudit(
            character_gold=sum(s.gold for s in states),
            mail_gold=int(mail_gold[0]),
            auction_bids=int(auction[0]),
            auction_deposits=int(auction[1]),
            sinks=sinks,
            character_items=tuple(it for s in states for it in s.items),
            held_items=tuple(held),
        )

    # --- friends and ignore lists -----------------------------------------------------

    @timed
    async def add_relation(
        self, owner_id: int, other_id: int, kind: RelationKind, limit: int
    ) -> None:
        async with self._tx() as conn:
            async with conn.execute(
                "SELECT COUNT(*) FROM relations WHERE owner_id = ? AND kind = ?",
                (owner_id, kind.value),
            ) as cur:
                row = await cur.fetchone()
            if row is not None and int(row[0]) >= limit:
                raise LimitReached(f"the {kind.value} list is full ({limit})")
            try:
                await conn.execute(
                    "INSERT INTO relations (owner_id, kind, other_id, created_at_ms)"
                    " VALUES (?, ?, ?, ?)",
                    (owner_id, kind.value, other_id, int(utcnow().timestamp() * 1000)),
                )
            except sqlite3.IntegrityError as exc:
                if "FOREIGN KEY" in str(exc):
                    raise NotFound("no such character") from exc
                raise Conflict(f"already on the {kind.value} list") from exc

    @timed
    async def remove_relation(self, owner_id: int, other_id: int, kind: RelationKind) -> bool:
        async with self._tx() as conn:
            cur = await conn.execute(
                "DELETE FROM relations WHERE owner_id = ? AND kind = ? AND other_id = ?",
                (owner_id, kind.value, other_id),
            )
            return cur.rowcount == 1

    @timed
    async def relations(self, owner_id: int, kind: RelationKind) -> list[Relation]:
        async with self._read() as conn, conn.execute(
            "SELECT r.other_id, c.name FROM relations r JOIN characters c ON c.id = r.other_id"
            " WHERE r.owner_id = ? AND r.kind = ? ORDER BY c.name_key",
            (owner_id, kind.value),
        ) as cur:
            rows = await cur.fetchall()
        return [
            Relation(owner_id=owner_id, other_id=r[0], other_name=r[1], kind=kind)
            for r in rows
        ]

    @timed
    async def related_to(self, other_id: int, kind: RelationKind) -> list[int]:
        async with self._read() as conn, conn.execute(
            "SELECT owner_id FROM relations WHERE other_id = ? AND kind = ?",
            (other_id, kind.value),
        ) as cur:
            return [int(r[0]) for r in await cur.fetchall()]

    @timed
    async def has_relation(self, owner_id: int, other_id: int, kind: RelationKind) -> bool:
        async with self._read() as conn, conn.execute(
            "SELECT 1 FROM relations WHERE owner_id = ? AND kind = ? AND other_id = ?",
            (owner_id, kind.value, other_id),
        ) as cur:
            return await cur.fetchone() is not None

    # --- guilds -----------------------------------------------------------------------

    @timed
    async def create_guild(
        self, name: str, leader_id: int, ranks: list[GuildRank], now_ms: int
    ) -> Guild:
        async with self._tx() as conn:
            try:
                cur = await conn.execute(
                    "INSERT INTO guilds (name, name_key, leader_id, motd, created_at_ms)"
                    " VALUES (?, ?, ?, '', ?)",
                    (name, name_key(name), leader_id, now_ms),
                )
            except sqlite3.IntegrityError as exc:
                if "FOREIGN KEY" in str(exc):
                    raise NotFound(f"no character {leader_id}") from exc
                raise Conflict(f"the guild name {name!r} is taken") from exc
            guild_id = cur.lastrowid
            assert guild_id is not None
            await conn.executemany(
                "INSERT INTO guild_ranks (guild_id, rank, name, permissions) VALUES (?, ?, ?, ?)",
                [(guild_id, r.rank, r.name, r.permissions) for r in ranks],
            )
            try:
                await conn.execute(
                    "INSERT INTO guild_members (character_id, guild_id, rank, joined_at_ms)"
                    " VALUES (?, ?, 0, ?)",
                    (leader_id, guild_id, now_ms),
                )
            except sqlite3.IntegrityError as exc:
                raise Conflict("already in a guild") from exc
        return Guild(id=guild_id, name=name, leader_id=leader_id, created_at_ms=now_ms)

    @timed
    async def get_guild(self, guild_id: int) -> Guild | None:
        async with self._read() as conn, conn.execute(
            "SELECT id, name, leader_id, motd, created_at_ms FROM guilds WHERE id = ?",
            (guild_id,),
        ) as cur:
            r = await cur.fetchone()
        if r is None:
            return None
        return Guild(id=r[0], name=r[1], leader_id=r[2], motd=r[3], created_at_ms=r[4])

    @timed
    async def guild_member(self, character_id: int) -> GuildMember | None:
        async with self._read() as conn, conn.execute(
            "SELECT m.guild_id, m.character_id, c.name, m.rank, m.joined_at_ms"
            " FROM guild_members m JOIN characters c ON c.id = m.character_id"
            " WHERE m.character_id = ?",
            (character_id,),
        ) as cur:
            r = await cur.fetchone()
        if r is None:
            return None
        return GuildMember(
            guild_id=r[0], character_id=r[1], name=r[2], rank=r[3], joined_at_ms=r[4]
        )

    @timed
    async def guild_members(self, guild_id: int) -> list[GuildMember]:
        async with self._read() as conn, conn.execute(
            "SELECT m.guild_id, m.character_id, c.name, m.rank, m.joined_at_ms"
            " FROM guild_members m JOIN characters c ON c.id = m.character_id"
            " WHERE m.guild_id = ? ORDER BY m.rank, c.name_key",
            (guild_id,),
        ) as cur:
            rows = await cur.fetchall()
        return [
            GuildMember(guild_id=r[0], character_id=r[1], name=r[2], rank=r[3], joined_at_ms=r[4])
            for r in rows
        ]

    @timed
    async def guild_ranks(self, guild_id: int) -> list[GuildRank]:
        async with self._read() as conn, conn.execute(
            "SELECT rank, name, permissions FROM guild_ranks WHERE guild_id = ? ORDER BY rank",
            (guild_id,),
        ) as cur:
            rows = await cur.fetchall()
        return [GuildRank(rank=r[0], name=r[1], permissions=r[2]) for r in rows]

    @timed
    async def add_guild_member(
        self, guild_id: int, character_id: int, rank: int, now_ms: int
    ) -> None:
        async with self._tx() as conn:
            try:
                await conn.execute(
                    "INSERT INTO guild_members (character_id, guild_id, rank, joined_at_ms)"
                    " VALUES (?, ?, ?, ?)",
                    (character_id, guild_id, rank, now_ms),
                )
            except sqlite3.IntegrityError as exc:
                if "FOREIGN KEY" in str(exc):
                    raise NotFound("no such guild or character") from exc
                raise Conflict("already in a guild") from exc

    @timed
    async def remove_guild_member(self, guild_id: int, character_id: int) -> bool:
        async with self._tx() as conn:
            cur = await conn.execute(
                "DELETE FROM guild_members WHERE guild_id = ? AND character_id = ?",
                (guild_id, character_id),
            )
            return cur.rowcount == 1

    @timed
    async def set_member_rank(self, guild_id: int, character_id: int, rank: int) -> bool:
        async with self._tx() as conn:
            cur = await conn.execute(
                "UPDATE guild_members SET rank = ? WHERE guild_id = ? AND character_id = ?",
                (rank, guild_id, character_id),
            )
            return cur.rowcount == 1

    @timed
    async def set_guild_leader(self, guild_id: int, old_leader: int, new_leader: int) -> None:
        async with self._tx() as conn:
            cur = await conn.execute(
                "UPDATE guild_members SET rank = 0 WHERE guild_id = ? AND character_id = ?",
                (guild_id, new_leader),
            )
            if cur.rowcount != 1:
                raise NotFound("the new leader is not in the guild")
            await conn.execute(
                "UPDATE guild_members SET rank = 1 WHERE guild_id = ? AND character_id = ?",
                (guild_id, old_leader),
            )
            await conn.execute(
                "UPDATE guilds SET leader_id = ? WHERE id = ?", (new_leader, guild_id)
            )

    @timed
    async def set_motd(self, guild_id: int, motd: str) -> None:
        async with self._tx() as conn:
            await conn.execute("UPDATE guilds SET motd = ? WHERE id = ?", (motd, guild_id))

    @timed
    async def set_rank(self, guild_id: int, rank: GuildRank) -> None:
        async with self._tx() as conn:
            await conn.execute(
                "INSERT INTO guild_ranks (guild_id, rank, name, permissions) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (guild_id, rank) DO UPDATE SET name = excluded.name,"
                " permissions = excluded.permissions",
                (guild_id, rank.rank, rank.name, rank.permissions),
            )

    @timed
    async def delete_guild(self, guild_id: int) -> None:
        async with self._tx() as conn:
            await conn.execute("DELETE FROM guild_members WHERE guild_id = ?", (guild_id,))
            await conn.execute("DELETE FROM guild_ranks WHERE guild_id = ?", (guild_id,))
            await conn.execute("DELETE FROM guilds WHERE id = ?", (guild_id,))
