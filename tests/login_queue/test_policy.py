"""The pure parts: seat limit, wait estimate, refresh cadence, token bucket, tickets,
and the Fenwick ranks (checked against a plain list)."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gameserver.gateway.login_queue import policy, tickets
from gameserver.storage.loginqueue import AdmissionRate, admission_budget, refill
from gameserver.storage.memory.ranks import TicketRanks
from gameserver.storage.models import ServerHeartbeat, ServerState


def _beat(sid: str, state: ServerState, capacity: int) -> ServerHeartbeat:
    return ServerHeartbeat(server_id=sid, realm="r", region="x", state=state, capacity=capacity)


def test_seat_limit_counts_ready_capacity_only_and_caps_it() -> None:
    servers = [
        _beat("a", ServerState.READY, 100),
        _beat("b", ServerState.STARTING, 100),
        _beat("c", ServerState.DRAINING, 100),
        _beat("d", ServerState.READY, 50),
    ]
    assert policy.ready_capacity(servers) == 150
    assert policy.seat_limit(servers, max_players=1000) == 150
    assert policy.seat_limit(servers, max_players=10) == 10
    assert policy.seat_limit([], max_players=10) == 0


def test_admission_budget_takes_the_tightest_bound() -> None:
    assert admission_budget(seats_in_use=8, limit=10, tokens=5.0, waiting=100, max_n=50) == 2
    assert admission_budget(0, 10, tokens=2.7, waiting=100, max_n=50) == 2
    assert admission_budget(0, 10, 5.0, waiting=1, max_n=50) == 1
    assert admission_budget(0, 10, 5.0, 100, max_n=3) == 3
    assert admission_budget(12, 10, 5.0, 100, 50) == 0  # over the limit (capacity shrank)


def test_token_bucket_refills_at_the_rate_up_to_the_burst() -> None:
    rate = AdmissionRate(per_second=10.0, burst=5)
    assert refill(0.0, 1000, 1100, rate) == pytest.approx(1.0)
    assert refill(0.0, 1000, 2000, rate) == 5.0
    assert refill(2.0, 1000, 900, rate) == 2.0  # the clock stepped back: nothing added
    with pytest.raises(ValueError):
        AdmissionRate(per_second=0, burst=1)


def test_ewma_rate_is_independent_of_the_call_cadence() -> None:
    # Ten admissions per second, observed in 0.1 s or 1 s steps, converge alike.
    fine = coarse = 0.0
    for _ in range(600):
        fine = policy.ewma_rate(fine, 1, 0.1, tau_s=30.0)
    for _ in range(60):
        coarse = policy.ewma_rate(coarse, 10, 1.0, tau_s=30.0)
    assert fine == pytest.approx(coarse, rel=0.01)
    assert fine == pytest.approx(10 * (1 - math.exp(-2)), rel=0.01)
    assert policy.ewma_rate(3.0, 0, 0.0, 30.0) == 3.0


def test_eta_and_refresh_interval() -> None:
    assert policy.eta_seconds(100, rate=10.0) == 10.0
    assert policy.eta_seconds(100, rate=0.0) is None
    # Far back in a moving queue: refreshed about when the place moved by 5%.
    assert policy.refresh_interval(10_000, rate=10.0) == 15.0  # clamped to max_s
    assert policy.refresh_interval(2_000, rate=10.0) == pytest.approx(10.0)
    assert policy.refresh_interval(3, rate=10.0) == 1.0  # clamped to min_s
    # A stalled queue: its head still every second, its tail rarely.
    assert policy.refresh_interval(3, rate=0.0) == 1.0
    assert policy.refresh_interval(1000, rate=0.0) == 15.0


def test_refresh_work_grows_with_log_n_not_n() -> None:
    """Re-ranks per second summed over every waiter, at 10 admissions per second (without
    the max_s clamp, whose n/max_s is the one linear term): the first rate/fraction = 200
    positions are re-ranked every second, the rest add 200 * ln(n / 200)."""

    def per_second(n: int) -> float:
        return sum(
            1.0 / policy.refresh_interval(p, 10.0, max_s=math.inf) for p in range(1, n + 1)
        )

    small, big = per_second(10_000), per_second(100_000)
    assert big < small * 1.6  # ten times the waiters, half as much work again
    assert big == pytest.approx(200 + 200 * math.log(100_000 / 200), rel=0.01)


def test_tickets_verify_only_genuine_and_fresh() -> None:
    key = tickets.derive_key(b"k" * 32)
    t = tickets.issue(key, 42, now_ms=1_000_000)
    assert tickets.verify(key, t, 1_000_500, ttl_ms=60_000) == 42
    assert tickets.verify(key, t, 1_000_000 + 60_001, ttl_ms=60_000) is None  # expired
    assert tickets.verify(tickets.derive_key(b"x" * 32), t, 1_000_500, 60_000) is None
    forged = t[:-2] + ("A" if t[-2] != "A" else "B") + t[-1]
    assert tickets.verify(key, forged, 1_000_500, 60_000) is None
    for junk in ("", "!!!", "a" * 65, "AAAA"):
        assert tickets.verify(key, junk, 1_000_500, 60_000) is None


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("aarp"), st.integers(0, 10**6)), max_size=300))
def test_ticket_ranks_match_a_sorted_list(ops: list[tuple[str, int]]) -> None:
    ranks, model = TicketRanks(), []
    last = 0
    for op, n in ops:
        if op == "a":
            last += 1 + n % 700  # gaps, so rebuilds happen with dead slots around
            ranks.add(last)
            model.append(last)
        elif op == "r" and model:
            victim = model[n % len(model)]
            model.remove(victim)
            assert ranks.discard(victim)
            assert not ranks.discard(victim)
        elif op == "p":
            assert ranks.pop_first() == (model.pop(0) if model else None)
        assert len(ranks) == len(model)
        assert ranks.first() == (model[0] if model else None)
        if model:
            probe = model[n % len(model)]
            assert ranks.rank(probe) == model.index(probe) + 1
        assert ranks.rank(last + 1) is None


def test_ticket_ranks_at_scale() -> None:
    ranks = TicketRanks()
    for t in range(1, 200_001):
        ranks.add(t)
    rng = random.Random(7)
    gone = set(rng.sample(range(1, 100_001), 1000))
    for t in gone:
        ranks.discard(t)
    for _ in range(50_000):
        ranks.pop_first()
    assert len(ranks) == 200_000 - 50_000 - len([g for g in gone if g > 0])
    assert ranks.rank(200_000) == len(ranks)
    with pytest.raises(ValueError):
        ranks.add(5)
