"""Channels, servers and calls: the gRPC settings every client and server share.

- Every call has a deadline (`deadline_s`); a peer that is down fails the call at once with
  UNAVAILABLE (no `wait_for_ready`), one that hangs fails it at the deadline. Either way
  the caller gets `ServiceUnavailable` naming the peer and the method.
- Idempotent reads retry on UNAVAILABLE with exponential backoff inside the same overall
  deadline; writes are never retried here (a retried `EnterWorld` could place twice).
- Keepalive pings on both ends, so a long-lived `Link` stream notices a peer that vanished
  without closing its TCP connection (a pulled cable, a killed VM) within seconds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc

from gameserver.api.errors import ServiceUnavailable
from gameserver.rpc.errors import from_rpc_error, is_transient

T = TypeVar("T")

MAX_MESSAGE = 16 * 1024 * 1024

CHANNEL_OPTIONS: list[tuple[str, Any]] = [
    ("grpc.keepalive_time_ms", 10_000),
    ("grpc.keepalive_timeout_ms", 5_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 2_000),
    ("grpc.max_receive_message_length", MAX_MESSAGE),
    ("grpc.max_send_message_length", MAX_MESSAGE),
    ("grpc.enable_retries", 0),  # retries are ours, only for idempotent reads
]

SERVER_OPTIONS: list[tuple[str, Any]] = [
    ("grpc.keepalive_time_ms", 10_000),
    ("grpc.keepalive_timeout_ms", 5_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_recv_ping_interval_without_data_ms", 5_000),
    ("grpc.http2.max_ping_strikes", 0),
    ("grpc.max_receive_message_length", MAX_MESSAGE),
    ("grpc.max_send_message_length", MAX_MESSAGE),
]


def open_channel(address: str) -> Any:
    """An insecure channel to `host:port` (the realm's internal network; mTLS belongs to the
    deployment, e.g. a service mesh)."""
    return grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS)


def bind_server(host: str, port: int) -> tuple[Any, int]:
    """A grpc.aio server bound to `host:port` (0 picks a free port), not yet started: the
    caller learns its port (a region server heartbeats it as its address) before it
    builds the servicers, adds them, and starts it."""
    server = grpc.aio.server(options=SERVER_OPTIONS)
    bound = server.add_insecure_port(f"{host}:{port}")
    if bound == 0:
        raise OSError(f"cannot bind gRPC on {host}:{port}")
    return server, int(bound)


async def start_server(register: Callable[[Any], object], host: str, port: int) -> tuple[Any, int]:
    """Create a grpc.aio server, let `register` add servicers, bind and start it; returns
    the server and the bound port (`port` 0 picks a free one)."""
    server, bound = bind_server(host, port)
    register(server)
    await server.start()
    return server, bound


async def call(
    fn: Callable[..., Awaitable[T]],
    request: Any,
    *,
    peer: str,
    method: str,
    deadline_s: float,
    idempotent: bool = False,
    metadata: tuple[tuple[str, str], ...] | None = None,
) -> T:
    """One unary call with a deadline; idempotent calls retry transient failures with
    backoff until the deadline. Raises the domain error the peer raised, or
    `ServiceUnavailable`/`RemoteError`."""
    deadline = time.monotonic() + deadline_s
    delay = 0.05
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ServiceUnavailable(peer, method, f"no answer within {deadline_s:g} s")
        try:
            return await fn(request, timeout=remaining, metadata=metadata)
        except grpc.aio.AioRpcError as e:
            if not (idempotent and is_transient(e)) or deadline - time.monotonic() <= delay:
                raise from_rpc_error(e, peer, method) from None
        await asyncio.sleep(delay)
        delay = min(delay * 2, 1.0)
