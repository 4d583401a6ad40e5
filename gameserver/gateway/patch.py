"""The patch server's manifest: sha256 and size of every client file.

The client hashes its own files and downloads again only those whose hash differs
(client/realm_client/patching.py). The manifest is computed once at start; paths are
relative, with forward slashes, and never leave the patch directory.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from pydantic import BaseModel


class FileEntry(BaseModel):
    sha256: str
    size: int


class Manifest(BaseModel):
    version: str
    files: dict[str, FileEntry]


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 16), b""):
            h.update(chunk)
    return h.hexdigest()


def build_manifest(root: Path | None) -> Manifest:
    files: dict[str, FileEntry] = {}
    if root is not None and root.is_dir():
        for p in sorted(root.rglob("*")):
            if p.is_file() and not p.is_symlink():
                rel = p.relative_to(root).as_posix()
                files[rel] = FileEntry(sha256=sha256_file(p), size=p.stat().st_size)
    digest = hashlib.sha256(
        "".join(f"{k}:{v.sha256}" for k, v in files.items()).encode()
    ).hexdigest()
    return Manifest(version=digest[:16], files=files)


def resolve(root: Path, rel: str) -> Path | None:
    """The file for a manifest path, or None if it is not one (no escaping the root)."""
    candidate = (root / rel).resolve()
    try:
        candidate.relative_to(root.resolve())
    except ValueError:
        return None
    return candidate if candidate.is_file() else None
