"""How the RWAM reaches players, and who is online.

The RWAM never holds a connection. It calls a `Notifier` (character id, notice kind, a
small JSON-able body) and whoever holds the player's connection delivers it over the
reliable channel: in the embedded realm the RCM itself; in a distributed realm a gRPC
client that forwards to the RCM named in the player's route. The seam is one method so a
transport can implement it without knowing any notice.

`Presence` is the RWAM's view of who is in the world (the RCM reports enter and leave):
friend lists show it, whispers and invites need it, and it is how notices find a
character at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


class Notifier(Protocol):
    def notify(self, character_id: int, kind: str, body: Mapping[str, Any]) -> bool:
        """Queue a notice for the character's session; False if it has none here."""
        ...


@dataclass(frozen=True, slots=True)
class Sent:
    character_id: int
    kind: str
    body: Mapping[str, Any]


@dataclass
class RecordingNotifier:
    """A `Notifier` for tests (and for a headless realm): keeps every notice."""

    online: set[int] | None = None  # None: everyone counts as reachable
    sent: list[Sent] = field(default_factory=list)

    def notify(self, character_id: int, kind: str, body: Mapping[str, Any]) -> bool:
        if self.online is not None and character_id not in self.online:
            return False
        self.sent.append(Sent(character_id, kind, dict(body)))
        return True

    def of(self, character_id: int, kind: str | None = None) -> list[Mapping[str, Any]]:
        return [
            s.body
            for s in self.sent
            if s.character_id == character_id and (kind is None or s.kind == kind)
        ]

    def clear(self) -> None:
        self.sent.clear()


@dataclass(frozen=True, slots=True)
class Online:
    character_id: int
    account_id: int
    name: str


class Presence:
    """Characters in the world right now, by id and by casefolded name."""

    def __init__(self) -> None:
        self._by_id: dict[int, Online] = {}
        self._by_name: dict[str, int] = {}

    def enter(self, who: Online) -> None:
        self._by_id[who.character_id] = who
        self._by_name[who.name.casefold()] = who.character_id

    def leave(self, character_id: int) -> Online | None:
        who = self._by_id.pop(character_id, None)
        if who is not None and self._by_name.get(who.name.casefold()) == character_id:
            del self._by_name[who.name.casefold()]
        return who

    def get(self, character_id: int) -> Online | None:
        return self._by_id.get(character_id)

    def by_name(self, name: str) -> Online | None:
        cid = self._by_name.get(name.casefold())
        return self._by_id.get(cid) if cid is not None else None

    def is_online(self, character_id: int) -> bool:
        return character_id in self._by_id

    def __len__(self) -> int:
        return len(self._by_id)
