"""The queue's WebSocket: `GET /v1/queue/{ticket}`, the client's view of its place.

A queued login gets a ticket; the client opens this socket with it and receives JSON
messages, pushed by the gateway as they change:

    {"status": "queued", "position": 17, "eta_s": 42.0}        (eta_s may be null)
    {"status": "admitted", ...the same fields as an admitted POST /v1/login...}
    {"status": "gone", "message": "..."}                        (then log in again)

The socket closes after `admitted` or `gone`. Closing it while still queued leaves the
queue. Anything the client sends is read and ignored (the socket's only input is its
closing), and a ticket that does not verify is refused before the upgrade.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import Callable
from typing import Any, Protocol

from aiohttp import web

from gameserver.gateway.accounts import AccountService, LoginGrant
from gameserver.gateway.login_queue.service import LoginQueue, WaiterStatus

HEARTBEAT_S = 20.0


class RealmAddress(Protocol):
    """Where admitted players connect (the gateway's `RealmInfo` fits)."""

    @property
    def name(self) -> str: ...
    @property
    def rcm_host(self) -> str: ...
    @property
    def rcm_port(self) -> int: ...


def grant_body(grant: LoginGrant, info: RealmAddress) -> dict[str, Any]:
    """An admitted login, exactly as `POST /v1/login` answers it."""
    return {
        "status": "admitted",
        "account_id": grant.account_id,
        "conn_id": grant.conn_id,
        "token": base64.b64encode(grant.token).decode(),
        "session_key": base64.b64encode(grant.session_key).decode(),
        "expires_at_ms": grant.expires_at_ms,
        "realm": info.name,
        "rcm": {"host": info.rcm_host, "port": info.rcm_port},
    }


async def _until_closed(ws: web.WebSocketResponse) -> None:
    async for _ in ws:
        pass


def add_queue_routes(
    app: web.Application,
    queue: LoginQueue,
    accounts: AccountService,
    realm_info: Callable[[], RealmAddress],
) -> None:
    async def follow(request: web.Request) -> web.StreamResponse:
        account_id = queue.ticket_account(request.match_info["ticket"])
        if account_id is None:
            return web.json_response(
                {"error": "bad_ticket", "message": "unknown or expired queue ticket"}, status=404
            )
        ws = web.WebSocketResponse(heartbeat=HEARTBEAT_S, max_msg_size=4096)
        await ws.prepare(request)
        waiter = await queue.attach(account_id)
        closed = asyncio.create_task(_until_closed(ws))
        try:
            while not ws.closed:
                if waiter.status is WaiterStatus.ADMITTED:
                    account = await accounts.store.get_account(account_id)
                    if account is None or account.banned:
                        await ws.send_json({"status": "gone", "message": "account unavailable"})
                    else:
                        await ws.send_json(grant_body(accounts.grant(account), realm_info()))
                    break
                if waiter.status is WaiterStatus.GONE:
                    await ws.send_json({"status": "gone", "message": waiter.reason})
                    break
                waiter.seen()
                await ws.send_json(
                    {
                        "status": "queued",
                        "position": waiter.position,
                        "eta_s": None if waiter.eta_s is None else round(waiter.eta_s, 1),
                    }
                )
                changed = asyncio.create_task(waiter.wait())
                await asyncio.wait({changed, closed}, return_when=asyncio.FIRST_COMPLETED)
                changed.cancel()
        except ConnectionResetError:
            pass
        finally:
            closed.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await closed
            await queue.detach(waiter)
            await ws.close()
        return ws

    app.router.add_get("/v1/queue/{ticket}", follow)
