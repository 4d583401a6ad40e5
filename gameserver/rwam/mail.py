"""Mail: text, gold and items to a character by name, online or not.

Sending takes the attachments from the sender and puts them in the mail in one
transaction (the sender's wallet, through `EconomyRouter`); taking them moves them from
the mail into the receiver's wallet in another. Between the two the mail holds them (the
`held_items` rows and the mail's `gold`), so at every instant each coin and item is in
exactly one place. Cash on delivery: the receiver pays the COD amount when taking the
items, and the payment travels back to the sender as a mail of its own in the same
transaction.

Expiry (on the RWAM's timer, `expire`): player mail that still carries something goes
back to its sender once (then never expires again, so nothing is destroyed); mail with
nothing attached is deleted. Mail the realm owes someone (returned mail, auction items
and proceeds) never expires while it holds something.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from gameserver import metrics
from gameserver.rwam.economy import EconomyRouter, Wallet
from gameserver.rwam.errors import ActionError
from gameserver.rwam.items import SOULBOUND
from gameserver.rwam.limits import RateLimiter
from gameserver.rwam.notify import Notifier
from gameserver.rwam.rules import check_amount, check_character_name, check_text
from gameserver.storage.interfaces import RealmDatabase, RealmTx
from gameserver.storage.models import ItemStack
from gameserver.storage.realmdata import Mail, MailKind, NewMail, RelationKind

log = logging.getLogger(__name__)

DAY_MS = 24 * 3600 * 1000
MAIL_LIFETIME_MS = 30 * DAY_MS
SUBJECT_MAX = 64  # bytes
BODY_MAX = 400  # bytes: a mail must fit one datagram when read
MAX_ATTACHMENTS = 12
MAILBOX_MAX = 100  # player mail a mailbox accepts; the realm's own mail always fits


@dataclass(frozen=True, slots=True)
class Taken:
    gold: int
    items: tuple[ItemStack, ...]
    cod_paid: int


def held_mail(
    *,
    kind: MailKind,
    recipient_id: int,
    subject: str,
    now_ms: int,
    gold: int = 0,
    items: tuple[ItemStack, ...] = (),
    body: str = "",
) -> NewMail:
    """A mail from the realm itself (the auction house): never expires while it holds
    something; expires like any mail once emptied."""
    return NewMail(
        kind=kind, sender_id=None, sender_name="Auction House", recipient_id=recipient_id,
        subject=subject, body=body, gold=gold, items=items, sent_at_ms=now_ms,
        expires_at_ms=None if gold or items else now_ms + MAIL_LIFETIME_MS,
    )


class MailService:
    def __init__(
        self,
        db: RealmDatabase,
        router: EconomyRouter,
        notifier: Notifier,
        clock: Callable[[], int],
        *,
        limiter: RateLimiter | None = None,
        realm: str = "home",
    ) -> None:
        self.db = db
        self.router = router
        self.notifier = notifier
        self.clock = clock
        self.limiter = limiter or RateLimiter({"mail": (1.0, 5.0)})
        self.realm = realm

    # --- sending ------------------------------------------------------------------------

    async def send(
        self,
        sender_id: int,
        to: str,
        subject: str,
        body: str = "",
        *,
        gold: int = 0,
        cod: int = 0,
        item_uids: tuple[str, ...] = (),
    ) -> int:
        name = check_character_name(to)
        subject = check_text(subject, "the subject", max_bytes=SUBJECT_MAX)
        body = check_text(body, "the text", max_bytes=BODY_MAX, allow_empty=True)
        check_amount(gold, "gold", allow_zero=True)
        check_amount(cod, "the COD amount", allow_zero=True)
        if gold and cod:
            raise ActionError("bad_cod", "a mail sends gold or asks for it (COD), not both")
        if cod and not item_uids:
            raise ActionError("bad_cod", "cash on delivery needs an item attached")
        if len(item_uids) > MAX_ATTACHMENTS:
            raise ActionError("too_many_items", f"at most {MAX_ATTACHMENTS} items per mail")
        if len(set(item_uids)) != len(item_uids):
            raise ActionError("bad_items", "the same item is attached twice")
        now = self.clock()
        if not self.limiter.allow(sender_id, "mail", now):
            raise ActionError("rate_limited", "you are sending mail too fast")

        async def op(tx: RealmTx, wallet: Wallet) -> tuple[int, int]:
            found = await tx.character_id_by_name(name)
            if found is None:
                raise ActionError("no_such_character", f"there is no character called {name}")
            recipient_id, _ = found
            if recipient_id == sender_id:
                raise ActionError("mail_to_self", "you cannot mail yourself")
            if await tx.count_mail(recipient_id) >= MAILBOX_MAX:
                raise ActionError("mailbox_full", f"{name}'s mailbox is full")
            items = tuple(wallet.take_item(uid) for uid in item_uids)
            if any(it.item_id in SOULBOUND for it in items):
                raise ActionError("soulbound", "that item is bound to you")
            wallet.take_gold(gold)
            mail_id = await tx.insert_mail(
                NewMail(
                    kind=MailKind.PLAYER, sender_id=sender_id, sender_name=wallet.name,
                    recipient_id=recipient_id, subject=subject, body=body, gold=gold, cod=cod,
                    items=tuple(it.model_copy(update={"slot": None}) for it in items),
                    sent_at_ms=now, expires_at_ms=now + MAIL_LIFETIME_MS,
                )
            )
            return mail_id, recipient_id

        if await self._ignored_by(sender_id, name):
            raise ActionError("ignored", f"{name} is ignoring you")
        mail_id, recipient_id = await self.router.run(sender_id, op)
        self._tell_new(recipient_id, mail_id, subject)
        return mail_id

    async def _ignored_by(self, sender_id: int, name: str) -> bool:
        recipient = await self.db.get_character_by_name(name)
        if recipient is None:
            return False
        return await self.db.has_relation(recipient.id, sender_id, RelationKind.IGNORE)

    def _tell_new(self, recipient_id: int, mail_id: int, subject: str) -> None:
        self.notifier.notify(recipient_id, "mail_new", {"id": mail_id, "subject": subject})

    # --- the mailbox --------------------------------------------------------------------

    async def list(self, character_id: int, offset: int, limit: int) -> tuple[list[Mail], int]:
        if offset < 0 or not 1 <= limit <= 20:
            raise ActionError("bad_page", "offset must be >= 0 and limit 1..20")
        return await self.db.list_mail(character_id, offset, limit)

    async def read(self, character_id: int, mail_id: int) -> Mail:
        async def op(tx: RealmTx) -> Mail:
            return self._own(await tx.mail(mail_id, lock=False), character_id)

        mail = await self.router.realm_only(op)
        await self.db.mark_mail_read(mail_id, character_id)
        return mail

    @staticmethod
    def _own(mail: Mail | None, character_id: int) -> Mail:
        if mail is None or mail.recipient_id != character_id:
            raise ActionError("no_such_mail", "there is no such mail in your mailbox")
        return mail

    async def take(self, character_id: int, mail_id: int) -> Taken:
        """Take everything attached (paying the COD amount, if any)."""
        now = self.clock()

        async def op(tx: RealmTx, wallet: Wallet) -> tuple[Taken, int | None]:
            mail = self._own(await tx.mail(mail_id), character_id)
            if not mail.has_attachments:
                raise ActionError("nothing_attached", "that mail carries nothing")
            payment_to: int | None = None
            if mail.cod:
                wallet.take_gold(mail.cod)
                if mail.sender_id is None:
                    raise ActionError("bad_cod", "this mail cannot be paid for")
                await tx.insert_mail(
                    NewMail(
                        kind=MailKind.COD_PAYMENT, sender_id=character_id,
                        sender_name=wallet.name, recipient_id=mail.sender_id,
                        subject=f"COD payment: {mail.subject}"[:SUBJECT_MAX], gold=mail.cod,
                        sent_at_ms=now, expires_at_ms=None,
                    )
                )
                payment_to = mail.sender_id
            wallet.give_gold(mail.gold)
            wallet.give_items(mail.items)
            await tx.replace_mail(
                mail.model_copy(
                    update={
                        "gold": 0, "cod": 0, "items": (), "read": True,
                        "expires_at_ms": mail.expires_at_ms or now + MAIL_LIFETIME_MS,
                    }
                )
            )
            return Taken(mail.gold, mail.items, mail.cod), payment_to

        taken, payment_to = await self.router.run(character_id, op)
        if payment_to is not None:
            self.notifier.notify(payment_to, "mail_new", {"id": 0, "subject": "COD payment"})
        return taken

    async def return_to_sender(self, character_id: int, mail_id: int) -> None:
        now = self.clock()

        async def op(tx: RealmTx) -> int:
            mail = self._own(await tx.mail(mail_id), character_id)
            if mail.kind is not MailKind.PLAYER or mail.sender_id is None or mail.returned:
                raise ActionError("cannot_return", "only mail from a player can be returned, once")
            await tx.replace_mail(self._returned(mail, await self._name(tx, character_id), now))
            return mail.sender_id

        sender_id = await self.router.realm_only(op)
        self._tell_new(sender_id, mail_id, "Returned mail")

    @staticmethod
    async def _name(tx: RealmTx, character_id: int) -> str:
        who = await tx.subject(character_id, lock=False)
        return who.name if who is not None else "Someone"

    @staticmethod
    def _returned(mail: Mail, returned_by: str, now: int) -> Mail:
        assert mail.sender_id is not None
        keeps = bool(mail.items) or mail.gold > 0
        return mail.model_copy(
            update={
                "recipient_id": mail.sender_id, "sender_id": mail.recipient_id,
                "sender_name": returned_by,
                "subject": f"Returned: {mail.subject}"[:SUBJECT_MAX], "cod": 0,
                "returned": True, "read": False,
                "expires_at_ms": None if keeps else now + MAIL_LIFETIME_MS,
            }
        )

    async def delete(self, character_id: int, mail_id: int) -> None:
        async def op(tx: RealmTx) -> None:
            mail = self._own(await tx.mail(mail_id), character_id)
            if mail.has_attachments:
                raise ActionError("has_attachments", "take what is attached first")
            await tx.delete_mail(mail_id)

        await self.router.realm_only(op)

    # --- the timer ----------------------------------------------------------------------

    async def expire(self, now_ms: int | None = None, batch: int = 100) -> int:
        """Return or delete every mail past its expiry; returns how many were handled."""
        now = self.clock() if now_ms is None else now_ms
        handled = 0
        for mail_id in await self.db.due_mail(now, batch):

            async def op(tx: RealmTx, mail_id: int = mail_id) -> tuple[str, int | None]:
                mail = await tx.mail(mail_id)
                if mail is None or mail.expires_at_ms is None or mail.expires_at_ms > now:
                    return "skipped", None  # taken, returned or deleted meanwhile
                if not mail.has_attachments:
                    await tx.delete_mail(mail_id)
                    return "deleted", None
                if mail.sender_id is not None and not mail.returned:
                    name = await self._name(tx, mail.recipient_id)
                    await tx.replace_mail(self._returned(mail, name, now))
                    return "returned", mail.sender_id
                await tx.replace_mail(mail.model_copy(update={"expires_at_ms": None}))
                return "kept", None

            try:
                outcome, notify = await self.router.realm_only(op)
            except ActionError as e:
                log.warning("mail %s expiry failed: %s", mail_id, e)
                continue
            if outcome != "skipped":
                handled += 1
                metrics.ECONOMY_EXPIRED.labels(self.realm, f"mail_{outcome}").inc()
            if notify is not None:
                self._tell_new(notify, mail_id, "Returned mail")
        return handled
