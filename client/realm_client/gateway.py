"""The client's HTTP side: sign up, log in, list realms, check for and apply patches."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import aiohttp


class GatewayError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code


@dataclass(frozen=True, slots=True)
class Login:
    account_id: int
    conn_id: int
    token: bytes
    session_key: bytes
    expires_at_ms: int
    realm: str
    rcm_host: str
    rcm_port: int


class GatewayClient:
    def __init__(self, base_url: str, *, timeout_s: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s))

    async def __aenter__(self) -> GatewayClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._session.close()

    async def _json(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        async with self._session.request(method, self.base_url + path, json=body) as r:
            data = await r.json(content_type=None)
            if r.status >= 400:
                raise GatewayError(r.status, data.get("error", "error"), data.get("message", ""))
            return data

    async def signup(self, username: str, password: str) -> int:
        data = await self._json(
            "POST", "/v1/accounts", {"username": username, "password": password}
        )
        return int(data["account_id"])

    async def login(self, username: str, password: str) -> Login:
        d = await self._json("POST", "/v1/login", {"username": username, "password": password})
        return Login(
            account_id=int(d["account_id"]),
            conn_id=int(d["conn_id"]),
            token=base64.b64decode(d["token"]),
            session_key=base64.b64decode(d["session_key"]),
            expires_at_ms=int(d["expires_at_ms"]),
            realm=d["realm"],
            rcm_host=d["rcm"]["host"],
            rcm_port=int(d["rcm"]["port"]),
        )

    async def realms(self) -> list[dict[str, Any]]:
        return list(await self._json("GET", "/v1/realms"))

    async def manifest(self) -> dict[str, Any]:
        return dict(await self._json("GET", "/v1/patch/manifest"))

    async def download(self, rel_path: str) -> bytes:
        async with self._session.get(f"{self.base_url}/v1/patch/files/{rel_path}") as r:
            if r.status != 200:
                raise GatewayError(r.status, "not_found", rel_path)
            return await r.read()
