"""Ranks of live queue tickets in O(log n): a Fenwick (binary indexed) tree.

The login queue needs, at a hundred thousand waiting players, to answer "what is my
place?" and "who is first?" and to drop anyone from anywhere, none of it in time
proportional to the queue. A list would make leaving O(n); recomputing everyone's place on
each admission would be O(n) too. Tickets only grow, so they map onto array slots in
order: slot `ticket - base` holds 1 while the ticket is live, and the Fenwick tree over
the slots gives a prefix count (the rank), a removal, and "the first live slot" (binary
lifting) in O(log n) each.

Slots of admitted or departed tickets stay behind as zeros; when a new ticket falls off
the end of the array, it is rebuilt from the first live ticket on, twice as large as the
live span. A rebuild is O(span) and is done in numpy (a few milliseconds at 100,000), and
it happens only after at least half as many new tickets again, so an append stays O(1)
amortised.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

_MIN_CAPACITY = 1024


class TicketRanks:
    """A set of integer tickets, each added larger than every one before it."""

    __slots__ = ("_base", "_cap", "_count", "_last", "_live", "_step", "_tree")

    def __init__(self, capacity: int = _MIN_CAPACITY) -> None:
        self._base = 0  # ticket t is held in slot t - base (slots are 1-based)
        self._count = 0
        self._last = 0
        self._cap = 0
        self._tree: list[int] = []
        self._live = bytearray()
        self._step = 0
        self._resize(max(_MIN_CAPACITY, capacity), np.empty(0, dtype=np.int64))

    def __len__(self) -> int:
        return self._count

    def __contains__(self, ticket: int) -> bool:
        i = ticket - self._base
        return 0 < i <= self._cap and self._live[i] == 1

    def add(self, ticket: int) -> None:
        if ticket <= self._last:
            raise ValueError(f"ticket {ticket} is not larger than the last one ({self._last})")
        i = ticket - self._base
        if i > self._cap:
            self._rebuild(ticket)
            i = ticket - self._base
        self._last = ticket
        self._live[i] = 1
        self._count += 1
        tree, cap = self._tree, self._cap
        while i <= cap:
            tree[i] += 1
            i += i & -i

    def discard(self, ticket: int) -> bool:
        """Remove `ticket`; False if it was not live."""
        if ticket not in self:
            return False
        i = ticket - self._base
        self._live[i] = 0
        self._count -= 1
        tree, cap = self._tree, self._cap
        while i <= cap:
            tree[i] -= 1
            i += i & -i
        return True

    def rank(self, ticket: int) -> int | None:
        """1-based place of `ticket` among the live ones; None if it is not live."""
        if ticket not in self:
            return None
        i = ticket - self._base
        tree = self._tree
        total = 0
        while i > 0:
            total += tree[i]
            i -= i & -i
        return total

    def first(self) -> int | None:
        """The smallest live ticket (binary lifting to the first slot with prefix count 1)."""
        if self._count == 0:
            return None
        tree, cap = self._tree, self._cap
        pos = 0
        step = self._step
        while step:
            nxt = pos + step
            if nxt <= cap and tree[nxt] < 1:
                pos = nxt
            step >>= 1
        return self._base + pos + 1

    def pop_first(self) -> int | None:
        ticket = self.first()
        if ticket is not None:
            self.discard(ticket)
        return ticket

    # --- growth ------------------------------------------------------------------------

    def _rebuild(self, incoming: int) -> None:
        live = np.flatnonzero(np.frombuffer(self._live, dtype=np.uint8)) + self._base
        first = int(live[0]) if len(live) else incoming
        self._base = first - 1
        self._resize(max(_MIN_CAPACITY, 2 * (incoming - self._base)), live - self._base)

    def _resize(self, capacity: int, slots: npt.NDArray[np.int64]) -> None:
        cap = 1 << (capacity - 1).bit_length()  # a power of two, for binary lifting
        flags = np.zeros(cap + 1, dtype=np.int64)
        flags[slots] = 1
        # Fenwick node i covers slots (i - lowbit(i), i]: a difference of prefix sums, taken
        # for all nodes of one lowbit k at once (they are i = k, 3k, 5k, ...).
        prefix = np.cumsum(flags)
        tree = np.zeros(cap + 1, dtype=np.int64)
        k = 1
        while k <= cap:
            upper = prefix[k :: 2 * k]
            tree[k :: 2 * k] = upper - prefix[0 : cap + 1 - k : 2 * k][: len(upper)]
            k *= 2
        self._cap = cap
        self._step = cap
        self._tree = tree.tolist()
        self._live = bytearray(flags.astype(np.uint8).tobytes())
