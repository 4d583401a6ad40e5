"""`realm bench` end to end at a tiny size: the real region server process (gRPC `Link`,
driver, maintenance loop), bot processes playing RCMs, and a table of figures that are
measured, not made up."""

from __future__ import annotations

from bench.region_bench import run_once


def test_a_small_run_measures_a_live_server() -> None:
    r = run_once(players=12, npcs=40, seconds=2.0, warmup=1.0, workers=2)
    assert r.players == 12
    assert r.connected == 12  # every player's snapshots reached its bot and were acked
    assert 15.0 < r.tick_hz < 22.0  # the fixed-rate driver holds 20 Hz at this size
    assert 0 < r.cpu_p50_ms <= r.cpu_p99_ms
    assert 0 < r.p50_ms <= r.p99_ms <= r.max_ms
    # Each client gets its snapshots within the per-client budget (4 KB/s), framing included.
    assert 500 < r.bytes_per_player_s < 4200
    assert 0 < r.cpu_pct < 100
