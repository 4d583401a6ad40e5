"""The client's HTTP side: sign up, log in, list realms, check for and apply patches.

A login may have to wait in the realm's login queue: the gateway then answers `queued`
with a ticket, and `login` follows the queue over a WebSocket (`GET /v1/queue/{ticket}`),
reporting each new position to an optional callback, until the gateway sends the login
grant. Callers see one `login()` that returns when the player is admitted.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable
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


@dataclass(frozen=True, slots=True)
class QueueUpdate:
    """Where a queued login stands: `position` 1 is next; `eta_s` is None while the
    gateway has no estimate (the queue has not moved lately)."""

    position: int
    eta_s: float | None


QueueCallback = Callable[[QueueUpdate], None]


def _queue_update(d: dict[str, Any]) -> QueueUpdate:
    eta = d.get("eta_s")
    return QueueUpdate(int(d["position"]), None if eta is None else float(eta))


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

    async def login(
        self,
        username: str,
        password: str,
        *,
        on_queue: QueueCallback | None = None,
        queue_timeout_s: float | None = None,
    ) -> Login:
        """Log in; if the realm is full, wait in its queue (at most `queue_timeout_s`,
        forever by default), calling `on_queue` with each position the gateway pushes."""
        d = await self._json("POST", "/v1/login", {"username": username, "password": password})
        if d.get("status") == "queued":
            first = _queue_update(d)
            if on_queue is not None:
                on_queue(first)
            d = await asyncio.wait_for(
                self._await_admission(str(d["queue_path"]), on_queue, first), queue_timeout_s
            )
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

    async def _await_admission(
        self, path: str, on_queue: QueueCallback | None, last: QueueUpdate | None
    ) -> Any:
        if on_queue is not None:
            told = on_queue

            def changed(update: QueueUpdate) -> None:  # the socket repeats the POST's place
                nonlocal last
                if update != last:
                    last = update
                    told(update)

            on_queue = changed
        timeout = aiohttp.ClientWSTimeout(ws_receive=None, ws_close=5.0)
        async with self._session.ws_connect(self.base_url + path, timeout=timeout) as ws:
            async for msg in ws:
                if msg.type is not aiohttp.WSMsgType.TEXT:
                    continue
                d = json.loads(msg.data)
                status = d.get("status")
                if status == "admitted":
                    return d
                if status == "queued":
                    if on_queue is not None:
                        on_queue(_queue_update(d))
                    continue
                raise GatewayError(410, "queue_gone", str(d.get("message", "")))
        raise GatewayError(503, "queue_closed", "the gateway closed the queue connection")

    async def realms(self) -> list[dict[str, Any]]:
        return list(await self._json("GET", "/v1/realms"))

    async def manifest(self) -> dict[str, Any]:
        return dict(await self._json("GET", "/v1/patch/manifest"))

    async def download(self, rel_path: str) -> bytes:
        async with self._session.get(f"{self.base_url}/v1/patch/files/{rel_path}") as r:
            if r.status != 200:
                raise GatewayError(r.status, "not_found", rel_path)
            return await r.read()
