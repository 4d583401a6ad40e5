"""Crash recovery: a realm killed without a clean shutdown while players walk comes back
with every character from its last checkpoint, none lost or doubled, within the documented
loss window (`checkpoint_interval_s` for SQLite + memory; `hot_checkpoint_interval_s` with
Redis, whose checkpoints outlive the region server)."""

from __future__ import annotations

import asyncio
import math
import os
import signal
import socket
import sys
from pathlib import Path

import pytest
from realm_client import RealmClient

pytestmark = pytest.mark.e2e

MAX_SPEED = 7.0


def _free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _start(
    data_dir: Path, env: dict[str, str], http: int, udp: int
) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gameserver.cli.main",
        "up",
        "--data-dir",
        str(data_dir),
        "--http-port",
        str(http),
        "--udp-port",
        str(udp),
        "--metrics-port",
        "0",
        "--no-status",
        env={**os.environ, **env},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{http}"
    for _ in range(200):
        try:
            c = RealmClient(url)
            await c.gateway.realms()
            await c.close()
            return proc
        except OSError:
            await c.close()
            await asyncio.sleep(0.05)
    proc.kill()
    raise AssertionError("realm did not start: " + (await proc.stderr.read()).decode()[-2000:])  # type: ignore[union-attr]


async def _walkers(url: str, n: int) -> list[tuple[RealmClient, int]]:
    out = []
    for i in range(n):
        c = RealmClient(url)
        await c.signup(f"walker{i}", "password123")
        await c.login(f"walker{i}", "password123")
        ch = await c.create_character(f"Walker{'abcdefghij'[i]}", "human", "warrior")
        await c.enter_world(ch.id)
        out.append((c, ch.id))
    return out


async def test_killed_embedded_realm_recovers_within_the_checkpoint_interval(
    tmp_path: Path,
) -> None:
    await _crash_and_recover(tmp_path, "embedded", {}, window=1.0)


async def test_killed_distributed_realm_recovers_within_the_hot_checkpoint_interval(
    tmp_path: Path, postgres_url: str, redis_url: str
) -> None:
    extra = {"REALM_POSTGRES_URL": postgres_url, "REALM_REDIS_URL": redis_url}
    await _crash_and_recover(tmp_path, "distributed", extra, window=0.3)


async def _crash_and_recover(
    tmp_path: Path, backend: str, extra: dict[str, str], window: float
) -> None:
    env = {
        "REALM_NAME": f"crash{os.getpid()}{backend}",
        "REALM_CHECKPOINT_INTERVAL_S": "1.0",
        "REALM_HOT_CHECKPOINT_INTERVAL_S": "0.3",
        "REALM_LEASE_TTL_S": "2",
        "REALM_ARGON2_TIME_COST": "1",
        "REALM_ARGON2_MEMORY_KIB": "1024",
    }
    env.update(extra)
    http, udp = _free_port(), _free_port(socket.SOCK_DGRAM)
    url = f"http://127.0.0.1:{http}"
    proc = await _start(tmp_path / "data", env, http, udp)
    walkers: list[tuple[RealmClient, int]] = []
    try:
        walkers = await _walkers(url, 3)
        for step in range(50):  # 2.5 s of walking, past several checkpoints
            for i, (c, _) in enumerate(walkers):
                c.move(math.cos(i + step / 20), math.sin(i + step / 20), 0.05)
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)
        last = {cid: c.position for c, cid in walkers}  # all acked by now
        proc.send_signal(signal.SIGKILL)  # no clean shutdown, no final save
        await proc.wait()
    finally:
        for c, _ in walkers:
            await c.close()
    proc = await _start(tmp_path / "data", env, http, udp)
    try:
        for i, (cid, (x, y)) in enumerate(last.items()):
            c = RealmClient(url)
            try:
                await c.login(f"walker{i}", "password123")
                chars = await c.characters()
                assert [ch.id for ch in chars] == [cid]  # not lost, not doubled
                for _ in range(60):  # the dead session's lease expires within its TTL
                    try:
                        entered = await c.enter_world(cid)
                        break
                    except Exception as e:
                        assert "already_online" in str(e)
                        await asyncio.sleep(0.1)
                else:
                    raise AssertionError("character never became free")
                lost = math.hypot(entered.x - x, entered.y - y)
                # what was lost is at most the play between the last checkpoint and the kill
                assert lost <= MAX_SPEED * 1.05 * (window + 0.25), (backend, lost)
            finally:
                await c.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        await proc.wait()
