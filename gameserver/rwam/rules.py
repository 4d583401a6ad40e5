"""Input rules every realm-wide action shares: amounts, text, names.

Pure functions raising `ActionError`, so each service validates the same way and the
rules are tested without a database.
"""

from __future__ import annotations

import unicodedata

from gameserver.rwam.characters import NAME_MAX, NAME_MIN, normalise_name
from gameserver.rwam.errors import ActionError

#: The most gold (in copper) a character, a mail or an auction may hold: fits a signed
#: 32-bit column in any client, far above what play produces.
MAX_GOLD = 2**31 - 1


def check_amount(value: int, what: str, *, allow_zero: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ActionError("bad_amount", f"{what} must be a whole number")
    if value < 0 or (value == 0 and not allow_zero):
        raise ActionError("bad_amount", f"{what} must be more than zero")
    if value > MAX_GOLD:
        raise ActionError("bad_amount", f"{what} may be at most {MAX_GOLD}")
    return value


def check_text(raw: str, what: str, *, max_bytes: int, allow_empty: bool = False) -> str:
    """Trim, refuse control characters (they break logs and chat frames), cap the UTF-8
    size (what the wire carries), and refuse empty text unless allowed."""
    text = unicodedata.normalize("NFC", raw).strip()
    if not text and not allow_empty:
        raise ActionError("empty_text", f"{what} may not be empty")
    if any(unicodedata.category(c) in ("Cc", "Cf") and c != "\n" for c in text):
        raise ActionError("bad_text", f"{what} may not contain control characters")
    if len(text.encode("utf-8")) > max_bytes:
        raise ActionError("text_too_long", f"{what} may be at most {max_bytes} bytes")
    return text


def check_character_name(raw: str) -> str:
    """A name to look up (not to create): the same normal form as creation stores."""
    name = normalise_name(raw)
    if not NAME_MIN <= len(name) <= NAME_MAX or not name.isalpha() or not name.isascii():
        raise ActionError("no_such_character", f"there is no character called {raw!r}")
    return name
