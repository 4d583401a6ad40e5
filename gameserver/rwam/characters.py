"""Character creation rules: what a well-formed, allowed character is, and what it starts
with. Pure functions, so the rules are tested without a database and the same checks run
wherever the RWAM runs.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from dataclasses import dataclass

from gameserver.storage.models import CharacterState, ItemStack
from gameserver.world.map import WorldMap

RACES: dict[str, str] = {
    "human": "alliance",
    "dwarf": "alliance",
    "nightelf": "alliance",
    "gnome": "alliance",
    "orc": "horde",
    "undead": "horde",
    "tauren": "horde",
    "troll": "horde",
}

CLASSES: dict[str, frozenset[str]] = {
    "warrior": frozenset(RACES),
    "paladin": frozenset({"human", "dwarf"}),
    "hunter": frozenset({"dwarf", "nightelf", "orc", "tauren", "troll"}),
    "rogue": frozenset({"human", "dwarf", "nightelf", "gnome", "orc", "undead", "troll"}),
    "priest": frozenset({"human", "dwarf", "nightelf", "undead", "troll"}),
    "shaman": frozenset({"orc", "tauren", "troll"}),
    "mage": frozenset({"human", "gnome", "undead", "troll"}),
    "warlock": frozenset({"human", "gnome", "orc", "undead"}),
    "druid": frozenset({"nightelf", "tauren"}),
}

# item ids of the gear each class starts wearing: (item_id, slot)
STARTING_GEAR: dict[str, tuple[tuple[int, str], ...]] = {
    "warrior": ((25, "main_hand"), (38, "chest"), (39, "legs"), (40, "feet")),
    "paladin": ((2361, "main_hand"), (45, "chest"), (44, "legs"), (43, "feet")),
    "hunter": ((2504, "ranged"), (148, "chest"), (147, "legs"), (129, "feet")),
    "rogue": ((2092, "main_hand"), (49, "chest"), (48, "legs"), (47, "feet")),
    "priest": ((36, "main_hand"), (53, "chest"), (52, "legs"), (51, "feet")),
    "shaman": ((36, "main_hand"), (154, "chest"), (153, "legs"), (155, "feet")),
    "mage": ((35, "main_hand"), (56, "chest"), (1395, "legs"), (55, "feet")),
    "warlock": ((2092, "main_hand"), (57, "chest"), (1396, "legs"), (59, "feet")),
    "druid": ((3661, "main_hand"), (6123, "chest"), (6124, "legs"), (6125, "feet")),
}

STARTING_ITEMS: tuple[tuple[int, int], ...] = (
    (117, 4),
    (159, 2),
    (6948, 1),
)  # bread, water, hearthstone

# Copper a new character starts with: enough for its first auction deposits and mail.
STARTING_GOLD = 1000

NAME_MIN, NAME_MAX = 2, 12
_NAME_RE = re.compile(r"^[A-Za-z]+$")

# Words no character name may contain. A studio extends this list (or loads its own).
DEFAULT_BLACKLIST: frozenset[str] = frozenset(
    {"admin", "gamemaster", "moderator", "support", "blizzard", "fuck", "shit", "nazi", "hitler"}
)


class CharacterRuleError(ValueError):
    """The request was well-formed but broke a rule; the message is shown to the player."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class NewCharacter:
    name: str
    race: str
    char_class: str
    faction: str
    state: CharacterState


def normalise_name(raw: str) -> str:
    """Names are stored capitalised ("Matt"), so "matt" and "MATT" are the same name."""
    return unicodedata.normalize("NFKC", raw).strip().capitalize()


def check_name(raw: str, blacklist: frozenset[str] = DEFAULT_BLACKLIST) -> str:
    name = normalise_name(raw)
    if not NAME_MIN <= len(name) <= NAME_MAX:
        raise CharacterRuleError("name_length", f"names are {NAME_MIN} to {NAME_MAX} letters long")
    if not _NAME_RE.match(name):
        raise CharacterRuleError("name_letters", "names may contain only the letters A-Z")
    lowered = name.lower()
    if re.search(r"(.)\1\1", lowered):
        raise CharacterRuleError(
            "name_repeats", "a name may not repeat a letter three times in a row"
        )
    for word in blacklist:
        if word in lowered:
            raise CharacterRuleError("name_blacklisted", "that name is not allowed")
    return name


def new_character(
    name: str,
    race: str,
    char_class: str,
    world: WorldMap,
    blacklist: frozenset[str] = DEFAULT_BLACKLIST,
) -> NewCharacter:
    """Validate a creation request and build the character's first saved state."""
    clean = check_name(name, blacklist)
    race_k, class_k = race.strip().lower(), char_class.strip().lower()
    faction = RACES.get(race_k)
    if faction is None:
        raise CharacterRuleError("bad_race", f"unknown race {race!r}; one of {', '.join(RACES)}")
    allowed = CLASSES.get(class_k)
    if allowed is None:
        raise CharacterRuleError(
            "bad_class", f"unknown class {char_class!r}; one of {', '.join(CLASSES)}"
        )
    if race_k not in allowed:
        raise CharacterRuleError("bad_combination", f"a {race_k} cannot be a {class_k}")
    start = world.starts[faction]
    items = [
        ItemStack(uid=uuid.uuid4().hex, item_id=item_id, count=1, slot=slot)
        for item_id, slot in STARTING_GEAR[class_k]
    ] + [ItemStack(uid=uuid.uuid4().hex, item_id=i, count=n) for i, n in STARTING_ITEMS]
    state = CharacterState(
        region=start.region, x=start.x, y=start.y, facing=start.facing, items=tuple(items),
        gold=STARTING_GOLD,
    )
    return NewCharacter(clean, race_k, class_k, faction, state)
