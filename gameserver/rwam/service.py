"""The realm-wide actions manager: everything that does not depend on where a player
stands. This first version owns characters; mail, auctions, friends, party and guilds join
it behind the same service boundary.
"""

from __future__ import annotations

from gameserver.rwam.characters import DEFAULT_BLACKLIST, CharacterRuleError, new_character
from gameserver.storage.interfaces import CharacterStore, Conflict
from gameserver.storage.models import Character
from gameserver.world.map import WorldMap


class RwamService:
    def __init__(
        self,
        db: CharacterStore,
        world: WorldMap,
        *,
        max_characters_per_account: int = 10,
        blacklist: frozenset[str] = DEFAULT_BLACKLIST,
    ) -> None:
        self.db = db
        self.world = world
        self.max_characters = max_characters_per_account
        self.blacklist = blacklist

    async def list_characters(self, account_id: int) -> list[Character]:
        return await self.db.list_characters(account_id)

    async def create_character(
        self, account_id: int, name: str, race: str, char_class: str
    ) -> Character:
        spec = new_character(name, race, char_class, self.world, self.blacklist)
        if len(await self.db.list_characters(account_id)) >= self.max_characters:
            raise CharacterRuleError(
                "too_many", f"an account may have at most {self.max_characters} characters"
            )
        try:
            return await self.db.create_character(
                account_id, spec.name, spec.race, spec.char_class, spec.faction, spec.state
            )
        except Conflict as e:
            raise CharacterRuleError("name_taken", f"the name {spec.name} is taken") from e

    async def owned_character(self, account_id: int, character_id: int) -> Character:
        ch = await self.db.get_character(character_id)
        if ch is None or ch.account_id != account_id:
            raise CharacterRuleError("no_such_character", "no such character on this account")
        return ch
