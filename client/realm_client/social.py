"""Realm-wide actions for a client: chat, friends, mail, the auction house, party, guild.

Every action is one reliable `RwamRequest(op, JSON body)` answered by an `RwamResult`;
a refusal raises `ActionRefused` with the server's code (`not_enough_gold`,
`bid_too_low`, ...). Notices the realm pushes (chat lines, new mail, invitations, party
positions) arrive as `Notice` messages: they are kept in `notices` (the last 200), handed
to `on_notice` if set, and can be awaited with `wait_notice`.

    client.social.say("hello")
    await client.social.send_mail("Jaina", "gift", gold=100, items=[uid])
    page = await client.social.search_auctions(name="cloth")
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from gameserver.wire.messages import Envelope, Notice, RwamRequest, RwamResult
from realm_client.connection import RealmConnection

if TYPE_CHECKING:
    from realm_client.client import RealmClient

Body = dict[str, Any]


class ActionRefused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


class NoticeConnection(RealmConnection):
    """A `RealmConnection` that also hands unsolicited `Notice`s to `on_notice`."""

    on_notice: Callable[[Notice], None] | None = None

    def _dispatch(self, env: Envelope) -> None:
        if isinstance(env.msg, Notice) and not env.request_id:
            if self.on_notice is not None:
                self.on_notice(env.msg)
            return
        super()._dispatch(env)


class Social:
    def __init__(self, client: RealmClient) -> None:
        self.client = client
        self.notices: deque[tuple[str, Body]] = deque(maxlen=200)
        self.on_notice: Callable[[str, Body], None] | None = None
        self._waiters: list[tuple[str, asyncio.Future[Body]]] = []

    # --- plumbing -----------------------------------------------------------------------
    def handle_notice(self, notice: Notice) -> None:
        try:
            body = json.loads(notice.body) if notice.body else {}
        except ValueError:
            return
        if not isinstance(body, dict):
            return
        self.notices.append((notice.kind, body))
        if self.on_notice is not None:
            self.on_notice(notice.kind, body)
        for kind, fut in list(self._waiters):
            if kind == notice.kind and not fut.done():
                fut.set_result(body)
                self._waiters.remove((kind, fut))
                break

    async def wait_notice(self, kind: str, timeout_s: float = 5.0) -> Body:
        fut: asyncio.Future[Body] = asyncio.get_running_loop().create_future()
        self._waiters.append((kind, fut))
        try:
            return await asyncio.wait_for(fut, timeout_s)
        finally:
            if (kind, fut) in self._waiters:
                self._waiters.remove((kind, fut))

    async def act(self, op: str, **body: Any) -> Body:
        """Run one realm-wide action; its answer, or `ActionRefused`."""
        conn = self.client.connection
        if conn is None:
            raise ActionRefused("not_logged_in", "log in first")
        payload = json.dumps({k: v for k, v in body.items() if v is not None})
        reply = await conn.request(RwamRequest(op=op, body=payload))
        if not isinstance(reply, RwamResult):
            raise ActionRefused("protocol", f"expected RwamResult, got {type(reply).__name__}")
        if not reply.ok:
            raise ActionRefused(reply.code, reply.message)
        parsed = json.loads(reply.body) if reply.body else {}
        return parsed if isinstance(parsed, dict) else {}

    # --- chat ---------------------------------------------------------------------------
    async def chat(self, channel: str, text: str, target: str = "") -> int:
        r = await self.act("chat.send", channel=channel, text=text, target=target)
        return int(r["reached"])

    async def say(self, text: str) -> int:
        return await self.chat("say", text)

    async def yell(self, text: str) -> int:
        return await self.chat("yell", text)

    async def whisper(self, name: str, text: str) -> int:
        return await self.chat("whisper", text, name)

    async def join_channel(self, name: str) -> int:
        return int((await self.act("chat.join", channel=name))["members"])

    async def leave_channel(self, name: str) -> None:
        await self.act("chat.leave", channel=name)

    async def history(self, channel: str, target: str = "") -> list[Body]:
        return list((await self.act("chat.history", channel=channel, target=target))["page"])

    # --- friends and ignore ---------------------------------------------------------------
    async def add_friend(self, name: str) -> str:
        return str((await self.act("friend.add", name=name))["name"])

    async def remove_friend(self, name: str) -> None:
        await self.act("friend.remove", name=name)

    async def friends(self) -> list[tuple[str, bool]]:
        return [(n, bool(o)) for n, o in (await self.act("friend.list"))["page"]]

    async def ignore(self, name: str) -> None:
        await self.act("ignore.add", name=name)

    async def unignore(self, name: str) -> None:
        await self.act("ignore.remove", name=name)

    # --- inventory and mail ---------------------------------------------------------------
    async def inventory(self, offset: int = 0, limit: int = 20) -> Body:
        """{"gold", "total", "page": [[uid, item_id, count, slot, name], ...]}"""
        return await self.act("inventory", offset=offset, limit=limit)

    async def send_mail(
        self, to: str, subject: str, body: str = "", *, gold: int = 0, cod: int = 0,
        items: list[str] | None = None,
    ) -> int:
        r = await self.act(
            "mail.send", to=to, subject=subject, body=body, gold=gold, cod=cod, items=items or []
        )
        return int(r["id"])

    async def mailbox(self, offset: int = 0, limit: int = 5) -> Body:
        return await self.act("mail.list", offset=offset, limit=limit)

    async def read_mail(self, mail_id: int) -> Body:
        return await self.act("mail.read", id=mail_id)

    async def take_mail(self, mail_id: int) -> Body:
        return await self.act("mail.take", id=mail_id)

    async def return_mail(self, mail_id: int) -> None:
        await self.act("mail.return", id=mail_id)

    async def delete_mail(self, mail_id: int) -> None:
        await self.act("mail.delete", id=mail_id)

    # --- auction house --------------------------------------------------------------------
    async def list_auction(
        self, item_uid: str, start_bid: int, buyout: int = 0, hours: int = 12
    ) -> int:
        r = await self.act("auction.list", item=item_uid, start_bid=start_bid, buyout=buyout,
                           hours=hours)
        return int(r["id"])

    async def bid(self, auction_id: int, amount: int) -> bool:
        return bool((await self.act("auction.bid", id=auction_id, amount=amount))["bought"])

    async def buyout(self, auction_id: int) -> None:
        await self.act("auction.buyout", id=auction_id)

    async def cancel_auction(self, auction_id: int) -> None:
        await self.act("auction.cancel", id=auction_id)

    async def search_auctions(self, **query: Any) -> Body:
        """name, item_id, min_level, max_level, quality, max_price, mine, bids, sort,
        offset, limit -> {"total", "page": [...], "truncated"?}"""
        return await self.act("auction.search", **query)

    # --- party and raid -------------------------------------------------------------------
    async def invite(self, name: str) -> None:
        await self.act("party.invite", name=name)

    async def accept_invite(self) -> Body:
        return await self.act("party.accept")

    async def decline_invite(self) -> None:
        await self.act("party.decline")

    async def leave_party(self) -> None:
        await self.act("party.leave")

    async def party(self) -> Body:
        return await self.act("party.info")

    # --- guild ----------------------------------------------------------------------------
    async def create_guild(self, name: str) -> Body:
        return await self.act("guild.create", name=name)

    async def guild_invite(self, name: str) -> None:
        await self.act("guild.invite", name=name)

    async def guild_accept(self) -> Body:
        return await self.act("guild.accept")

    async def guild_chat(self, text: str) -> int:
        return await self.chat("guild", text)
