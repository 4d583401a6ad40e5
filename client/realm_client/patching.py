"""Client update check: hash every local file, compare with the patch server's manifest,
download again what differs. A file is replaced atomically (written beside, then renamed)
and its hash checked before it replaces the old one."""

from __future__ import annotations

import asyncio
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from realm_client.gateway import GatewayClient


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 16), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True, slots=True)
class PatchResult:
    checked: int
    downloaded: tuple[str, ...]


def stale_files(root: Path, manifest: dict[str, dict[str, object]]) -> list[str]:
    stale = []
    for rel, entry in sorted(manifest.items()):
        local = root / rel
        if not local.is_file() or _sha256(local) != entry["sha256"]:
            stale.append(rel)
    return stale


def _install(root: Path, rel: str, data: bytes, sha256: str) -> None:
    """Check and write one downloaded file (beside its target, then renamed over it)."""
    target = (root / rel).resolve()
    if root.resolve() not in target.parents:
        raise ValueError(f"patch path escapes the client directory: {rel}")
    if hashlib.sha256(data).hexdigest() != sha256:
        raise ValueError(f"downloaded {rel} does not match the manifest")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".part")
    tmp.write_bytes(data)
    os.replace(tmp, target)


async def update(gateway: GatewayClient, root: Path) -> PatchResult:
    """Bring the client directory `root` up to the patch server's manifest. Hashing and
    writing run in a worker thread: a game client's event loop must keep ticking."""
    manifest = (await gateway.manifest())["files"]
    todo = await asyncio.to_thread(stale_files, root, manifest)
    for rel in todo:
        data = await gateway.download(rel)
        await asyncio.to_thread(_install, root, rel, data, str(manifest[rel]["sha256"]))
    return PatchResult(len(manifest), tuple(todo))
