"""Domain errors across the wire: the same exception on both sides of a gRPC call.

A servicer that catches a domain error (`OemError`, `CharacterRuleError`, `ActionError`,
`InstanceError`, `LookupError`) aborts the call with a gRPC status and two trailing
metadata entries, the error's kind and its stable code; the client raises the same
exception type with the same code and message. Anything else a servicer raises is a bug:
it is logged where it happened and reaches the caller as `RemoteError` (status INTERNAL),
never as a hang. Transport failures (UNAVAILABLE, DEADLINE_EXCEEDED, CANCELLED) become
`ServiceUnavailable`.

Why metadata and not `google.rpc.Status` details: it needs no extra package
(grpcio-status), and a code plus a message is all these errors carry.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn, TypeVar

import grpc
from pydantic import ValidationError

from gameserver.api.errors import RemoteError, ServiceUnavailable
from gameserver.api.oem import OemError
from gameserver.oem.instances import InstanceError
from gameserver.rwam.characters import CharacterRuleError
from gameserver.rwam.errors import ActionError

log = logging.getLogger(__name__)

T = TypeVar("T")

KIND_KEY = "x-openrealm-error"
CODE_KEY = "x-openrealm-code"

_TRANSPORT = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.CANCELLED,
}


def _kind(e: BaseException) -> tuple[str, str, Any] | None:
    """(kind, code, gRPC status) of a domain error, or None for anything else."""
    if isinstance(e, OemError):
        return "oem", e.code, grpc.StatusCode.FAILED_PRECONDITION
    if isinstance(e, CharacterRuleError):
        return "character_rule", e.code, grpc.StatusCode.FAILED_PRECONDITION
    if isinstance(e, ActionError):
        return "action", e.code, grpc.StatusCode.FAILED_PRECONDITION
    if isinstance(e, InstanceError):
        return "instance", e.code, grpc.StatusCode.FAILED_PRECONDITION
    if isinstance(e, LookupError):
        return "lookup", "not_found", grpc.StatusCode.NOT_FOUND
    return None


def _rebuild(kind: str, code: str, message: str) -> Exception | None:
    if kind == "oem":
        return OemError(code, message)
    if kind == "character_rule":
        return CharacterRuleError(code, message)
    if kind == "action":
        return ActionError(code, message)
    if kind == "instance":
        return InstanceError(code, message)
    if kind == "lookup":
        return LookupError(message)
    return None


async def serve_call(context: Any, method: str, fn: Callable[[], Awaitable[T]]) -> T:
    """Run a servicer's body, turning its exceptions into a status the client maps back."""
    try:
        return await fn()
    except ValidationError as e:  # a record that does not validate: the caller's bug
        await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, f"bad record: {e}")
    except Exception as e:
        known = _kind(e)
        if known is None:
            log.exception("%s failed", method)
            await _abort(context, grpc.StatusCode.INTERNAL, f"{type(e).__name__}: {e}")
        kind, code, status = known
        await _abort(context, status, str(e), ((KIND_KEY, kind), (CODE_KEY, code)))


async def _abort(
    context: Any, status: Any, detail: str, metadata: tuple[tuple[str, str], ...] = ()
) -> NoReturn:
    await context.abort(status, detail[:2000], trailing_metadata=metadata)
    raise AssertionError("context.abort returned")  # pragma: no cover


def from_rpc_error(e: grpc.aio.AioRpcError, peer: str, method: str) -> Exception:
    """The exception a caller sees for a failed call."""
    meta = {k: v for k, v in (e.trailing_metadata() or ()) if isinstance(v, str)}
    kind = meta.get(KIND_KEY)
    detail = e.details() or ""
    if kind is not None:
        rebuilt = _rebuild(kind, meta.get(CODE_KEY, ""), detail)
        if rebuilt is not None:
            return rebuilt
    code = e.code()
    if code in _TRANSPORT:
        return ServiceUnavailable(peer, method, f"{code.name}: {detail}")
    return RemoteError(peer, method, code.name, detail)


def is_transient(e: grpc.aio.AioRpcError) -> bool:
    """Worth retrying an idempotent read: the peer was not reached (not a slow answer)."""
    return bool(e.code() == grpc.StatusCode.UNAVAILABLE)
