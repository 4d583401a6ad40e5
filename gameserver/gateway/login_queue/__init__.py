"""The login queue tied to capacity.

The realm seats players only up to the capacity its Ready region servers report (and its
own player limit); the rest wait in a FIFO queue, follow their place and estimated wait
over a WebSocket, and are admitted in order, no faster than the admission rate, as seats
free up. A player who dropped recently goes ahead of the queue within a grace period.

- `policy`: pure functions (seat limit, wait estimate, refresh cadence);
- `service`: `LoginQueue`, the gateway's queue loop and waiters;
- `seats`: `SeatKeeper`, the RCM's hooks that confirm and release seats;
- `tickets`: signed queue tickets; `web`: the WebSocket.

Seats and the queue themselves live in the hot-state store (`LoginQueueStore`): in
memory for the embedded realm, in Redis (shared by every gateway) for a distributed one.
"""

from gameserver.gateway.login_queue.policy import AdmissionRate
from gameserver.gateway.login_queue.seats import Admission, SeatKeeper
from gameserver.gateway.login_queue.service import (
    LoginQueue,
    QueuedLogin,
    QueueSettings,
    Waiter,
    WaiterStatus,
)

__all__ = [
    "Admission",
    "AdmissionRate",
    "LoginQueue",
    "QueueSettings",
    "QueuedLogin",
    "SeatKeeper",
    "Waiter",
    "WaiterStatus",
]
