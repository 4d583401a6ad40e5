"""`RealmActions`: every realm-wide action behind one entry point.

The RCM (or, distributed, a gRPC servicer) calls `handle(character_id, op, body)` for a
client's `RwamRequest`, and `character_entered` / `character_left` as characters enter
and leave the world. `handle` validates the body against the operation's model, runs the
service, and answers `(ok, code, message, body)`; a refusal is always an `ActionError`
code with a message, never an exception across the boundary. Answers that list things
(mailbox, search, roster, history) are pages trimmed to fit one datagram (`truncated`
tells the client to ask again from `offset + len(page)`).

The services it composes: `FriendService`, `ChatService`, `MailService`,
`AuctionService` (both through the `EconomyRouter`), `PartyService`, `GuildService`.
`run_timers` drives mail and auction expiry, invitation expiry and party positions, on an
injected clock.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from pydantic import ValidationError

from gameserver import metrics
from gameserver.clock import wall_ms
from gameserver.rwam import protocol as p
from gameserver.rwam.auction import AuctionService, min_next_bid
from gameserver.rwam.chat import AreaOfInterest, ChatService
from gameserver.rwam.economy import EconomyRouter, LiveInventories, Wallet
from gameserver.rwam.errors import ActionError
from gameserver.rwam.friends import FriendService
from gameserver.rwam.guild import GuildService
from gameserver.rwam.items import item_info
from gameserver.rwam.mail import MailService
from gameserver.rwam.notify import Notifier, Online, Presence
from gameserver.rwam.party import Locator, PartyService, PartyView
from gameserver.storage.interfaces import HotState, RealmDatabase, RealmTx, StorageError
from gameserver.storage.models import ItemStack
from gameserver.storage.realmdata import Auction, AuctionQuery, Mail

log = logging.getLogger(__name__)

M = TypeVar("M", bound=p.Req)
Body = dict[str, Any]

#: Most bytes of JSON one answer body may take (a datagram is 1200 bytes in all).
BODY_BUDGET = 900


class World(LiveInventories, AreaOfInterest, Locator, Protocol):
    """What the RWAM needs from the region servers: who holds a live character, who
    stands near a speaker, where a party member is."""


def _item(it: ItemStack) -> list[Any]:
    return [it.uid, it.item_id, it.count]


def _mail_header(m: Mail) -> Body:
    return {
        "id": m.id, "kind": m.kind.value, "from": m.sender_name, "subject": m.subject,
        "gold": m.gold, "cod": m.cod, "items": len(m.items), "read": m.read,
        "returned": m.returned, "expires": m.expires_at_ms,
    }


def _auction(a: Auction, now: int, me: int) -> Body:
    return {
        "id": a.id, "item_id": a.item.item_id, "name": a.item_name, "count": a.item.count,
        "level": a.item_level, "quality": a.quality, "seller": a.seller_name, "bid": a.bid,
        "min_bid": min_next_bid(a), "buyout": a.buyout, "ends_in": max(0, a.ends_at_ms - now),
        "mine": a.seller_id == me, "winning": a.bidder_id == me,
    }


def fit(body: Body, budget: int = BODY_BUDGET) -> str:
    """JSON of `body`, dropping entries from the end of its `page` until it fits."""
    text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    page = body.get("page")
    while len(text.encode()) > budget and isinstance(page, list) and page:
        page.pop()
        body["truncated"] = True
        text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    if len(text.encode()) > budget:
        raise ActionError("too_large", "the answer does not fit; ask for a smaller page")
    return text


class RealmActions:
    def __init__(
        self,
        db: RealmDatabase,
        hot: HotState,
        world: World,
        notifier: Notifier,
        *,
        clock: Callable[[], int] = wall_ms,
        realm: str = "home",
    ) -> None:
        self.db = db
        self.world = world
        self.notifier = notifier
        self.clock = clock
        self.realm = realm
        self.presence = Presence()
        self.friends = FriendService(db, self.presence, notifier)
        ignores = self.friends.ignores_cached
        self.parties = PartyService(self.presence, notifier, clock, ignores=ignores)
        self.guilds = GuildService(db, self.presence, notifier, clock, ignores=ignores)
        self.chat = ChatService(
            self.presence, notifier, world, self.friends, self.parties, self.guilds, clock,
            realm=realm,
        )
        self.router = EconomyRouter(db, hot, world, realm=realm)
        self.mail = MailService(db, self.router, notifier, clock, realm=realm)
        self.auctions = AuctionService(db, self.router, notifier, clock, realm=realm)
        self._ops = self._build_ops()

    # --- presence (called by the RCM) -----------------------------------------------

    async def character_entered(
        self, character_id: int, account_id: int, name: str | None = None
    ) -> None:
        if name is None:
            try:
                ch = await self.db.get_character(character_id)
            except StorageError as e:
                log.warning("character %s not announced: %s", character_id, e)
                return
            if ch is None:
                return
            name = ch.name
        self.presence.enter(Online(character_id, account_id, name))
        try:
            await self.friends.entered(character_id, name)
            motd = await self.guilds.entered(character_id)
        except StorageError as e:
            log.warning("social state of %s not loaded: %s", name, e)
            return
        if motd:
            self.notifier.notify(character_id, "guild_motd", {"motd": motd})
        self.parties.presence_changed(character_id)

    async def character_left(self, character_id: int) -> None:
        who = self.presence.leave(character_id)
        if who is None:
            return
        self.chat.left_world(character_id)
        self.guilds.left(character_id)
        self.parties.presence_changed(character_id)
        try:
            await self.friends.left(character_id, who.name)
        except StorageError as e:
            log.warning("friends of %s not told: %s", who.name, e)

    def party_of(self, character_id: int) -> PartyView | None:
        """The character's party or raid (for the OEM: one dungeon instance per group)."""
        return self.parties.party_of(character_id)

    # --- the one entry point --------------------------------------------------------

    async def handle(self, character_id: int, op: str, body: str) -> tuple[bool, str, str, str]:
        entry = self._ops.get(op)
        if entry is None:
            self._count(op if len(op) < 32 else "?", "unknown_op")
            return False, "unknown_op", f"no such action {op[:32]!r}", ""
        model, run = entry
        try:
            req = model.model_validate_json(body or "{}")
        except ValidationError as e:
            errors = e.errors()
            where = ".".join(str(x) for x in errors[0]["loc"]) if errors else ""
            msg = errors[0]["msg"] if errors else "invalid"
            self._count(op, "bad_request")
            return False, "bad_request", f"{where or 'body'}: {msg}"[:200], ""
        try:
            result = await run(character_id, req)
            text = fit(result) if result else ""
        except ActionError as e:
            self._count(op, e.code)
            return False, e.code, e.message, ""
        except StorageError as e:
            log.warning("%s failed in storage: %s", op, e)
            self._count(op, "unavailable")
            return False, "unavailable", "the realm is busy; try again", ""
        self._count(op, "ok")
        return True, "", "", text

    def _count(self, op: str, result: str) -> None:
        metrics.RWAM_ACTIONS.labels(self.realm, op, result).inc()

    def _build_ops(
        self,
    ) -> dict[str, tuple[type[p.Req], Callable[[int, Any], Awaitable[Body | None]]]]:
        ops: dict[str, tuple[type[p.Req], Callable[[int, Any], Awaitable[Body | None]]]] = {}

        def op(name: str, model: type[M]) -> Callable[
            [Callable[[int, M], Awaitable[Body | None]]], Callable[[int, M], Awaitable[Body | None]]
        ]:
            def register(
                fn: Callable[[int, M], Awaitable[Body | None]],
            ) -> Callable[[int, M], Awaitable[Body | None]]:
                ops[name] = (model, fn)
                return fn

            return register

        s = self

        # --- chat -----------------------------------------------------------------------
        @op("chat.send", p.ChatSend)
        async def chat_send(cid: int, r: p.ChatSend) -> Body:
            return {"reached": await s.chat.send(cid, r.channel, r.text, r.target)}

        @op("chat.join", p.ChannelReq)
        async def chat_join(cid: int, r: p.ChannelReq) -> Body:
            return {"members": s.chat.join(cid, r.channel)}

        @op("chat.leave", p.ChannelReq)
        async def chat_leave(cid: int, r: p.ChannelReq) -> None:
            s.chat.leave(cid, r.channel)

        @op("chat.members", p.ChannelReq)
        async def chat_members(cid: int, r: p.ChannelReq) -> Body:
            return {"page": s.chat.members(cid, r.channel)}

        @op("chat.history", p.ChatHistory)
        async def chat_history(cid: int, r: p.ChatHistory) -> Body:
            lines = await s.chat.history(cid, r.channel, r.target)
            lines = [ln for ln in lines if ln.seq > r.after_seq]
            return {"page": [ln.body() for ln in lines]}

        # --- friends and ignore ---------------------------------------------------------
        @op("friend.add", p.ByName)
        async def friend_add(cid: int, r: p.ByName) -> Body:
            return {"name": await s.friends.add_friend(cid, r.name)}

        @op("friend.remove", p.ByName)
        async def friend_remove(cid: int, r: p.ByName) -> Body:
            return {"name": await s.friends.remove_friend(cid, r.name)}

        @op("friend.list", p.Empty)
        async def friend_list(cid: int, r: p.Empty) -> Body:
            return {"page": [[f.name, f.online] for f in await s.friends.friends(cid)]}

        @op("ignore.add", p.ByName)
        async def ignore_add(cid: int, r: p.ByName) -> Body:
            return {"name": await s.friends.ignore(cid, r.name)}

        @op("ignore.remove", p.ByName)
        async def ignore_remove(cid: int, r: p.ByName) -> Body:
            return {"name": await s.friends.unignore(cid, r.name)}

        @op("ignore.list", p.Empty)
        async def ignore_list(cid: int, r: p.Empty) -> Body:
            return {"page": await s.friends.ignores(cid)}

        # --- inventory and mail ---------------------------------------------------------
        @op("inventory", p.Page)
        async def inventory(cid: int, r: p.Page) -> Body:
            async def look(tx: RealmTx, wallet: Wallet) -> tuple[int, list[ItemStack]]:
                return wallet.gold, list(wallet.items)

            gold, items = await s.router.run(cid, look)
            page = items[r.offset : r.offset + r.limit]
            return {
                "gold": gold, "total": len(items),
                "page": [[*_item(it), it.slot or "", item_info(it.item_id).name] for it in page],
            }

        @op("mail.send", p.MailSend)
        async def mail_send(cid: int, r: p.MailSend) -> Body:
            mail_id = await s.mail.send(
                cid, r.to, r.subject, r.body, gold=r.gold, cod=r.cod, item_uids=r.items
            )
            return {"id": mail_id}

        @op("mail.list", p.Page)
        async def mail_list(cid: int, r: p.Page) -> Body:
            mails, total = await s.mail.list(cid, r.offset, r.limit)
            return {"total": total, "page": [_mail_header(m) for m in mails]}

        @op("mail.read", p.ById)
        async def mail_read(cid: int, r: p.ById) -> Body:
            m = await s.mail.read(cid, r.id)
            return {**_mail_header(m), "body": m.body, "attached": [_item(it) for it in m.items]}

        @op("mail.take", p.ById)
        async def mail_take(cid: int, r: p.ById) -> Body:
            t = await s.mail.take(cid, r.id)
            return {"gold": t.gold, "items": [_item(it) for it in t.items], "cod_paid": t.cod_paid}

        @op("mail.return", p.ById)
        async def mail_return(cid: int, r: p.ById) -> None:
            await s.mail.return_to_sender(cid, r.id)

        @op("mail.delete", p.ById)
        async def mail_delete(cid: int, r: p.ById) -> None:
            await s.mail.delete(cid, r.id)

        # --- auction house --------------------------------------------------------------
        @op("auction.list", p.AuctionList)
        async def auction_list(cid: int, r: p.AuctionList) -> Body:
            return {"id": await s.auctions.list_item(cid, r.item, r.start_bid, r.buyout, r.hours)}

        @op("auction.bid", p.AuctionBid)
        async def auction_bid(cid: int, r: p.AuctionBid) -> Body:
            return {"bought": await s.auctions.bid(cid, r.id, r.amount)}

        @op("auction.buyout", p.ById)
        async def auction_buyout(cid: int, r: p.ById) -> None:
            await s.auctions.buyout(cid, r.id)

        @op("auction.cancel", p.ById)
        async def auction_cancel(cid: int, r: p.ById) -> None:
            await s.auctions.cancel(cid, r.id)

        @op("auction.search", p.AuctionSearch)
        async def auction_search(cid: int, r: p.AuctionSearch) -> Body:
            q = AuctionQuery(
                name=r.name, item_id=r.item_id, min_level=r.min_level, max_level=r.max_level,
                quality=r.quality, max_price=r.max_price, sort=r.sort, offset=r.offset,
                limit=r.limit, seller_id=cid if r.mine else None,
                bidder_id=cid if r.bids else None,
            )
            found, total = await s.auctions.search(q)
            now = s.clock()
            return {"total": total, "page": [_auction(a, now, cid) for a in found]}

        # --- party and raid -------------------------------------------------------------
        @op("party.invite", p.ByName)
        async def party_invite(cid: int, r: p.ByName) -> Body:
            return {"name": s.parties.invite(cid, r.name)}

        @op("party.accept", p.Empty)
        async def party_accept(cid: int, r: p.Empty) -> Body:
            return s.parties.describe(s.parties.accept(cid))

        @op("party.decline", p.Empty)
        async def party_decline(cid: int, r: p.Empty) -> None:
            s.parties.decline(cid)

        @op("party.leave", p.Empty)
        async def party_leave(cid: int, r: p.Empty) -> None:
            s.parties.leave(cid)

        @op("party.kick", p.ByName)
        async def party_kick(cid: int, r: p.ByName) -> None:
            s.parties.kick(cid, r.name)

        @op("party.promote", p.ByName)
        async def party_promote(cid: int, r: p.ByName) -> None:
            s.parties.promote(cid, r.name)

        @op("party.raid", p.Empty)
        async def party_raid(cid: int, r: p.Empty) -> Body:
            return s.parties.describe(s.parties.convert_to_raid(cid))

        @op("party.assistant", p.PartyAssistant)
        async def party_assistant(cid: int, r: p.PartyAssistant) -> None:
            s.parties.set_assistant(cid, r.name, r.on)

        @op("party.move", p.PartyMove)
        async def party_move(cid: int, r: p.PartyMove) -> None:
            s.parties.move_to_subgroup(cid, r.name, r.group)

        @op("party.info", p.Empty)
        async def party_info(cid: int, r: p.Empty) -> Body:
            view = s.parties.party_of(cid)
            if view is None:
                raise ActionError("not_in_party", "you are not in a group")
            return s.parties.describe(view)

        # --- guilds ---------------------------------------------------------------------
        @op("guild.create", p.ByName)
        async def guild_create(cid: int, r: p.ByName) -> Body:
            g = await s.guilds.create(cid, r.name)
            return {"id": g.id, "name": g.name}

        @op("guild.invite", p.ByName)
        async def guild_invite(cid: int, r: p.ByName) -> Body:
            return {"name": await s.guilds.invite(cid, r.name)}

        @op("guild.accept", p.Empty)
        async def guild_accept(cid: int, r: p.Empty) -> Body:
            g = await s.guilds.accept(cid)
            return {"id": g.id, "name": g.name}

        @op("guild.decline", p.Empty)
        async def guild_decline(cid: int, r: p.Empty) -> None:
            s.guilds.decline(cid)

        @op("guild.leave", p.Empty)
        async def guild_leave(cid: int, r: p.Empty) -> None:
            await s.guilds.leave(cid)

        @op("guild.disband", p.Empty)
        async def guild_disband(cid: int, r: p.Empty) -> None:
            await s.guilds.disband(cid)

        @op("guild.kick", p.ByName)
        async def guild_kick(cid: int, r: p.ByName) -> None:
            await s.guilds.kick(cid, r.name)

        @op("guild.promote", p.ByName)
        async def guild_promote(cid: int, r: p.ByName) -> Body:
            return {"rank": await s.guilds.promote(cid, r.name)}

        @op("guild.demote", p.ByName)
        async def guild_demote(cid: int, r: p.ByName) -> Body:
            return {"rank": await s.guilds.demote(cid, r.name)}

        @op("guild.leader", p.ByName)
        async def guild_leader(cid: int, r: p.ByName) -> None:
            await s.guilds.set_leader(cid, r.name)

        @op("guild.motd", p.GuildMotd)
        async def guild_motd(cid: int, r: p.GuildMotd) -> None:
            await s.guilds.set_motd(cid, r.motd)

        @op("guild.rank", p.GuildRankEdit)
        async def guild_rank(cid: int, r: p.GuildRankEdit) -> None:
            await s.guilds.set_rank(cid, r.rank, r.name, r.permissions)

        @op("guild.info", p.Empty)
        async def guild_info(cid: int, r: p.Empty) -> Body:
            g, me, ranks = await s.guilds.info(cid)
            return {
                "id": g.id, "name": g.name, "motd": g.motd, "rank": me.rank,
                "ranks": [[rk.rank, rk.name, rk.permissions] for rk in ranks],
            }

        @op("guild.roster", p.Page)
        async def guild_roster(cid: int, r: p.Page) -> Body:
            members, total = await s.guilds.roster(cid, r.offset, r.limit)
            return {"total": total, "page": [[m.name, m.rank, on] for m, on in members]}

        return ops

    @property
    def operations(self) -> list[str]:
        return sorted(self._ops)

    # --- timers -------------------------------------------------------------------------

    async def tick(self) -> None:
        """One round of the timers: expiry of mail, auctions and invitations, and the
        party map. Separate from the loop so tests drive it on their own clock."""
        now = self.clock()
        try:
            await self.auctions.expire(now)
            await self.mail.expire(now)
        except StorageError as e:
            log.warning("expiry round failed: %s", e)
        self.parties.expire_invites()
        self.parties.publish_positions(self.world)

    async def run_timers(self, stop: asyncio.Event, interval_s: float = 1.0) -> None:
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=interval_s)
            except TimeoutError:
                pass
            try:
                await self.tick()
            except Exception:  # a timer bug must not stop the timers
                log.exception("realm actions timer failed")
