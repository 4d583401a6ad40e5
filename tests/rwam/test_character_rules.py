"""Character creation rules, without a database."""

from __future__ import annotations

import pytest

from gameserver.rwam.characters import CharacterRuleError, check_name, new_character
from gameserver.world.map import DEFAULT_MAP


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("a", "name_length"),
        ("abcdefghijklm", "name_length"),
        ("ab1", "name_letters"),
        ("Jo hn", "name_letters"),
        ("Baaad", "name_repeats"),
        ("Superadmin", "name_blacklisted"),
    ],
)
def test_bad_names(raw: str, code: str) -> None:
    with pytest.raises(CharacterRuleError) as e:
        check_name(raw)
    assert e.value.code == code


def test_names_are_normalised() -> None:
    assert check_name("  mATT ") == "Matt"


def test_new_character_gets_faction_start_and_class_gear() -> None:
    c = new_character("Thrall", "orc", "shaman", DEFAULT_MAP)
    assert c.faction == "horde"
    start = DEFAULT_MAP.starts["horde"]
    assert (c.state.region, c.state.x, c.state.y) == (start.region, start.x, start.y)
    worn = {i.slot for i in c.state.items if i.slot}
    assert {"main_hand", "chest", "legs", "feet"} <= worn
    assert len({i.uid for i in c.state.items}) == len(c.state.items)


def test_race_class_rules() -> None:
    with pytest.raises(CharacterRuleError) as e:
        new_character("Bob", "tauren", "mage", DEFAULT_MAP)
    assert e.value.code == "bad_combination"
