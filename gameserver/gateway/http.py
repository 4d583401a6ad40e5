"""The gateway's HTTP API (aiohttp): accounts, login, realm list, patch manifest and files.

Handlers parse the body into a pydantic model (a bad body is a 400 naming the field), call
the account service, and map its errors to status codes. Nothing here knows about storage
backends or UDP.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, Field, ValidationError

from gameserver.gateway.accounts import AccountError, AccountService
from gameserver.gateway.login_queue import LoginQueue
from gameserver.gateway.login_queue.web import add_queue_routes
from gameserver.gateway.patch import Manifest, resolve

M = TypeVar("M", bound=BaseModel)

MAX_BODY = 16 * 1024


class Credentials(BaseModel):
    username: str = Field(max_length=64)
    password: str = Field(max_length=256)


@dataclass(frozen=True, slots=True)
class RealmInfo:
    """What the realm list shows, computed on request."""

    name: str
    rcm_host: str
    rcm_port: int
    online: int
    capacity: int


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": code, "message": message}, status=status)


async def _parse(request: web.Request, model: type[M]) -> M:
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise web.HTTPRequestEntityTooLarge(max_size=MAX_BODY, actual_size=request.content_length)
    try:
        raw = await request.read()
        return model.model_validate_json(raw)
    except ValidationError as e:
        first = e.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "body"
        raise web.HTTPBadRequest(
            text=f'{{"error":"bad_request","message":"{field}: {first["msg"]}"}}',
            content_type="application/json",
        ) from e


def build_app(
    accounts: AccountService,
    realm_info: Callable[[], RealmInfo],
    manifest: Manifest,
    patch_dir: Path | None,
    login_queue: LoginQueue | None = None,
) -> web.Application:
    """With a `login_queue`, a login beyond the realm's seats answers `status: queued` and
    the client follows its place on `GET /v1/queue/{ticket}` (see `login_queue.web`)."""
    app = web.Application(client_max_size=MAX_BODY)

    async def signup(request: web.Request) -> web.Response:
        body = await _parse(request, Credentials)
        try:
            account = await accounts.signup(body.username, body.password)
        except AccountError as e:
            return _error(e.status, e.code, str(e))
        return web.json_response(
            {"account_id": account.id, "username": account.username}, status=201
        )

    async def login(request: web.Request) -> web.Response:
        body = await _parse(request, Credentials)
        try:
            account = await accounts.check_credentials(body.username, body.password)
        except AccountError as e:
            return _error(e.status, e.code, str(e))
        if login_queue is not None:
            try:
                queued = await login_queue.login(account.id)
            except AccountError as e:
                return _error(e.status, e.code, str(e))
            if queued is not None:
                return web.json_response(queued.body())
        grant = accounts.grant(account)
        info = realm_info()
        return web.json_response(
            {
                "status": "admitted",
                "account_id": grant.account_id,
                "conn_id": grant.conn_id,
                "token": base64.b64encode(grant.token).decode(),
                "session_key": base64.b64encode(grant.session_key).decode(),
                "expires_at_ms": grant.expires_at_ms,
                "realm": info.name,
                "rcm": {"host": info.rcm_host, "port": info.rcm_port},
            }
        )

    async def realms(_: web.Request) -> web.Response:
        info = realm_info()
        return web.json_response(
            [
                {
                    "name": info.name,
                    "rcm": {"host": info.rcm_host, "port": info.rcm_port},
                    "online": info.online,
                    "capacity": info.capacity,
                    "status": "up",
                }
            ]
        )

    async def patch_manifest(_: web.Request) -> web.Response:
        return web.json_response(manifest.model_dump())

    async def patch_file(request: web.Request) -> web.StreamResponse:
        rel = request.match_info["path"]
        if patch_dir is None or rel not in manifest.files:
            return _error(404, "not_found", "no such patch file")
        path = resolve(patch_dir, rel)
        if path is None:
            return _error(404, "not_found", "no such patch file")
        return web.FileResponse(path)

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    handlers: list[tuple[str, str, Callable[[web.Request], Awaitable[Any]]]] = [
        ("POST", "/v1/accounts", signup),
        ("POST", "/v1/login", login),
        ("GET", "/v1/realms", realms),
        ("GET", "/v1/patch/manifest", patch_manifest),
        ("GET", "/v1/patch/files/{path:.+}", patch_file),
        ("GET", "/healthz", healthz),
    ]
    for method, path, handler in handlers:
        app.router.add_route(method, path, handler)
    if login_queue is not None:
        add_queue_routes(app, login_queue, accounts, realm_info)
    return app
