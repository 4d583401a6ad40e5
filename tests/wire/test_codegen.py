"""The checked-in generated code matches the schema, and codegen refuses a wrong flatc."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

import pytest

from gameserver.wire import codegen


def test_generated_code_is_fresh() -> None:
    assert codegen.is_fresh(), (
        "gameserver/wire/fb/ is stale: run `realm dev gen-wire` "
        "(or gameserver.wire.codegen.generate(repo_root))"
    )


def test_stale_copy_is_detected(tmp_path: Path) -> None:
    copy = tmp_path / "fb"
    shutil.copytree(codegen.FB_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert codegen.is_fresh(copy)
    target = copy / "Snapshot.py"
    target.write_bytes(target.read_bytes().replace(b"* 20", b"* 24"))
    assert not codegen.is_fresh(copy)
    target.unlink()
    assert not codegen.is_fresh(copy)


def test_generate_writes_only_the_fb_package(tmp_path: Path) -> None:
    keep = tmp_path / "gameserver" / "wire" / "__init__.py"
    keep.parent.mkdir(parents=True)
    keep.write_text("KEEP = 1\n")
    stale = tmp_path / "gameserver" / "wire" / "fb" / "Removed.py"
    stale.parent.mkdir()
    stale.write_text("old\n")
    codegen.generate(tmp_path)
    assert keep.read_text() == "KEEP = 1\n"  # flatc would have emptied it
    assert not stale.exists()
    assert codegen.is_fresh(tmp_path / "gameserver" / "wire" / "fb")


def test_wrong_flatc_version_is_a_clear_error(tmp_path: Path) -> None:
    fake = tmp_path / "flatc"
    fake.write_text("#!/bin/sh\necho 'flatc version 1.0.0'\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    with pytest.raises(codegen.CodegenError, match=r"1\.0\.0"):
        codegen.generate(tmp_path / "out", flatc=str(fake))
    with pytest.raises(codegen.CodegenError):
        codegen.is_fresh(flatc=str(tmp_path / "missing"))
