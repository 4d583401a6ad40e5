"""The command line: help that explains, one-line errors, and `realm up` end to end."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

REALM = [sys.executable, "-m", "gameserver.cli.main"]


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*REALM, *args], capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("cmd", [[], ["up"], ["bots"], ["db", "migrate"], ["dev", "gen-wire"]])
def test_help_explains_itself(cmd: list[str]) -> None:
    r = run(*cmd, "--help")
    assert r.returncode == 0
    assert "Usage:" in r.stdout and len(r.stdout.splitlines()) > 3


@pytest.mark.parametrize(
    "args",
    [
        ["up", "--bots", "many"],
        ["up", "--no-such-flag"],
        ["nonsense"],
        ["up", "--http-port", "70000"],
    ],
)
def test_wrong_arguments_give_one_line_errors(args: list[str]) -> None:
    r = run(*args)
    assert r.returncode == 2
    err = r.stderr.strip().splitlines()
    assert len(err) == 1 and "error" in err[0]
    assert "Traceback" not in r.stderr


def test_realm_up_with_bots_plays_the_journey(tmp_path: Path) -> None:
    summary = tmp_path / "s.json"
    r = run(
        "up",
        "--data-dir",
        str(tmp_path / "data"),
        "--http-port",
        "0",
        "--udp-port",
        "0",
        "--metrics-port",
        "0",
        "--bots",
        "6",
        "--duration",
        "14",
        "--summary-json",
        str(summary),
        "--no-status",
        timeout=90,
    )
    assert r.returncode == 0, r.stderr
    s = json.loads(summary.read_text())
    assert s["bots"] == 6 and s["bots_in_world"] == 6 and s["bots_saw_others"] == 6
    assert s["ticks"] > 14 * 20 and s["tick_p99_ms"] > 0
    assert s["characters_saved"] == 6
    db = sqlite3.connect(tmp_path / "data" / "realm.sqlite3")
    assert db.execute("select count(*) from characters").fetchone() == (6,)


async def test_realm_up_on_postgres_and_redis_plays_the_same_journey(
    tmp_path: Path, postgres_url: str, redis_url: str
) -> None:
    import asyncio
    import uuid

    import asyncpg

    summary = tmp_path / "s.json"
    name = f"pg{uuid.uuid4().hex[:8]}"
    proc = await asyncio.create_subprocess_exec(
        *REALM,
        "up",
        "--name",
        name,
        "--postgres",
        postgres_url,
        "--redis",
        redis_url,
        "--data-dir",
        str(tmp_path / "unused"),
        "--http-port",
        "0",
        "--udp-port",
        "0",
        "--metrics-port",
        "0",
        "--bots",
        "6",
        "--duration",
        "14",
        "--summary-json",
        str(summary),
        "--no-status",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), 90)
    assert proc.returncode == 0, err.decode()[-3000:]
    s = json.loads(summary.read_text())
    assert s["bots_in_world"] == 6 and s["bots_saw_others"] == 6
    assert s["characters_saved"] == 6
    assert not (tmp_path / "unused" / "realm.sqlite3").exists()  # nothing went to SQLite
    conn = await asyncpg.connect(postgres_url)
    try:
        assert await conn.fetchval("select count(*) from characters") == 6
        assert await conn.fetchval("select count(*) from accounts") == 6
    finally:
        await conn.close()


@pytest.mark.parametrize(
    ("flag", "url", "host"),
    [
        ("--postgres", "postgresql://postgres@127.0.0.1:1/none", "127.0.0.1:1"),
        ("--redis", "redis://127.0.0.1:1/0", "127.0.0.1:1"),
    ],
)
def test_an_unreachable_store_is_a_clear_error_at_start(
    tmp_path: Path, flag: str, url: str, host: str
) -> None:
    r = run(
        "up",
        flag,
        url,
        "--data-dir",
        str(tmp_path),
        "--http-port",
        "0",
        "--udp-port",
        "0",
        "--metrics-port",
        "0",
        "--no-status",
        "--duration",
        "5",
        timeout=60,
    )
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    assert host in r.stderr and "error" in r.stderr


def test_db_migrate_creates_and_upgrades_in_place(tmp_path: Path) -> None:
    r = run("db", "migrate", "--data-dir", str(tmp_path))
    assert r.returncode == 0, r.stderr
    version = int(r.stdout.strip().split()[-1])
    assert version >= 3
    db = sqlite3.connect(tmp_path / "realm.sqlite3")
    assert db.execute("select max(version) from schema_migrations").fetchone() == (version,)
    db.close()
    again = run("db", "migrate", "--data-dir", str(tmp_path))  # already current: unchanged
    assert again.returncode == 0 and again.stdout == r.stdout


def test_settings_from_a_config_file_env_and_flags(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gameserver.config import RealmSettings

    cfg = tmp_path / "realm.toml"
    cfg.write_text('name = "fromfile"\nhttp_port = 9001\nmax_players = 50\ntick_rate = 30\n')
    monkeypatch.setenv("REALM_MAX_PLAYERS", "70")
    s = RealmSettings.load(cfg, tick_rate=25)
    assert s.name == "fromfile" and s.http_port == 9001  # the file
    assert s.max_players == 70  # the environment beats the file
    assert s.tick_rate == 25  # a flag beats both
    cfg.write_text("http_port = 99999\n")
    r = run("up", "--config", str(cfg), "--no-status", "--duration", "1")
    assert r.returncode == 2 and "http_port" in r.stderr and "Traceback" not in r.stderr


def test_snapshot_settings_default_to_every_other_tick_and_must_fit_a_datagram(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pydantic import ValidationError

    from gameserver.config import RealmSettings

    for key in ("REALM_SNAPSHOT_EVERY", "REALM_SNAPSHOT_BUDGET_BYTES"):
        monkeypatch.delenv(key, raising=False)
    s = RealmSettings()
    assert (s.snapshot_every, s.snapshot_budget_bytes) == (2, 200)
    monkeypatch.setenv("REALM_SNAPSHOT_EVERY", "1")
    monkeypatch.setenv("REALM_SNAPSHOT_BUDGET_BYTES", "300")
    s = RealmSettings.load(None, snapshot_every=3)  # the flag beats the environment
    assert (s.snapshot_every, s.snapshot_budget_bytes) == (3, 300)
    with pytest.raises(ValidationError, match="1500 bytes per snapshot"):
        RealmSettings(snapshot_every=5)  # 5 x 300 does not fit one datagram
    monkeypatch.delenv("REALM_SNAPSHOT_BUDGET_BYTES")
    with pytest.raises(ValidationError, match="100 bytes per snapshot"):
        RealmSettings(snapshot_every=1, snapshot_budget_bytes=100)
