"""Moving gold and items without ever losing or duplicating one.

Three rules make the economy safe, and every mail and auction operation follows them:

1. **One transaction, at most one character.** An operation changes the gold and items
   of at most one character, plus realm tables (mail, auctions, held items, sinks), in
   one database transaction. Anything that goes from one character to another travels
   through a realm table in between (mail), so no transaction ever needs two characters'
   live state at once.

2. **The owner of the live state writes it.** While a character is online its gold and
   items live in its region server's memory and every save writes them. So the RWAM does
   not write them behind the server's back: it asks the server holding the character
   (`LiveInventories.holder`) to run the transaction (`RegionServer.run_economy`), which
   hands over the live state and the lease's fence under a per-character lock that saves
   also take, and adopts the state the transaction wrote once it has committed. A save
   racing a mail therefore lands either before it (and the mail's transaction writes on
   top) or after it (and carries the new gold and items); it can never write the gold the
   mail already took.

3. **An offline character is taken like a login takes it.** With no server holding the
   character, the RWAM takes the character's lease itself (`character:<id>`, the lease
   the OEM takes to enter the world) for the length of the transaction, and writes with
   that lease's fence. A login in that window waits (the OEM reports the character as
   busy; the window is one transaction long), and a server that loaded the character
   earlier cannot overwrite the write: its fence is older. Transactions read the
   character row `FOR UPDATE` and check the fence, so the database, not timing, decides.

When a commit's outcome is unknown (the connection dropped during COMMIT), the router
reads the character back to learn whether it landed; if it cannot, it raises
`EconomyIndeterminate` and the region server drops the player without saving, so no
stale copy of the gold/items is ever written over the truth.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
import weakref
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from gameserver import metrics
from gameserver.rwam.errors import ActionError
from gameserver.rwam.rules import MAX_GOLD
from gameserver.storage.interfaces import (
    HotState,
    NotFound,
    RealmDatabase,
    RealmTx,
    StaleFence,
    Unavailable,
)
from gameserver.storage.models import CharacterState, ItemStack

log = logging.getLogger(__name__)

R = TypeVar("R")

#: Item stacks a character may carry besides what it wears (its bags).
BAG_SLOTS = 40


class Wallet:
    """The gold and items of the one character an operation changes, as the transaction
    read them. Operations change it; the router writes it back in the same transaction."""

    def __init__(self, character_id: int, name: str, gold: int, items: tuple[ItemStack, ...]):
        self.character_id = character_id
        self.name = name
        self.gold = gold
        self.items = list(items)
        self.changed = False

    def take_gold(self, amount: int) -> None:
        if amount > self.gold:
            raise ActionError("not_enough_gold", f"you have {self.gold} gold, {amount} needed")
        self.gold -= amount
        self.changed = self.changed or amount > 0

    def give_gold(self, amount: int) -> None:
        if self.gold + amount > MAX_GOLD:
            raise ActionError("gold_cap", f"you cannot carry more than {MAX_GOLD} gold")
        self.gold += amount
        self.changed = self.changed or amount > 0

    def take_item(self, uid: str) -> ItemStack:
        for i, item in enumerate(self.items):
            if item.uid == uid:
                if item.slot is not None:
                    raise ActionError("item_equipped", "take the item off first")
                self.changed = True
                return self.items.pop(i)
        raise ActionError("no_such_item", "you do not have that item")

    def bag_free(self) -> int:
        return BAG_SLOTS - sum(1 for it in self.items if it.slot is None)

    def give_items(self, items: tuple[ItemStack, ...]) -> None:
        if len(items) > self.bag_free():
            raise ActionError("bags_full", f"you need {len(items)} free bag slots")
        self.items.extend(it.model_copy(update={"slot": None}) for it in items)
        self.changed = self.changed or bool(items)


EconomyOp = Callable[[RealmTx, Wallet], Awaitable[R]]
Commit = Callable[[CharacterState, int], Awaitable[tuple[CharacterState, R]]]


class InventoryHolder(Protocol):
    """A server holding characters' live state (a region server)."""

    async def run_economy(self, character_id: int, fn: Commit[R]) -> R:
        """Run `fn(live_state, fence)` under the character's save lock and adopt the
        state it returns; `LookupError` if the character is not held here."""
        ...

    async def evict_unsaved(self, character_id: int, reason: str) -> None:
        """Take the character out of the world without saving it (its live gold/items
        can no longer be trusted to match the database)."""
        ...


class LiveInventories(Protocol):
    """Finds the server that holds an online character. Embedded: the region directory;
    distributed: the route in hot state and a gRPC stub to that server."""

    def holder(self, character_id: int) -> InventoryHolder | None: ...


class EconomyIndeterminate(Exception):
    """A transaction's commit may or may not have landed and reading back failed too."""


class EconomyRouter:
    """Runs an economy operation against a character wherever its live state is."""

    def __init__(
        self,
        db: RealmDatabase,
        hot: HotState,
        live: LiveInventories,
        *,
        lease_ttl_ms: int = 10_000,
        attempts: int = 40,
        realm: str = "home",
    ) -> None:
        self.db = db
        self.hot = hot
        self.live = live
        self.lease_ttl_ms = lease_ttl_ms
        self.attempts = attempts
        self._realm = realm
        # Offline operations on one character queue here rather than on the lease (weak:
        # a lock lives while someone waits on it).
        self._local: weakref.WeakValueDictionary[int, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )

    @staticmethod
    def lease_key(character_id: int) -> str:
        return f"character:{character_id}"  # the OEM's key: one live copy, ever

    async def realm_only(self, fn: Callable[[RealmTx], Awaitable[R]]) -> R:
        """An operation that touches no character's gold or items (return a mail, cancel an
        auction, expire): one plain transaction."""
        try:
            return await self.db.transact(fn)
        except Unavailable as exc:
            raise ActionError("unavailable", "the realm database is busy; try again") from exc

    async def run(self, character_id: int, op: EconomyOp[R]) -> R:
        """Run `op` in one transaction with the character's `Wallet`; retry while the
        character is between owners (entering, leaving, handed off)."""
        delay = 0.005
        for _ in range(self.attempts):
            holder = self.live.holder(character_id)
            if holder is not None:
                try:
                    return await holder.run_economy(
                        character_id,
                        lambda state, fence: self._commit(character_id, state, fence, op),
                    )
                except LookupError:
                    pass  # it left that server in the meantime: look again
                except EconomyIndeterminate as exc:
                    log.error("%s; dropping the character unsaved", exc)
                    await holder.evict_unsaved(
                        character_id, "lost contact with the realm database; please log in again"
                    )
                    raise ActionError(
                        "unavailable", "the realm database is busy; try again"
                    ) from exc
            else:
                done, result = await self._offline(character_id, op)
                if done:
                    return result  # type: ignore[return-value]
            await asyncio.sleep(delay * random.uniform(0.5, 1.5))
            delay = min(delay * 2, 0.2)
        raise ActionError("busy", "that character is changing servers; try again in a moment")

    async def _offline(self, character_id: int, op: EconomyOp[R]) -> tuple[bool, R | None]:
        lock = self._local.get(character_id)
        if lock is None:
            lock = self._local[character_id] = asyncio.Lock()
        async with lock:
            try:
                lease = await self.hot.acquire(
                    self.lease_key(character_id), f"rwam/{uuid.uuid4().hex}", self.lease_ttl_ms
                )
            except Unavailable as exc:
                raise ActionError("unavailable", "the realm is busy; try again") from exc
            if lease is None:
                return False, None  # held: entering the world, or on a server: route again
            try:
                _, result = await self._commit(character_id, None, lease.fence, op)
                return True, result
            except EconomyIndeterminate as exc:
                raise ActionError("unavailable", "the realm database is busy; try again") from exc
            finally:
                try:
                    await self.hot.release(lease)
                except Unavailable:
                    log.warning("could not release the economy lease of %s", character_id)

    async def _commit(
        self, character_id: int, live: CharacterState | None, fence: int, op: EconomyOp[R]
    ) -> tuple[CharacterState, R]:
        """One transaction: lock the character row, check the fence, run `op`, write the
        character if its wallet changed. `live` is the region server's state (None for
        an offline character: the stored state is the truth)."""
        wrote: list[CharacterState] = []

        async def tx_fn(tx: RealmTx) -> tuple[CharacterState, R]:
            wrote.clear()
            subject = await tx.subject(character_id, lock=True)
            if subject is None:
                raise ActionError("no_such_character", "that character no longer exists")
            if subject.save_fence > fence:
                raise StaleFence(f"character {character_id} moved on (fence {subject.save_fence})")
            state = live if live is not None else subject.state
            wallet = Wallet(character_id, subject.name, state.gold, state.items)
            result = await op(tx, wallet)
            new_state = state.model_copy(update={"gold": wallet.gold, "items": tuple(wallet.items)})
            if wallet.changed:
                await tx.write_subject(character_id, new_state, fence)
                wrote.append(new_state)
            return new_state, result

        try:
            out = await self.db.transact(tx_fn)
        except StaleFence as exc:
            raise ActionError("busy", "that character is changing servers; try again") from exc
        except NotFound as exc:
            raise ActionError("no_such_character", "that character no longer exists") from exc
        except Unavailable as exc:
            if live is not None and wrote:
                await self._resolve(character_id, live)
            raise ActionError("unavailable", "the realm database is busy; try again") from exc
        metrics.ECONOMY_TRANSACTIONS.labels(self._realm).inc()
        return out

    async def _resolve(self, character_id: int, before: CharacterState) -> None:
        """After an ambiguous commit of a live character: if it landed, the caller must not
        keep `before`; raise `EconomyIndeterminate` (the server drops the player) unless
        the stored state proves it did not land."""
        for _ in range(3):
            try:
                stored = await self.db.get_character(character_id)
            except Unavailable:
                await asyncio.sleep(0.2)
                continue
            if stored is not None and (stored.state.gold, stored.state.items) == (
                before.gold,
                before.items,
            ):
                return  # it did not land: the live state is still the truth
            break
        raise EconomyIndeterminate(f"economy commit of character {character_id} is unknown")
