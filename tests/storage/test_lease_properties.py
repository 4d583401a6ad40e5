"""Lease invariants under random interleavings (memory store, fake clock).

Whatever order acquires, renewals, releases and the passing of time come in: fences for
a key strictly increase, at most one unexpired lease exists, and a superseded lease can
never renew or release."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from gameserver.storage.memory import MemoryHotState
from gameserver.storage.models import Lease

from .support import FakeClock

HOLDERS = ["a", "b", "c"]
Op = tuple[str, int, int]

ops = st.lists(
    st.tuples(
        st.sampled_from(["acquire", "renew", "release", "tick"]),
        st.integers(0, len(HOLDERS) - 1),
        st.integers(1, 200),
    ),
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(ops)
async def test_lease_invariants(sequence: list[Op]) -> None:
    clock = FakeClock()
    hot = MemoryHotState(clock)
    granted: list[Lease] = []
    held: dict[str, Lease] = {}
    for op, who, amount in sequence:
        holder = HOLDERS[who]
        if op == "tick":
            await clock.advance(amount)
        elif op == "acquire":
            lease = await hot.acquire("k", holder, amount)
            if lease is not None:
                assert not granted or lease.fence > granted[-1].fence
                granted.append(lease)
                held[holder] = lease
        elif op == "renew" and holder in held:
            renewed = await hot.renew(held[holder], amount)
            if renewed is not None:
                assert renewed.fence == granted[-1].fence
                held[holder] = renewed
        elif op == "release" and holder in held:
            if await hot.release(held[holder]):
                assert held[holder].fence == granted[-1].fence
            del held[holder]
        current = await hot.get("k")
        if current is not None:
            assert current.fence == granted[-1].fence
            assert current.expires_at_ms > clock()
        for lease in granted[:-1]:
            assert await hot.renew(lease, 100) is None
