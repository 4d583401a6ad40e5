"""Seats are released where sessions end: the RCM's side of the login queue.

A seat is taken at admission (by the gateway) and must be given back when the player's
game connection closes, for whatever reason: logout, a client that said goodbye, an idle
timeout, a kick, the realm shutting down. The RCM calls the `Admission` hooks at exactly
those two moments, session opened and session closed, and knows nothing else about the
queue. `SeatKeeper` implements them against the `LoginQueueStore`:

- opening confirms the seat (an admitted player who never connects loses it when its
  pending time runs out; one who did keeps it for as long as it plays);
- closing the account's last session releases the seat and records a grace entry, so a
  player who drops and logs in again within the grace period goes ahead of the queue.

Sessions are counted per account: a player whose client crashed often logs in again
before the RCM has timed the old connection out, and that old session's close must not
take the seat from under the new one.
"""

from __future__ import annotations

import logging
from typing import Protocol

from gameserver.storage.interfaces import LoginQueueStore, StorageError

log = logging.getLogger(__name__)


class Admission(Protocol):
    """What the RCM tells the login queue. Both hooks swallow storage errors (logged):
    a queue outage must never break a game connection."""

    async def session_opened(self, account_id: int, conn_id: int) -> None: ...

    async def session_closed(self, account_id: int, conn_id: int, reason: str) -> None: ...


class SeatKeeper:
    def __init__(self, realm: str, store: LoginQueueStore, *, grace_s: float) -> None:
        self.realm = realm
        self.store = store
        self.grace_ms = int(grace_s * 1000)
        self._sessions: dict[int, set[int]] = {}  # account: open conn ids on this RCM

    async def session_opened(self, account_id: int, conn_id: int) -> None:
        self._sessions.setdefault(account_id, set()).add(conn_id)
        try:
            await self.store.confirm_seat(self.realm, account_id)
        except StorageError as e:
            log.warning("could not confirm the seat of account %s: %s", account_id, e)

    async def session_closed(self, account_id: int, conn_id: int, reason: str) -> None:
        conns = self._sessions.get(account_id)
        if conns is not None:
            conns.discard(conn_id)
            if conns:
                return  # a newer session of the same account keeps the seat
            del self._sessions[account_id]
        try:
            await self.store.release_seat(self.realm, account_id, self.grace_ms)
        except StorageError as e:
            log.warning("could not release the seat of account %s (%s): %s", account_id, reason, e)
