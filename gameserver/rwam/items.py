"""What the RWAM knows about items: a name, a level and a quality per item id.

The auction house searches by name and filters by level and quality, and mail shows what
is attached, so the RWAM needs a catalogue; the region server never does. This is the
starter set (the gear and consumables new characters get, plus a few drops); a studio
replaces `CATALOGUE` with its item database. Unknown ids still work, under a generic
name, so an item from a newer content patch is never stuck.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ItemInfo:
    item_id: int
    name: str
    level: int = 1
    quality: int = 1  # 0 poor, 1 common, 2 uncommon, 3 rare, 4 epic
    max_stack: int = 1


CATALOGUE: dict[int, ItemInfo] = {
    i.item_id: i
    for i in (
        ItemInfo(25, "Worn Shortsword"),
        ItemInfo(35, "Bent Staff"),
        ItemInfo(36, "Worn Mace"),
        ItemInfo(38, "Recruit's Shirt"),
        ItemInfo(39, "Recruit's Pants"),
        ItemInfo(40, "Recruit's Boots"),
        ItemInfo(43, "Squire's Boots"),
        ItemInfo(44, "Squire's Pants"),
        ItemInfo(45, "Squire's Shirt"),
        ItemInfo(47, "Footpad's Shoes"),
        ItemInfo(48, "Footpad's Pants"),
        ItemInfo(49, "Footpad's Shirt"),
        ItemInfo(51, "Neophyte's Boots"),
        ItemInfo(52, "Neophyte's Pants"),
        ItemInfo(53, "Neophyte's Shirt"),
        ItemInfo(55, "Apprentice's Boots"),
        ItemInfo(56, "Apprentice's Robe"),
        ItemInfo(57, "Acolyte's Robe"),
        ItemInfo(59, "Acolyte's Shoes"),
        ItemInfo(117, "Tough Jerky", max_stack=20),
        ItemInfo(129, "Rugged Trapper's Boots"),
        ItemInfo(147, "Rugged Trapper's Pants"),
        ItemInfo(148, "Rugged Trapper's Shirt"),
        ItemInfo(153, "Primitive Kilt"),
        ItemInfo(154, "Primitive Mantle"),
        ItemInfo(155, "Primitive Boots"),
        ItemInfo(159, "Refreshing Spring Water", max_stack=20),
        ItemInfo(1395, "Apprentice's Pants"),
        ItemInfo(1396, "Acolyte's Pants"),
        ItemInfo(2092, "Worn Dagger"),
        ItemInfo(2361, "Battleworn Hammer"),
        ItemInfo(2504, "Worn Shortbow"),
        ItemInfo(2589, "Linen Cloth", quality=1, max_stack=20),
        ItemInfo(2770, "Copper Ore", quality=1, max_stack=20),
        ItemInfo(3661, "Handcrafted Staff"),
        ItemInfo(6123, "Novice's Robe"),
        ItemInfo(6124, "Novice's Pants"),
        ItemInfo(6125, "Novice's Boots"),
        ItemInfo(6948, "Hearthstone", quality=1),
        ItemInfo(2176, "Dwarven Hand Cannon", level=12, quality=2),
        ItemInfo(1482, "Shadowfang", level=24, quality=3),
        ItemInfo(12282, "Worn Battleaxe"),
    )
}

#: Items bound to their owner: never mailed or auctioned.
SOULBOUND: frozenset[int] = frozenset({6948})


def item_info(item_id: int) -> ItemInfo:
    return CATALOGUE.get(item_id) or ItemInfo(item_id, f"Item {item_id}")
