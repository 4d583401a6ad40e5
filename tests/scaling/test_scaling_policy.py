"""Unit tests of the pure scaling policy, on simulated time."""

from __future__ import annotations

from dataclasses import replace

import pytest

from gameserver.scaling import (
    DrainRecord,
    ScalingHistory,
    ScalingInput,
    ScalingSpec,
    ServerView,
    attribute_queue_demand,
    decide,
)
from gameserver.storage.models import ServerState

R, S, D = ServerState.READY, ServerState.STARTING, ServerState.DRAINING
SPEC = ScalingSpec(
    players_per_server=100,
    target_utilisation=0.5,
    min_servers=1,
    max_servers=5,
    scale_down_window_s=60,
    drain_timeout_s=120,
)


def srv(sid: str, players: int = 0, state: ServerState = R, saved: bool = False) -> ServerView:
    return ServerView(server_id=sid, state=state, players=players, capacity=100, saved=saved)


class Sim:
    """A region driven by the policy: starts servers, honours drains, on simulated time."""

    def __init__(self, spec: ScalingSpec = SPEC, servers: int = 1) -> None:
        self.spec = spec
        self.now = 0.0
        self.hist = ScalingHistory()
        self.next = 0
        self.servers: dict[str, ServerView] = {}
        for _ in range(servers):
            self._start()
        self.desired_log: list[int] = []
        self.started = 0
        self.deleted: list[str] = []

    def _start(self) -> None:
        sid = f"s{self.next}"
        self.next += 1
        self.servers[sid] = srv(sid, 0, R)

    def load(self, total: int) -> None:
        """Spread `total` players over the non-draining servers."""
        live = [s for s in self.servers.values() if s.state is not D]
        for i, s in enumerate(live):
            share = total // len(live) + (1 if i < total % len(live) else 0)
            self.servers[s.server_id] = replace(s, players=share)

    def step(self, dt: float = 5.0, queue: int = 0) -> None:
        self.now += dt
        d = decide(
            ScalingInput(
                servers=tuple(self.servers.values()),
                spec=self.spec,
                now=self.now,
                queue_demand=queue,
                history=self.hist,
            )
        )
        self.hist = d.history
        self.desired_log.append(d.desired)
        for _ in range(d.start):
            self._start()
            self.started += 1
        if d.drain:
            s = self.servers[d.drain]
            # The OEM moves its players off at once in this simulation.
            self.servers[d.drain] = replace(s, state=D, players=0)
        for sid in d.delete:
            assert self.servers[sid].players == 0 or self.servers[sid].saved
            del self.servers[sid]
            self.deleted.append(sid)

    @property
    def count(self) -> int:
        return sum(1 for s in self.servers.values() if s.state is not D)


def test_recommendation_rounds_up_and_respects_min() -> None:
    d = decide(ScalingInput(servers=(srv("a", 0),), spec=SPEC, now=0))
    assert d.desired == 1 and d.start == 0 and d.drain is None and d.delete == ()
    d = decide(ScalingInput(servers=(srv("a", 51),), spec=SPEC, now=0))
    assert d.recommendation == 2 and d.start == 1
    assert any("scale up" in r for r in d.reasons)


def test_exact_target_does_not_scale() -> None:
    d = decide(ScalingInput(servers=(srv("a", 50),), spec=SPEC, now=0))
    assert d.recommendation == 1 and d.start == 0


def test_scale_up_is_prompt_and_capped_at_max() -> None:
    d = decide(ScalingInput(servers=(srv("a", 100), srv("b", 900)), spec=SPEC, now=0))
    assert d.desired == 5 and d.start == 3


def test_starts_to_min_from_nothing() -> None:
    spec = replace(SPEC, min_servers=2)
    d = decide(ScalingInput(servers=(), spec=spec, now=0))
    assert d.start == 2 and d.desired == 2


def test_min_zero_allows_empty_region() -> None:
    spec = replace(SPEC, min_servers=0, scale_down_window_s=0)
    d = decide(ScalingInput(servers=(srv("a", 0),), spec=spec, now=0))
    assert d.desired == 0 and d.drain == "a"


def test_never_above_max_drains_extra() -> None:
    spec = replace(SPEC, max_servers=1, scale_down_window_s=0)
    d = decide(ScalingInput(servers=(srv("a", 40), srv("b", 10)), spec=spec, now=0))
    assert d.desired == 1 and d.drain == "b"


def test_scale_down_waits_for_window_then_drains_emptiest() -> None:
    sim = Sim(servers=1)
    sim.load(220)  # needs 5
    sim.step()
    assert sim.count == 5
    sim.load(60)  # needs 2
    for _ in range(11):  # 55 s < 60 s window
        sim.step()
        assert sim.count == 5
    sim.step()  # window passes: the high recommendation falls out
    sim.step()
    assert sim.count < 5


def test_scale_down_picks_emptiest_ready_not_starting() -> None:
    spec = replace(SPEC, scale_down_window_s=0)
    servers = (srv("a", 30), srv("b", 5), srv("c", 0, S), srv("d", 5))
    d = decide(ScalingInput(servers=servers, spec=spec, now=10))
    assert d.drain == "d"  # emptiest Ready; tie between b and d goes to the newest id
    assert d.delete == ()
    assert d.history.drains == (DrainRecord("d", 10),)


def test_one_drain_at_a_time() -> None:
    spec = replace(SPEC, scale_down_window_s=0)
    hist = ScalingHistory(drains=(DrainRecord("c", 0),))
    servers = (srv("a", 0), srv("b", 0), srv("c", 3, D))
    d = decide(ScalingInput(servers=servers, spec=spec, now=5, history=hist))
    assert d.drain is None and d.delete == ()
    assert any("in flight" in r for r in d.reasons)


def test_drain_requested_but_not_yet_acknowledged_is_not_deleted() -> None:
    """The server still reports Ready with 0 players: it has not seen the drain request yet
    and might admit a player any moment. Only a Draining heartbeat makes it deletable."""
    spec = replace(SPEC, scale_down_window_s=0)
    hist = ScalingHistory(drains=(DrainRecord("b", 0),))
    d = decide(ScalingInput(servers=(srv("a", 10), srv("b", 0, R)), spec=spec, now=1, history=hist))
    assert d.delete == ()
    d = decide(ScalingInput(servers=(srv("a", 10), srv("b", 0, D)), spec=spec, now=2, history=hist))
    assert d.delete == ("b",)
    assert d.history.drains == ()


def test_draining_server_with_players_is_never_deleted_before_timeout() -> None:
    hist = ScalingHistory(drains=(DrainRecord("b", 0),))
    for now in (1, 60, 119.9):
        d = decide(
            ScalingInput(
                servers=(srv("a", 10), srv("b", 4, D, saved=True)),
                spec=SPEC,
                now=now,
                history=hist,
            )
        )
        assert d.delete == ()


def test_drain_timeout_deletes_only_when_saved() -> None:
    hist = ScalingHistory(drains=(DrainRecord("b", 0),))
    unsaved = (srv("a", 10), srv("b", 4, D, saved=False))
    d = decide(ScalingInput(servers=unsaved, spec=SPEC, now=121, history=hist))
    assert d.delete == ()
    assert any("not saved" in r for r in d.reasons)
    saved = (srv("a", 10), srv("b", 4, D, saved=True))
    d = decide(ScalingInput(servers=saved, spec=SPEC, now=121, history=hist))
    assert d.delete == ("b",)


def test_self_reported_draining_server_is_tracked_and_not_counted() -> None:
    d = decide(ScalingInput(servers=(srv("a", 10), srv("b", 3, D)), spec=SPEC, now=7))
    assert d.active == 1
    assert d.history.drains == (DrainRecord("b", 7),)


def test_vanished_drains_are_forgotten() -> None:
    hist = ScalingHistory(drains=(DrainRecord("gone", 0),))
    d = decide(ScalingInput(servers=(srv("a", 10),), spec=SPEC, now=1, history=hist))
    assert d.history.drains == ()


def test_flapping_load_does_not_oscillate() -> None:
    sim = Sim(servers=1)
    # Load flips between 'needs 3' and 'needs 1' every 10 s for five minutes. The region
    # grows once and stays up: no drain ever starts while the flapping lasts.
    for i in range(60):
        sim.load(140 if (i // 2) % 2 == 0 else 20)
        sim.step()
    assert sim.started == 2
    assert sim.deleted == []
    assert set(sim.desired_log) == {3}


def test_up_window_damps_spikes() -> None:
    spec = replace(SPEC, scale_up_window_s=20)
    sim = Sim(spec, servers=1)
    sim.load(140)
    sim.step()  # first sight of the spike: the earlier baseline is not in history
    assert sim.count == 3  # no history yet: the window holds only this recommendation
    sim2 = Sim(spec, servers=1)
    sim2.load(10)
    sim2.step()
    sim2.load(140)
    sim2.step()
    assert sim2.count == 1  # the low value is still inside the 20 s up window
    for _ in range(4):
        sim2.step()
    assert sim2.count == 3


def test_scale_down_delay_after_last_scale() -> None:
    spec = replace(SPEC, scale_down_window_s=0, scale_down_delay_s=30)
    hist = ScalingHistory(last_scale_at=100)
    servers = (srv("a", 0), srv("b", 0))
    d = decide(ScalingInput(servers=servers, spec=spec, now=110, history=hist))
    assert d.drain is None and any("delay" in r for r in d.reasons)
    d = decide(ScalingInput(servers=servers, spec=spec, now=131, history=hist))
    assert d.drain == "b"
    assert d.history.last_scale_at == 131


def test_queue_demand_drives_scale_up() -> None:
    d = decide(ScalingInput(servers=(srv("a", 40),), spec=SPEC, now=0, queue_demand=150))
    assert d.desired == 4 and d.start == 3
    assert "150 queued" in d.reasons[0]


def test_draining_players_still_count_as_demand() -> None:
    hist = ScalingHistory(drains=(DrainRecord("b", 0),))
    servers = (srv("a", 40), srv("b", 40, D))
    d = decide(ScalingInput(servers=servers, spec=SPEC, now=1, history=hist))
    assert d.recommendation == 2 and d.start == 1


def test_full_cycle_up_then_down_to_min() -> None:
    sim = Sim(servers=1)
    sim.load(200)
    sim.step()
    assert sim.count == 4
    sim.load(0)
    for _ in range(60):
        sim.step()
    assert sim.count == 1
    assert len(sim.deleted) == 3


def test_history_is_bounded() -> None:
    sim = Sim(servers=1)
    for _ in range(500):
        sim.step(dt=1)
    assert len(sim.hist.recommendations) <= 61


def test_decide_is_pure() -> None:
    inp = ScalingInput(servers=(srv("a", 90), srv("b", 1)), spec=SPEC, now=3)
    assert decide(inp) == decide(inp)


@pytest.mark.parametrize(
    ("queue", "ready", "limit", "regions", "expected"),
    [
        (0, 0, 100, 2, 0),
        (50, 0, 100, 2, 25),
        (51, 0, 100, 2, 26),
        (500, 80, 100, 1, 20),  # only 20 more could be admitted under the realm limit
        (500, 100, 100, 3, 0),  # the realm limit holds the queue, not the servers
        (10, 0, 100, 0, 0),
    ],
)
def test_attribute_queue_demand(
    queue: int, ready: int, limit: int, regions: int, expected: int
) -> None:
    assert attribute_queue_demand(queue, ready, limit, regions) == expected


@pytest.mark.parametrize(
    "kwargs",
    [
        {"players_per_server": 0},
        {"players_per_server": 1, "target_utilisation": 0},
        {"players_per_server": 1, "target_utilisation": 1.5},
        {"players_per_server": 1, "min_servers": 3, "max_servers": 2},
        {"players_per_server": 1, "scale_down_window_s": -1},
        {"players_per_server": 1, "drain_timeout_s": -1},
    ],
)
def test_spec_rejects_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        ScalingSpec(**kwargs)  # type: ignore[arg-type]
