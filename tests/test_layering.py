"""Checked layering: the import contracts in pyproject.toml (import-linter) and ruff."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_hold() -> None:
    exe = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    r = subprocess.run([exe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 broken" in r.stdout


def test_operator_folder_does_not_shadow_the_stdlib() -> None:
    assert not (ROOT / "operator" / "__init__.py").exists()
    r = subprocess.run(
        [sys.executable, "-c", "import operator; print(operator.__file__)"],
        cwd=ROOT, capture_output=True, text=True, timeout=30,
    )
    assert "site-packages" not in r.stdout and str(ROOT / "operator") not in r.stdout
    assert r.stdout.strip().endswith("operator.py")


def test_ruff_is_clean() -> None:
    exe = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    r = subprocess.run([exe, "check", "."], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-1000:]
