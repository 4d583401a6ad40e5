"""Client-side prediction with server reconciliation, and entity interpolation.

The client moves its own character at once (prediction) and remembers each input frame it
sent. Snapshots say which frame the server processed last and where the server put the
character; the client drops the acknowledged frames and replays the rest on top of the
server's position (reconciliation). When the server agreed, nothing visibly changes; when
it corrected (a speed clamp, a wall, a knockback), the client ends up where the server says,
plus the moves the server has not seen yet.

A knockback is the server moving the character on its own: snapshots flag it
(`FLAG_KNOCKBACK` on `you`), and while it lasts the predictor takes the server's position
as it is, drops the moves it had predicted (the server drops them too) and predicts no new
ones, so the correction is accepted instead of fought.

Other entities are drawn slightly in the past, between the two snapshots that bracket the
render time (interpolation), so they move smoothly despite 10-20 Hz updates and jitter; how
far in the past follows the snapshot interval the client observes.

`DeltaView` rebuilds the full entity set from delta snapshots: it keeps the view of each
recent tick and applies a snapshot to the view of its baseline tick with exactly the
server's arithmetic (`structs.dequantise_position`), so both sides agree bit for bit.
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from gameserver.wire.structs import (
    ENTITY_STATE_DTYPE,
    INPUT_FRAME_DTYPE,
    dequantise_facing,
    dequantise_position,
)


@dataclass(slots=True)
class _Pending:
    seq: int
    dx: float
    dy: float


class Predictor:
    def __init__(self, x: float, y: float, facing: float, max_speed: float) -> None:
        self.x, self.y, self.facing = x, y, facing
        self.max_speed = max_speed
        self.seq = 0
        self.acked_seq = 0
        self.pending: deque[_Pending] = deque()
        self._recent: deque[tuple[int, int, float, float, float]] = deque(maxlen=8)
        self.corrections = 0
        self.last_error = 0.0
        self.forced = False  # a knockback is moving us: predict nothing
        self.knockbacks = 0

    def move(self, dir_x: float, dir_y: float, dt_s: float, speed: float | None = None) -> None:
        """Advance one frame in a direction (normalised here) at `speed` (max speed by
        default; a cheat passes more, and the server clamps it)."""
        if self.forced:
            return
        norm = math.hypot(dir_x, dir_y)
        v = self.max_speed if speed is None else speed
        dx = dir_x / norm * v * dt_s if norm else 0.0
        dy = dir_y / norm * v * dt_s if norm else 0.0
        if norm:
            self.facing = math.atan2(dir_y, dir_x)
        self.seq += 1
        self.x += dx
        self.y += dy
        self.pending.append(_Pending(self.seq, dx, dy))
        self._recent.append((self.seq, round(dt_s * 1000), dx, dy, self.facing))

    def frames(self, redundancy: int = 3) -> npt.NDArray[np.void]:
        """The newest frames, to send in one datagram: each frame rides along in the next
        few datagrams too, so a lost datagram loses no input."""
        recent = list(self._recent)[-redundancy:]
        out = np.zeros(len(recent), dtype=INPUT_FRAME_DTYPE)
        for i, (seq, dt_ms, dx, dy, facing) in enumerate(recent):
            out[i] = (seq, dt_ms, 0, dx, dy, facing)
        return out

    def reconcile(
        self,
        last_input_seq: int,
        server_x: float,
        server_y: float,
        corrected: bool,
        knockback: bool = False,
    ) -> float:
        """Rebase on the server's position; returns how far the prediction was off. With
        `knockback`, the server is driving: take its position as it is."""
        if last_input_seq < self.acked_seq:
            return 0.0  # an older snapshot arriving late
        self.acked_seq = last_input_seq
        if knockback and not self.forced:
            self.knockbacks += 1
        self.forced = knockback
        if knockback:
            self.pending.clear()
        while self.pending and self.pending[0].seq <= last_input_seq:
            self.pending.popleft()
        x, y = server_x, server_y
        for p in self.pending:
            x += p.dx
            y += p.dy
        err = math.hypot(x - self.x, y - self.y)
        if corrected:
            self.corrections += 1
        self.x, self.y = x, y
        self.last_error = err
        return err


class Interpolator:
    """Positions of other entities, drawn `delay_ms` in the past, linearly interpolated
    between the two snapshots around that time.

    The delay must cover the gap between two snapshots and their jitter, or one late or
    lost snapshot leaves nothing to interpolate towards and entities stop. How often
    snapshots come is the server's setting (every `snapshot_every` ticks: 100 ms at 20 Hz
    and every=2, the default), so by default the delay follows what arrives: 1.5x the
    median gap between the last `window` snapshots plus their mean deviation from that
    median (network jitter, losses), within `min_delay_ms`..`max_delay_ms`, and
    `initial_delay_ms` until a few gaps have been seen. Gaps are measured on arrival times
    when `push` is given them (`received_ms`), else on the snapshots' server times. A fixed
    `delay_ms` turns the adaptation off."""

    def __init__(
        self,
        delay_ms: int | None = None,
        keep: int = 32,
        *,
        initial_delay_ms: int = 150,
        min_delay_ms: int = 100,
        max_delay_ms: int = 1000,
        window: int = 16,
    ) -> None:
        self.fixed_delay_ms = delay_ms
        self.initial_delay_ms = initial_delay_ms
        self.min_delay_ms = min_delay_ms
        self.max_delay_ms = max_delay_ms
        self._frames: deque[tuple[int, dict[int, tuple[float, float]]]] = deque(maxlen=keep)
        self._gaps: deque[int] = deque(maxlen=window)
        self._last_arrival: int | None = None
        self._delay_ms = delay_ms if delay_ms is not None else initial_delay_ms

    @property
    def delay_ms(self) -> int:
        return self._delay_ms

    def push(
        self, server_time_ms: int, entities: npt.NDArray[np.void], received_ms: int | None = None
    ) -> None:
        if self._frames and server_time_ms <= self._frames[-1][0]:
            return
        arrival = server_time_ms if received_ms is None else received_ms
        if self._last_arrival is not None:
            self._gaps.append(max(0, arrival - self._last_arrival))
            self._adapt()
        self._last_arrival = arrival
        pos = {int(e["id"]): (float(e["x"]), float(e["y"])) for e in entities}
        self._frames.append((server_time_ms, pos))

    def _adapt(self) -> None:
        if self.fixed_delay_ms is not None or len(self._gaps) < 3:
            return
        gaps = sorted(self._gaps)
        median = gaps[len(gaps) // 2]
        jitter = sum(abs(g - median) for g in gaps) / len(gaps)
        want = round(1.5 * median + jitter)
        self._delay_ms = min(self.max_delay_ms, max(self.min_delay_ms, want))

    def sample(self, server_now_ms: int) -> dict[int, tuple[float, float]]:
        t = server_now_ms - self.delay_ms
        frames = self._frames
        if not frames:
            return {}
        if t <= frames[0][0]:
            return dict(frames[0][1])
        for (t0, a), (t1, b) in zip(frames, list(frames)[1:], strict=False):
            if t0 <= t <= t1:
                w = (t - t0) / (t1 - t0) if t1 > t0 else 1.0
                return {
                    eid: (ax + (b[eid][0] - ax) * w, ay + (b[eid][1] - ay) * w)
                    if eid in b
                    else (ax, ay)
                    for eid, (ax, ay) in a.items()
                }
        return dict(frames[-1][1])


class DeltaView:
    """The entity set a client knows, rebuilt from delta snapshots (see module doc)."""

    def __init__(self, keep: int = 64) -> None:
        self.keep = keep
        self.views: OrderedDict[int, npt.NDArray[np.void]] = OrderedDict()
        self.latest_tick = 0
        self.missing_baseline = 0

    def apply(
        self, tick: int, baseline_tick: int, entities: Any, removed: Any, deltas: Any
    ) -> npt.NDArray[np.void] | None:
        """The full view at `tick` (sorted by id), or None if the baseline is unknown (the
        snapshot is then ignored and not acknowledged; the server falls back to an older
        baseline or a full snapshot)."""
        if baseline_tick:
            base = self.views.get(baseline_tick)
            if base is None:
                self.missing_baseline += 1
                return None
        else:
            base = np.zeros(0, dtype=ENTITY_STATE_DTYPE)
        cur = base[~np.isin(base["id"], removed)] if len(removed) else base.copy()
        if len(deltas):
            idx = np.searchsorted(cur["id"], deltas["id"])
            idx = np.minimum(idx, max(0, len(cur) - 1))
            ok = (
                (len(cur) > 0) & (cur["id"][idx] == deltas["id"])
                if len(cur)
                else np.zeros(len(deltas), bool)
            )
            idx, d = idx[ok], deltas[ok]
            cur["x"][idx] = dequantise_position(cur["x"][idx], d["dx"])
            cur["y"][idx] = dequantise_position(cur["y"][idx], d["dy"])
            cur["facing"][idx] = dequantise_facing(d["facing"])
            cur["health_pct"][idx] = d["health_pct"]
            cur["flags"][idx] = d["flags"]
            cur["level"][idx] = d["level"]
        if len(entities):
            cur = np.concatenate([cur[~np.isin(cur["id"], entities["id"])], entities])
            cur = cur[np.argsort(cur["id"], kind="stable")]
        self.views[tick] = cur
        while len(self.views) > self.keep:
            self.views.popitem(last=False)
        self.latest_tick = max(self.latest_tick, tick)
        return cur
