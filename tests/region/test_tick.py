"""The tick as a pure step: phases, inputs acknowledged, determinism."""

from __future__ import annotations

import numpy as np

from gameserver.region.content import RegionContent, content_for
from gameserver.region.movement import MoverState, MoveRules
from gameserver.region.tick import PlayerLink, Shard, queue_command, queue_inputs, step
from gameserver.region.world import KIND_PLAYER
from gameserver.wire.messages import CastAbility, SetAutoAttack, Snapshot, SnapshotAck, decode
from gameserver.wire.structs import INPUT_FRAME_DTYPE
from gameserver.world.map import DEFAULT_MAP

REGION = DEFAULT_MAP.region("elwynn")


def _shard(seed: int = 0, content: RegionContent | None = None) -> Shard:
    return Shard(
        region=REGION,
        rules=MoveRules(max_speed=REGION.max_speed),
        seed=seed,
        content=content if content is not None else RegionContent(),
    )


def _join(shard: Shard, cid: int, x: float, y: float) -> PlayerLink:
    eid = shard.world.spawn(KIND_PLAYER, x, y)
    link = PlayerLink(cid, 1000 + cid, eid, MoverState(joined_at_ms=0))
    shard.players[eid] = link
    return link


def _snap(payload: bytes) -> Snapshot:
    msg = decode(payload).msg
    assert isinstance(msg, Snapshot)
    return msg


def test_snapshot_replicates_only_nearby_entities_and_acks_inputs() -> None:
    shard = _shard()
    a = _join(shard, 1, 100, 100)
    b = _join(shard, 2, 150, 100)  # 50 m away: visible
    _join(shard, 3, 400, 100)  # 300 m away: not visible
    frames = np.zeros(1, dtype=INPUT_FRAME_DTYPE)
    frames[0] = (5, 50, 0, 0.3, 0.0, 0.0)
    queue_inputs(a, frames)
    out = step(shard, now_ms=1000)
    sa = {conn: _snap(p) for conn, p in out.snapshots}[a.conn_id]
    assert sa.last_input_seq == 5
    assert float(sa.you["x"]) == np.float32(100.3)  # type: ignore[index]
    assert [int(e["id"]) for e in sa.entities] == [b.eid]
    assert sa.tick == 1 and sa.baseline_tick == 0


def test_step_is_deterministic_with_npcs_combat_and_randomness() -> None:
    """Two shards, same seed, same inputs: identical columns and identical bytes."""

    def run() -> tuple[list[bytes], bytes]:
        shard = _shard(seed=42, content=content_for("elwynn"))
        links = [_join(shard, i, 290 + i * 3, 500) for i in range(6)]  # next to the wolves
        out: list[bytes] = []
        for t in range(1, 200):
            for i, link in enumerate(links):
                f = np.zeros(1, dtype=INPUT_FRAME_DTYPE)
                f[0] = (t, 50, 0, 0.1 * (i % 3), 0.05, 0.0)
                queue_inputs(link, f)
                if t == 5:
                    queue_command(link, SetAutoAttack(enabled=True, target=1))
                if t % 7 == 0:
                    queue_command(link, CastAbility(ability=1 + i % 3, target=2))
                if t > 3 and t % 2:
                    queue_command(link, SnapshotAck(tick=t - 2))
            out.extend(p for _, p in step(shard, now_ms=t * 50).snapshots)
        return out, shard.world.fingerprint()

    a, b = run(), run()
    assert a[1] == b[1]
    assert a[0] == b[0]
    assert len(set(a[0])) > 100  # the world did change
