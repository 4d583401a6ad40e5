"""The tick as a pure step: movement, interest and snapshots."""

from __future__ import annotations

import numpy as np

from gameserver.region.movement import MoverState, MoveRules
from gameserver.region.tick import MAX_SNAPSHOT_ENTITIES, PlayerLink, Shard, queue_inputs, step
from gameserver.region.world import KIND_NPC, KIND_PLAYER
from gameserver.wire.messages import Snapshot, decode
from gameserver.wire.structs import INPUT_FRAME_DTYPE
from gameserver.world.map import DEFAULT_MAP


def _shard() -> Shard:
    region = DEFAULT_MAP.region("elwynn")
    return Shard(region=region, rules=MoveRules(max_speed=region.max_speed))


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
    snaps = {conn: _snap(p) for conn, p in out.snapshots}
    sa = snaps[a.conn_id]
    assert sa.last_input_seq == 5
    assert float(sa.you["x"]) == np.float32(100.3)
    assert [int(e["id"]) for e in sa.entities] == [b.eid]
    assert sa.tick == 1


def test_snapshot_is_capped_to_fit_a_datagram_nearest_first() -> None:
    shard = _shard()
    a = _join(shard, 1, 500, 500)
    for i in range(80):
        shard.world.spawn(KIND_NPC, 500 + i * 0.5 + 1, 500)
    out = step(shard, now_ms=0)
    (payload,) = [p for c, p in out.snapshots if c == a.conn_id]
    assert len(payload) + 40 < 1200
    ents = _snap(payload).entities
    assert len(ents) == MAX_SNAPSHOT_ENTITIES
    assert float(ents["x"].max()) < 500 + MAX_SNAPSHOT_ENTITIES * 0.5 + 1.01


def test_step_is_deterministic() -> None:
    def run() -> list[bytes]:
        shard = _shard()
        links = [_join(shard, i, 100 + i, 100) for i in range(5)]
        out: list[bytes] = []
        for t in range(20):
            for i, link in enumerate(links):
                f = np.zeros(1, dtype=INPUT_FRAME_DTYPE)
                f[0] = (t + 1, 50, 0, 0.1 * i, 0.05, 0.0)
                queue_inputs(link, f)
            out.extend(p for _, p in step(shard, now_ms=t * 50).snapshots)
        return out

    assert run() == run()
