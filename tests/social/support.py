"""Helpers the realm-actions tests share."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from gameserver.storage.realmdata import EconomyAudit


def items_multiset(audit: EconomyAudit) -> Counter[tuple[str, int, int]]:
    every = [*audit.character_items, *(h.item for h in audit.held_items)]
    return Counter((it.uid, it.item_id, it.count) for it in every)


def assert_conserved(start: EconomyAudit, end: EconomyAudit) -> None:
    """The conservation invariant: gold (with the sinks) and the item multiset are what
    they were, and no uid is in two places."""
    assert end.total_gold == start.total_gold, (start, end)
    after = items_multiset(end)
    assert after == items_multiset(start)
    assert all(n == 1 for n in after.values()), "an item is in two places"


async def call(actions: Any, cid: int, op: str, **body: Any) -> dict[str, Any]:
    """Call `RealmActions.handle` like the RCM does; raise on a refusal."""
    ok, code, message, text = await actions.handle(cid, op, json.dumps(body))
    if not ok:
        raise AssertionError(f"{op} refused: {code}: {message}")
    return json.loads(text) if text else {}


async def refused(actions: Any, cid: int, op: str, **body: Any) -> str:
    ok, code, _message, _ = await actions.handle(cid, op, json.dumps(body))
    assert not ok, f"{op} was expected to fail"
    return code
