"""The client's game connection to the RCM over UDP.

A thin asyncio shell around the sans-I/O `Connection` from the wire layer: it opens the
connection with the login token (resending the hello until welcomed), pairs requests with
responses by request id over the reliable channel, sends input frames unreliably, and hands
every snapshot to the caller.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import socket
import time
from collections.abc import Callable
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from gameserver.wire.connection import Connection
from gameserver.wire.datagram import Drop
from gameserver.wire.errors import WireError
from gameserver.wire.messages import (
    Disconnect,
    EnterWorldResult,
    Envelope,
    Hello,
    Inputs,
    Message,
    Snapshot,
    Welcome,
)
from realm_client.gateway import Login

log = logging.getLogger(__name__)


class ConnectionClosed(Exception):
    pass


class RealmConnection(asyncio.DatagramProtocol):
    def __init__(self, login: Login, on_snapshot: Callable[[Snapshot], None] | None = None) -> None:
        self.login = login
        self.conn = Connection(login.session_key, login.conn_id, is_client=True)
        self.on_snapshot = on_snapshot
        self.transport: asyncio.DatagramTransport | None = None
        self._request_ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[Message]] = {}
        self._welcome: asyncio.Future[Welcome] | None = None
        self._timer: asyncio.Task[None] | None = None
        self.closed_reason: str | None = None
        self.on_moved: Callable[[EnterWorldResult], None] | None = None
        self.moves = 0
        self.dropped = 0

    @classmethod
    async def open(
        cls,
        login: Login,
        on_snapshot: Callable[[Snapshot], None] | None = None,
        *,
        timeout_s: float = 5.0,
    ) -> RealmConnection:
        loop = asyncio.get_running_loop()
        self = cls(login, on_snapshot)
        await loop.create_datagram_endpoint(
            lambda: self, remote_addr=(login.rcm_host, login.rcm_port), family=socket.AF_INET
        )
        self._welcome = loop.create_future()
        deadline = loop.time() + timeout_s
        while not self._welcome.done():
            if loop.time() > deadline:
                self.close()
                raise TimeoutError("the realm did not answer the hello")
            self._send(
                self.conn.hello(
                    login.token, Hello(client_version="openrealm-client/0.1"), now=time.monotonic()
                )
            )
            try:
                await asyncio.wait_for(asyncio.shield(self._welcome), timeout=0.5)
            except TimeoutError:
                continue
        self._timer = loop.create_task(self._run_timers())
        return self

    # --- asyncio glue -------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Any) -> None:
        try:
            env = self.conn.receive(data, time.monotonic())
        except (Drop, WireError):
            self.dropped += 1
            return
        if env is not None:
            self._dispatch(env)

    def error_received(self, exc: Exception) -> None:
        log.debug("udp error: %s", exc)

    def _send(self, payload: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(payload)

    def _dispatch(self, env: Envelope) -> None:
        msg = env.msg
        if isinstance(msg, Snapshot):
            if self.on_snapshot is not None:
                self.on_snapshot(msg)
            return
        if isinstance(msg, EnterWorldResult) and env.request_id == 0:
            # Unsolicited: the realm moved the character to another server (a border
            # crossing, a drain, an instance). Same character, same input sequence; a new
            # entity id and region.
            self.moves += 1
            if self.on_moved is not None:
                self.on_moved(msg)
            return
        if isinstance(msg, Welcome):
            if self._welcome is not None and not self._welcome.done():
                self._welcome.set_result(msg)
            return
        if isinstance(msg, Disconnect):
            self.closed_reason = msg.reason or "disconnected"
            for fut in self._waiting.values():
                if not fut.done():
                    fut.set_exception(ConnectionClosed(self.closed_reason))
            return
        waiter = self._waiting.get(env.request_id)
        if waiter is not None and not waiter.done():
            waiter.set_result(msg)

    async def _run_timers(self) -> None:
        while self.transport is not None and not self.transport.is_closing():
            for payload in self.conn.poll(time.monotonic()):
                self._send(payload)
            await asyncio.sleep(0.05)

    # --- the API --------------------------------------------------------------------------
    async def request(self, msg: Message, *, timeout_s: float = 10.0) -> Message:
        """Send `msg` reliably and wait for the response that carries its request id."""
        if self.closed_reason is not None:
            raise ConnectionClosed(self.closed_reason)
        rid = next(self._request_ids)
        fut: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._waiting[rid] = fut
        self._send(self.conn.send(msg, reliable=True, request_id=rid, now=time.monotonic()))
        try:
            return await asyncio.wait_for(fut, timeout=timeout_s)
        finally:
            self._waiting.pop(rid, None)

    def send_inputs(self, frames: npt.NDArray[np.void]) -> None:
        self._send(self.conn.send(Inputs(frames=frames), now=time.monotonic()))

    def send_raw(self, payload: bytes) -> None:
        """Put bytes on the wire as they are (tests use it to replay or corrupt datagrams)."""
        self._send(payload)

    def close(self) -> None:
        if self.transport is not None:
            if not self.transport.is_closing():
                self._send(self.conn.send(Disconnect(reason="bye"), now=time.monotonic()))
            self.transport.close()
        if self._timer is not None:
            self._timer.cancel()
