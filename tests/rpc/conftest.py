"""The gRPC servers the transport tests start on localhost, stopped after each test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from gameserver.rpc.transport import start_server

Register = Callable[[Any], object]


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Register], Awaitable[str]]]:
    """Start a server with what `register` adds on a free port; its address."""
    servers: list[Any] = []

    async def start(register: Register) -> str:
        server, port = await start_server(register, "127.0.0.1", 0)
        servers.append(server)
        return f"127.0.0.1:{port}"

    yield start
    for s in servers:
        await s.stop(None)
