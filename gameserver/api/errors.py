"""Failures of a service boundary that are not the service's answer.

In-process calls never raise these. Over gRPC (`gameserver/rpc/`) a peer that is down,
unreachable or slower than the call's deadline raises `ServiceUnavailable`, so a caller can
tell "the OEM said no" (`OemError`) from "the OEM did not answer" and tell the player
which one happened, instead of waiting forever.
"""

from __future__ import annotations


class ServiceUnavailable(ConnectionError):
    """The peer did not answer within the call's deadline (down, unreachable, too slow)."""

    def __init__(self, peer: str, method: str, detail: str) -> None:
        super().__init__(f"{method} at {peer} unavailable: {detail}")
        self.peer = peer
        self.method = method
        self.detail = detail


class RemoteError(RuntimeError):
    """The peer failed while handling the call (a bug or a bad message), not a refusal."""

    def __init__(self, peer: str, method: str, status: str, detail: str) -> None:
        super().__init__(f"{method} at {peer} failed ({status}): {detail}")
        self.peer = peer
        self.method = method
        self.status = status
        self.detail = detail
