"""The one error type of realm-wide actions.

Every rule a request can break raises `ActionError(code, message)`: `code` is stable and
machine-readable (clients and tests branch on it), `message` is shown to the player. The
RCM turns it into a failed `RwamResult`; nothing else about a refusal leaves the RWAM.
"""

from __future__ import annotations


class ActionError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __repr__(self) -> str:
        return f"ActionError({self.code!r}, {self.message!r})"
