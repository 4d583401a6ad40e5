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
