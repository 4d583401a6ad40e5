"""Friend and ignore lists.

Both are durable (`relations`), both are per character, both are capped. Friends see
each other's online status: the list answers with it, and a character entering or
leaving the world tells everyone who lists it (`announce`). Ignore lists are consulted
on every chat line, whisper, invite and mail, so the lists of online characters are
cached here and kept in step with every change made through this service.
"""

from __future__ import annotations

from dataclasses import dataclass

from gameserver.rwam.errors import ActionError
from gameserver.rwam.notify import Notifier, Presence
from gameserver.rwam.rules import check_character_name
from gameserver.storage.interfaces import Conflict, LimitReached, NotFound, RealmDatabase
from gameserver.storage.realmdata import RelationKind

FRIENDS_MAX = 50
IGNORES_MAX = 50


@dataclass(frozen=True, slots=True)
class FriendStatus:
    character_id: int
    name: str
    online: bool


class FriendService:
    def __init__(self, db: RealmDatabase, presence: Presence, notifier: Notifier) -> None:
        self.db = db
        self.presence = presence
        self.notifier = notifier
        self._ignoring: dict[int, set[int]] = {}  # online character -> whom it ignores

    async def _other(self, character_id: int, name: str) -> tuple[int, str]:
        clean = check_character_name(name)
        other = await self.db.get_character_by_name(clean)
        if other is None:
            raise ActionError("no_such_character", f"there is no character called {clean}")
        if other.id == character_id:
            raise ActionError("self", "that is you")
        return other.id, other.name

    async def _add(self, character_id: int, name: str, kind: RelationKind, limit: int) -> str:
        other_id, other_name = await self._other(character_id, name)
        try:
            await self.db.add_relation(character_id, other_id, kind, limit)
        except Conflict as e:
            raise ActionError(f"already_{kind.value}", f"{other_name} is already listed") from e
        except LimitReached as e:
            raise ActionError("list_full", f"your {kind.value} list is full ({limit})") from e
        except NotFound as e:
            raise ActionError("no_such_character", f"there is no character called {name}") from e
        if kind is RelationKind.IGNORE and character_id in self._ignoring:
            self._ignoring[character_id].add(other_id)
        return other_name

    async def _remove(self, character_id: int, name: str, kind: RelationKind) -> str:
        other_id, other_name = await self._other(character_id, name)
        if not await self.db.remove_relation(character_id, other_id, kind):
            raise ActionError(f"not_{kind.value}", f"{other_name} is not on your list")
        if kind is RelationKind.IGNORE:
            self._ignoring.get(character_id, set()).discard(other_id)
        return other_name

    async def add_friend(self, character_id: int, name: str) -> str:
        return await self._add(character_id, name, RelationKind.FRIEND, FRIENDS_MAX)

    async def remove_friend(self, character_id: int, name: str) -> str:
        return await self._remove(character_id, name, RelationKind.FRIEND)

    async def ignore(self, character_id: int, name: str) -> str:
        return await self._add(character_id, name, RelationKind.IGNORE, IGNORES_MAX)

    async def unignore(self, character_id: int, name: str) -> str:
        return await self._remove(character_id, name, RelationKind.IGNORE)

    async def friends(self, character_id: int) -> list[FriendStatus]:
        rels = await self.db.relations(character_id, RelationKind.FRIEND)
        return [
            FriendStatus(r.other_id, r.other_name, self.presence.is_online(r.other_id))
            for r in rels
        ]

    async def ignores(self, character_id: int) -> list[str]:
        return [r.other_name for r in await self.db.relations(character_id, RelationKind.IGNORE)]

    async def ignores_id(self, owner_id: int, other_id: int) -> bool:
        """Does `owner_id` ignore `other_id`? Cached for online owners."""
        cached = self._ignoring.get(owner_id)
        if cached is not None:
            return other_id in cached
        return await self.db.has_relation(owner_id, other_id, RelationKind.IGNORE)

    def ignores_cached(self, owner_id: int, other_id: int) -> bool:
        """The cached answer for an online owner (fan-out paths: no database per line)."""
        return other_id in self._ignoring.get(owner_id, ())

    # --- presence -----------------------------------------------------------------------

    async def entered(self, character_id: int, name: str) -> None:
        ignored = await self.db.relations(character_id, RelationKind.IGNORE)
        self._ignoring[character_id] = {r.other_id for r in ignored}
        await self._announce(character_id, name, True)

    async def left(self, character_id: int, name: str) -> None:
        self._ignoring.pop(character_id, None)
        await self._announce(character_id, name, False)

    async def _announce(self, character_id: int, name: str, online: bool) -> None:
        for owner in await self.db.related_to(character_id, RelationKind.FRIEND):
            if self.presence.is_online(owner):
                self.notifier.notify(owner, "friend_status", {"name": name, "online": online})
