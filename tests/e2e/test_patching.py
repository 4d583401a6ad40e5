"""Client update check: the client hashes its files, compares with the patch server's
manifest, and downloads again only what differs."""

from __future__ import annotations

import hashlib
from pathlib import Path

import aiohttp
from realm_client import GatewayClient
from realm_client.patching import update

from gameserver.embedded.realm import EmbeddedRealm
from tests.conftest import realm_settings


async def test_update_downloads_only_changed_files_and_refuses_escapes(tmp_path: Path) -> None:
    patch = tmp_path / "patch"
    (patch / "data").mkdir(parents=True)
    (patch / "game.exe").write_bytes(b"v2 binary")
    (patch / "data" / "maps.bin").write_bytes(b"\x00\x01" * 1000)
    (tmp_path / "secret.txt").write_text("not served")
    client = tmp_path / "client"
    (client / "data").mkdir(parents=True)
    (client / "game.exe").write_bytes(b"v1 binary")  # stale
    (client / "data" / "maps.bin").write_bytes(b"\x00\x01" * 1000)  # current

    realm = EmbeddedRealm(realm_settings(tmp_path, patch_dir=patch, autoscale=False))
    await realm.start()
    try:
        assert realm.addresses is not None
        async with GatewayClient(realm.addresses.http) as gw:
            first = await update(gw, client)
            assert first.checked == 2 and first.downloaded == ("game.exe",)
            assert (client / "game.exe").read_bytes() == b"v2 binary"
            second = await update(gw, client)
            assert second.downloaded == ()
            manifest = await gw.manifest()
            want = hashlib.sha256(b"v2 binary").hexdigest()
            assert manifest["files"]["game.exe"]["sha256"] == want
        async with aiohttp.ClientSession() as http:
            for path in ("../secret.txt", "%2e%2e/secret.txt", "nope.bin"):
                async with http.get(f"{realm.addresses.http}/v1/patch/files/{path}") as r:
                    assert r.status == 404
    finally:
        await realm.stop()
