"""A distributed realm as local processes: every role its own `realm serve` child.

`realm up --distributed` and the distributed end-to-end test use this to run the same
topology the operator deploys, without Kubernetes: RWAM first (it migrates the
database), then the OEM, one region server per world region and one instance host per
instance region (dungeon), the RCM, and the gateway, each started on port 0 and waiting
for the previous one to be healthy (a role prints its bound ports as one JSON line when
ready; /healthz then says when it can take work). One token key is generated per run and
given to the gateway and the RCM only. A `world` other than the built-in map is written
to `map.json` in the log directory and given to every role as `REALM_MAP_FILE`.

Stopping goes the other way, with SIGTERM and a grace period each: the gateway (no new
logins), the RCM (every client told, every character leaves the world and is saved),
the region servers (anyone left is saved), the OEM, the RWAM.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import aiohttp
from realm_client.bot import headline

from gameserver.storage.models import ServerKind
from gameserver.world.map import DEFAULT_MAP, WorldMap


class LaunchError(RuntimeError):
    """A role did not come up; the message names it and ends with its last log lines."""


@dataclass
class Child:
    role: str
    name: str
    proc: asyncio.subprocess.Process
    log_path: Path
    ports: dict[str, int] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    drain: asyncio.Task[None] | None = None

    def tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class LocalDistributedRealm:
    postgres_url: str
    redis_url: str
    log_dir: Path
    name: str = "home"
    host: str = "127.0.0.1"
    http_port: int = 0
    udp_port: int = 0
    tick_rate: int = 20
    players_per_server: int = 200
    world: WorldMap = DEFAULT_MAP
    extra_env: dict[str, str] = field(default_factory=dict)
    log_level: str = "INFO"
    # Run the local supervisor: start and drain region server processes by load with the
    # shared scaling policy (`autoscale_specs`: region -> spec; world regions by default).
    autoscale: bool = False
    max_servers_per_region: int = 4
    target_utilisation: float = 0.75
    scale_down_window_s: float = 120.0
    start_timeout_s: float = 30.0
    stop_timeout_s: float = 20.0
    token_key: str = field(default_factory=lambda: secrets.token_bytes(32).hex())
    children: list[Child] = field(default_factory=list)
    _logs: list[IO[bytes]] = field(default_factory=list)

    def _env(self, **more: object) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("REALM_")}
        if self.world is not DEFAULT_MAP:
            map_file = self.log_dir / "map.json"
            if not map_file.exists():
                self.log_dir.mkdir(parents=True, exist_ok=True)
                map_file.write_text(self.world.model_dump_json(indent=2))
            env["REALM_MAP_FILE"] = str(map_file)
        env.update(
            REALM_NAME=self.name,
            REALM_HOST=self.host,
            REALM_POSTGRES_URL=self.postgres_url,
            REALM_REDIS_URL=self.redis_url,
            REALM_METRICS_PORT="0",
            REALM_GRPC_PORT="0",
            REALM_TICK_RATE=str(self.tick_rate),
            REALM_PLAYERS_PER_SERVER=str(self.players_per_server),
        )
        env.update(self.extra_env)
        env.update({f"REALM_{k.upper()}": str(v) for k, v in more.items()})
        return env

    async def _spawn(self, role: str, name: str, env: dict[str, str]) -> Child:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{name}.log"
        log_file = log_path.open("ab")
        self._logs.append(log_file)
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "gameserver.cli.main",
            "serve",
            role,
            "--log-level",
            self.log_level,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=log_file,
            start_new_session=True,  # a Ctrl-C in the terminal reaches the parent only
        )
        child = Child(role, name, proc, log_path)
        self.children.append(child)
        try:
            await asyncio.wait_for(self._ready(child), timeout=self.start_timeout_s)
        except TimeoutError:
            raise LaunchError(
                f"{name} did not become ready in {self.start_timeout_s:g} s:\n{child.tail()}"
            ) from None
        return child

    async def _ready(self, child: Child) -> None:
        assert child.proc.stdout is not None
        while True:
            line = await child.proc.stdout.readline()
            if not line:
                await child.proc.wait()
                raise LaunchError(
                    f"{child.name} exited with code {child.proc.returncode}:\n{child.tail()}"
                )
            with contextlib.suppress(ValueError):
                msg = json.loads(line)
                if isinstance(msg, dict) and "ports" in msg:
                    child.ports = {k: int(v) for k, v in msg["ports"].items()}
                    child.info = msg
                    break
        child.drain = asyncio.create_task(self._drain(child))
        url = f"http://{self.host}:{child.ports['metrics']}/healthz"
        async with aiohttp.ClientSession() as http:
            while True:
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(url) as r:
                        if r.status == 200:
                            return
                await asyncio.sleep(0.05)

    @staticmethod
    async def _drain(child: Child) -> None:
        assert child.proc.stdout is not None
        while await child.proc.stdout.readline():
            pass

    def address(self, role: str, port: str = "grpc") -> str:
        for c in self.children:
            if c.role == role:
                return f"{self.host}:{c.ports[port]}"
        raise KeyError(role)

    @property
    def gateway_url(self) -> str:
        return f"http://{self.host}:{self.child('gateway').ports['http']}"

    def child(self, name: str) -> Child:
        for c in self.children:
            if c.name == name:
                return c
        raise KeyError(name)

    async def start(self) -> None:
        try:
            await self._spawn("rwam", "rwam", self._env())
            rwam = self.address("rwam")
            await self._spawn("oem", "oem", self._env(rwam_address=rwam))
            oem = self.address("oem")
            for region in self.world.regions:
                # a world region's shard, or an instance region's (a dungeon's) host
                kind = "0" if region.kind is ServerKind.WORLD else "host-0"
                sid = f"{region.name}-{kind}"
                env = self._env(oem_address=oem, region=region.name, server_id=sid)
                await self._spawn("region", sid, env)
            env = self._env(
                oem_address=oem,
                rwam_address=rwam,
                token_key=self.token_key,
                udp_port=self.udp_port,
            )
            await self._spawn("rcm", "rcm", env)
            env = self._env(
                token_key=self.token_key,
                http_port=self.http_port,
                rcm_address=self.address("rcm", "udp"),
            )
            await self._spawn("gateway", "gateway", env)
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> dict[str, int | None]:
        """Stop every role in order; returns each one's exit code (None: it was killed)."""
        codes: dict[str, int | None] = {}
        order = {"gateway": 0, "rcm": 1, "region": 2, "oem": 3, "rwam": 4}
        for child in sorted(self.children, key=lambda c: order[c.role]):
            codes[child.name] = await self._stop_child(child)
        self.children.clear()
        for f in self._logs:
            f.close()
        self._logs.clear()
        return codes

    async def _stop_child(self, child: Child) -> int | None:
        proc = child.proc
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), timeout=self.stop_timeout_s)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
                return None
        if child.drain is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await child.drain
        return proc.returncode

    def alive(self) -> dict[str, bool]:
        return {c.name: c.proc.returncode is None for c in self.children}


async def wait_healthy(url: str, within_s: float) -> bool:
    deadline = time.monotonic() + within_s
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(url) as r:
                    if r.status == 200:
                        return True
            await asyncio.sleep(0.1)
    return False


async def _supervise(realm: LocalDistributedRealm, stop: asyncio.Event) -> None:
    """The local supervisor over this realm's region server processes."""
    from gameserver.roles.fleet import ProcessFleet
    from gameserver.scaling.policy import ScalingSpec
    from gameserver.scaling.supervisor import Supervisor
    from gameserver.storage.factory import open_hot_state

    hot = await open_hot_state(realm.redis_url, realm=realm.name)
    specs = {
        r.name: ScalingSpec(
            players_per_server=realm.players_per_server,
            target_utilisation=realm.target_utilisation,
            max_servers=realm.max_servers_per_region,
            scale_down_window_s=realm.scale_down_window_s,
        )
        for r in realm.world.regions
        if r.kind is ServerKind.WORLD
    }

    async def queued() -> int:
        return await hot.queue_length(realm.name)

    try:
        await Supervisor(
            ProcessFleet(realm, hot), specs, realm=realm.name, queue_length=queued
        ).run(stop)
    finally:
        await hot.close()


async def run_distributed(
    realm: LocalDistributedRealm, n_bots: int, duration: float | None, stop: asyncio.Event
) -> dict[str, Any]:
    """`realm up --distributed`: start every role, run the bots as `realm up` does, wait
    for `duration` or `stop`, stop the roles in order; returns the exit summary."""
    started = time.monotonic()
    await realm.start()
    supervise = asyncio.create_task(_supervise(realm, stop)) if realm.autoscale else None
    print(f"realm {realm.name} is up (distributed: every role its own process)", file=sys.stderr)
    for c in realm.children:
        ports = ", ".join(f"{k} {v}" for k, v in sorted(c.ports.items()))
        print(f"  {c.name:<12} pid {c.proc.pid:<8} {ports}", file=sys.stderr)
    print(f"  gateway (HTTP)  {realm.gateway_url}", file=sys.stderr)
    print(f"  logs            {realm.log_dir}", file=sys.stderr)
    bot_json = realm.log_dir / "bots.json"
    bot_proc: asyncio.subprocess.Process | None = None
    try:
        if n_bots:
            walk = max(3.0, duration - 10.0) if duration else 10**6
            bot_proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "gameserver.cli.main",
                "bots",
                "--gateway",
                realm.gateway_url,
                "--count",
                str(n_bots),
                "--duration",
                str(walk),
                "--json",
                str(bot_json),
            )
        waits: list[asyncio.Task[Any]] = [asyncio.create_task(stop.wait())]
        if duration is not None:
            waits.append(asyncio.create_task(asyncio.sleep(duration)))
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for w in waits:
            w.cancel()
        if bot_proc is not None:
            if bot_proc.returncode is None and not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(bot_proc.wait(), timeout=15)
            if bot_proc.returncode is None:
                bot_proc.terminate()
                await bot_proc.wait()
    finally:
        if supervise is not None:
            supervise.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await supervise
        codes = await realm.stop()
    summary: dict[str, Any] = {
        "bots": n_bots,
        "bots_in_world": 0,
        "bots_saw_others": 0,
        "bot_errors": [],
        "uptime_s": round(time.monotonic() - started, 1),
        "exit_codes": codes,
    }
    if n_bots:
        try:
            data = json.loads(bot_json.read_text())
            summary.update(headline(data))
        except (OSError, ValueError, KeyError):
            summary["bot_errors"] = ["the bot process left no report"]
    bad = {k: v for k, v in codes.items() if v != 0}
    if bad:
        summary["bot_errors"] = [*summary["bot_errors"], f"roles did not stop cleanly: {bad}"]
    return summary
