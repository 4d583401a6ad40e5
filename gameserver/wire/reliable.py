"""A small reliable channel for must-arrive messages over the unreliable datagrams.

Snapshots and inputs are sent unreliably: a newer one supersedes a lost one. Requests,
responses, chat, mail notices and handoffs must arrive exactly once. Rather than a
second transport, those envelopes get a `reliable_id` (1, 2, 3, ... as u32), the sender
keeps them until acked and resends on a timer with exponential backoff, and gives up
after `give_up_s` (the connection is then as good as dead; `lost` tells the caller).
The receiver acks every reliable id it sees, duplicates included (the first ack may
have been lost), delivers each id once, and piggybacks acks on whatever it sends next
(`Envelope.acks`, at most `MAX_ACKS_PER_PACKET` per datagram). Each ack rides on up to
`ACK_REPEATS` outgoing envelopes (spare room only), so a lost datagram rarely costs a
resend, and periodic loss cannot starve one message's acks until the sender gives up.

Pure bookkeeping: no clock reads (callers pass `now`, seconds, monotonic), no I/O.
Delivery is exactly-once but not ordered; callers that need order use request ids.
Receive-side memory is bounded: ids are remembered in a window of `RECV_WINDOW` above
the highest contiguous id; anything at or below that floor counts as a duplicate.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from gameserver.wire.messages import Envelope

__all__ = ["ACK_REPEATS", "MAX_ACKS_PER_PACKET", "RECV_WINDOW", "ReliableChannel"]

MAX_ACKS_PER_PACKET = 32
RECV_WINDOW = 4096
MAX_PENDING_ACKS = 1024
#: How many outgoing envelopes carry each ack (the first one included).
ACK_REPEATS = 3
_MAX_ID = 2**32 - 1


@dataclass(slots=True)
class _InFlight:
    env: Envelope
    first_sent: float
    next_due: float
    rto: float


class ReliableChannel:
    """Both halves of the reliable channel for one connection."""

    def __init__(self, rto_s: float = 0.2, max_rto_s: float = 2.0, give_up_s: float = 10.0):
        self.rto_s = rto_s
        self.max_rto_s = max_rto_s
        self.give_up_s = give_up_s
        self._next_id = 1
        self._in_flight: dict[int, _InFlight] = {}
        #: Envelopes given up on (drain with `take_lost`); `lost_count` never resets.
        self.lost: list[Envelope] = []
        self.lost_count = 0
        self.resent_count = 0
        # receive side
        self._floor = 0  # every id <= floor has been received (or abandoned)
        self._above: set[int] = set()
        self._pending_acks: list[int] = []
        self._pending_set: set[int] = set()
        self._repeat: dict[int, int] = {}  # acked id -> repeats left (insertion ordered)
        self.ack_pending_since: float | None = None

    # ---------------------------------------------------------------- send side

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def track(self, env: Envelope, now: float) -> Envelope:
        """Assign the next reliable id and keep the envelope until acked."""
        rid = self._next_id
        if rid > _MAX_ID:
            raise OverflowError("reliable ids exhausted for this connection")
        self._next_id += 1
        tracked = dataclasses.replace(env, reliable_id=rid)
        self._in_flight[rid] = _InFlight(tracked, now, now + self.rto_s, self.rto_s)
        return tracked

    def on_acks(self, ids: tuple[int, ...] | list[int]) -> None:
        """The peer received these ids: stop resending them."""
        for rid in ids:
            self._in_flight.pop(rid, None)

    def due(self, now: float) -> list[Envelope]:
        """Envelopes to resend now (their timers have fired); backs off each one."""
        out: list[Envelope] = []
        for rid, f in list(self._in_flight.items()):
            if f.next_due > now:
                continue
            if now - f.first_sent >= self.give_up_s:
                del self._in_flight[rid]
                self.lost.append(f.env)
                self.lost_count += 1
                continue
            f.rto = min(f.rto * 2, self.max_rto_s)
            f.next_due = now + f.rto
            self.resent_count += 1
            out.append(f.env)
        return out

    def next_due(self) -> float | None:
        """When `due` next has something to do, or None."""
        if not self._in_flight:
            return None
        return min(f.next_due for f in self._in_flight.values())

    def take_lost(self) -> list[Envelope]:
        lost, self.lost = self.lost, []
        return lost

    # ---------------------------------------------------------------- receive side

    def receive(self, reliable_id: int, now: float = 0.0) -> bool:
        """Record a received reliable id and schedule its ack. True if seen first time."""
        if reliable_id not in self._pending_set:
            if not self._pending_acks:
                self.ack_pending_since = now
            self._pending_acks.append(reliable_id)
            self._pending_set.add(reliable_id)
            if len(self._pending_acks) > MAX_PENDING_ACKS:  # the peer resends what we drop
                self._pending_set.discard(self._pending_acks.pop(0))
        if reliable_id <= self._floor or reliable_id in self._above:
            return False
        self._above.add(reliable_id)
        while self._floor + 1 in self._above:
            self._floor += 1
            self._above.discard(self._floor)
        if reliable_id - self._floor > RECV_WINDOW:
            # A hole the sender must have given up on: move past it, bounded memory.
            self._floor = reliable_id - RECV_WINDOW
            self._above = {i for i in self._above if i > self._floor}
        return True

    @property
    def acks_pending(self) -> bool:
        """Are there ids never acked yet (which justify an Ack-only datagram)?"""
        return bool(self._pending_acks)

    def take_acks(self, limit: int = MAX_ACKS_PER_PACKET) -> tuple[int, ...]:
        """Up to `limit` ids to acknowledge on the next outgoing envelope.

        Fresh ids first; spare room repeats recently acked ids (each up to
        `ACK_REPEATS` times in all), so one lost datagram does not lose an ack.
        """
        taken, self._pending_acks = self._pending_acks[:limit], self._pending_acks[limit:]
        self._pending_set.difference_update(taken)
        if not self._pending_acks:
            self.ack_pending_since = None
        for rid in taken:
            self._repeat.pop(rid, None)
        room = limit - len(taken)
        repeats: list[int] = []
        if room > 0 and self._repeat:
            for rid in list(self._repeat)[:room]:
                left = self._repeat.pop(rid) - 1
                repeats.append(rid)
                if left > 0:
                    self._repeat[rid] = left  # re-inserted last: round robin
        for rid in taken:
            self._repeat[rid] = ACK_REPEATS - 1
        while len(self._repeat) > MAX_ACKS_PER_PACKET:
            del self._repeat[next(iter(self._repeat))]
        return tuple(taken) + tuple(repeats)
