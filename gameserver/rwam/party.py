"""Parties and raids: invite, accept, decline, leave, kick, leader, raid subgroups.

Groups are live state, not durable: they live in the RWAM's memory for as long as the
realm runs (a member who logs out stays in the group, shown offline, as players expect;
a realm restart disbands every group). One RWAM process owns them; `party_of` is the
read other services use (the OEM puts a party into the same dungeon instance with it).

A party holds up to 5; a raid up to 40, in 8 subgroups of 5. The leader invites, kicks,
promotes and converts to a raid; raid assistants may also invite and move members
between subgroups. Invitations expire after `INVITE_TTL_MS`.

Members see each other on the map across regions: `publish_positions` (on the RWAM's
timer) sends each online member the region and position of the others, asking a
`Locator` (the region servers) where each one stands.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from gameserver.rwam.errors import ActionError
from gameserver.rwam.limits import RateLimiter
from gameserver.rwam.notify import Notifier, Presence
from gameserver.rwam.rules import check_character_name

PARTY_MAX = 5
RAID_MAX = 40
SUBGROUPS = 8
SUBGROUP_SIZE = 5
INVITE_TTL_MS = 60_000
POSITIONS_PER_NOTICE = 10  # keeps one notice inside one datagram


class Locator(Protocol):
    def locate(self, character_id: int) -> tuple[str, float, float] | None:
        """(region, x, y) of an online character, or None."""
        ...


@dataclass(frozen=True, slots=True)
class PartyView:
    """A read-only picture of a group, for other services and for clients."""

    id: int
    leader: int
    members: tuple[int, ...]
    raid: bool
    subgroups: dict[int, int]  # member -> subgroup (1..8); all 1 in a party


@dataclass
class _Party:
    id: int
    leader: int
    members: list[int]
    raid: bool = False
    subgroup: dict[int, int] = field(default_factory=dict)
    assistants: set[int] = field(default_factory=set)

    def view(self) -> PartyView:
        return PartyView(
            self.id, self.leader, tuple(self.members), self.raid,
            {m: self.subgroup.get(m, 1) for m in self.members},
        )

    @property
    def capacity(self) -> int:
        return RAID_MAX if self.raid else PARTY_MAX

    def free_subgroup(self) -> int:
        if not self.raid:
            return 1
        for g in range(1, SUBGROUPS + 1):
            if sum(1 for v in self.subgroup.values() if v == g) < SUBGROUP_SIZE:
                return g
        raise ActionError("raid_full", "the raid is full")


@dataclass(frozen=True, slots=True)
class _Invite:
    inviter: int
    expires_ms: int


class PartyService:
    def __init__(
        self,
        presence: Presence,
        notifier: Notifier,
        clock: Callable[[], int],
        *,
        ignores: Callable[[int, int], bool] = lambda owner, other: False,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.presence = presence
        self.notifier = notifier
        self.clock = clock
        self._ignores = ignores
        self.limiter = limiter or RateLimiter({"invite": (0.5, 5.0)})
        self._ids = itertools.count(1)
        self._parties: dict[int, _Party] = {}
        self._of: dict[int, int] = {}  # character -> party id
        self._invites: dict[int, _Invite] = {}  # invitee -> invite
        self._names: dict[int, str] = {}  # group members' names, for offline members

    # --- reads ------------------------------------------------------------------------

    def party_of(self, character_id: int) -> PartyView | None:
        """The character's group, or None. For the OEM (same instance for a party)."""
        pid = self._of.get(character_id)
        return self._parties[pid].view() if pid is not None else None

    def _mine(self, character_id: int) -> _Party:
        pid = self._of.get(character_id)
        if pid is None:
            raise ActionError("not_in_party", "you are not in a group")
        return self._parties[pid]

    def _name(self, character_id: int) -> str:
        who = self.presence.get(character_id)
        if who is not None:
            self._names[character_id] = who.name
            return who.name
        return self._names.get(character_id, f"#{character_id}")

    def describe(self, party: PartyView) -> dict[str, Any]:
        return {
            "id": party.id,
            "leader": self._name(party.leader),
            "raid": party.raid,
            "members": [
                [self._name(m), party.subgroups[m], self.presence.is_online(m)]
                for m in party.members
            ],
        }

    def _broadcast(self, party: _Party, kind: str, body: dict[str, Any]) -> None:
        for m in party.members:
            self.notifier.notify(m, kind, body)

    def _changed(self, party: _Party) -> None:
        self._broadcast(party, "party_update", self.describe(party.view()))

    # --- invitations ------------------------------------------------------------------

    def invite(self, inviter: int, name: str) -> str:
        now = self.clock()
        target = self.presence.by_name(check_character_name(name))
        if target is None:
            raise ActionError("not_online", f"{name} is not online")
        if target.character_id == inviter:
            raise ActionError("self", "you cannot invite yourself")
        party = self._parties.get(self._of.get(inviter, -1))
        if party is not None:
            if inviter != party.leader and inviter not in party.assistants:
                raise ActionError("not_leader", "only the leader (or a raid assistant) invites")
            if len(party.members) >= party.capacity:
                raise ActionError("party_full", "your group is full")
        if target.character_id in self._of:
            raise ActionError("already_grouped", f"{target.name} is already in a group")
        pending = self._invites.get(target.character_id)
        if pending is not None and pending.expires_ms > now:
            raise ActionError("already_invited", f"{target.name} has an invitation pending")
        if not self.limiter.allow(inviter, "invite", now):
            raise ActionError("rate_limited", "you are sending invitations too fast")
        if self._ignores(target.character_id, inviter):
            raise ActionError("ignored", f"{target.name} is ignoring you")
        self._invites[target.character_id] = _Invite(inviter, now + INVITE_TTL_MS)
        self.notifier.notify(target.character_id, "party_invite", {"from": self._name(inviter)})
        return target.name

    def _take_invite(self, invitee: int) -> _Invite:
        inv = self._invites.pop(invitee, None)
        if inv is None or inv.expires_ms <= self.clock():
            raise ActionError("no_invite", "you have no pending invitation")
        return inv

    def accept(self, invitee: int) -> PartyView:
        inv = self._take_invite(invitee)
        if invitee in self._of:
            raise ActionError("already_grouped", "you are already in a group")
        pid = self._of.get(inv.inviter)
        if pid is None:
            if not self.presence.is_online(inv.inviter):
                raise ActionError("not_online", "the inviter has left")
            party = _Party(next(self._ids), inv.inviter, [inv.inviter], subgroup={inv.inviter: 1})
            self._parties[party.id] = party
            self._of[inv.inviter] = party.id
        else:
            party = self._parties[pid]
            if len(party.members) >= party.capacity:
                raise ActionError("party_full", "that group is full")
        party.subgroup[invitee] = party.free_subgroup()
        party.members.append(invitee)
        self._name(invitee), self._name(inv.inviter)  # remember both names
        self._of[invitee] = party.id
        self._changed(party)
        return party.view()

    def decline(self, invitee: int) -> None:
        inv = self._take_invite(invitee)
        self.notifier.notify(inv.inviter, "party_declined", {"name": self._name(invitee)})

    # --- membership -------------------------------------------------------------------

    def leave(self, character_id: int) -> None:
        self._remove(self._mine(character_id), character_id, "left")

    def kick(self, leader: int, name: str) -> None:
        party = self._mine(leader)
        if leader != party.leader:
            raise ActionError("not_leader", "only the leader can remove members")
        target = self._member(party, name)
        if target == leader:
            raise ActionError("self", "leave the group instead")
        self._remove(party, target, "kicked")

    def _member(self, party: _Party, name: str) -> int:
        key = check_character_name(name).casefold()
        for m in party.members:
            if self._name(m).casefold() == key:
                return m
        raise ActionError("not_member", f"{name} is not in your group")

    def _remove(self, party: _Party, character_id: int, why: str) -> None:
        party.members.remove(character_id)
        party.subgroup.pop(character_id, None)
        party.assistants.discard(character_id)
        del self._of[character_id]
        self._names.pop(character_id, None)
        self.notifier.notify(character_id, "party_left", {"reason": why})
        if len(party.members) < 2:
            for m in party.members:
                del self._of[m]
                self._names.pop(m, None)
                self.notifier.notify(m, "party_left", {"reason": "disbanded"})
            del self._parties[party.id]
            return
        if party.leader == character_id:
            online = [m for m in party.members if self.presence.is_online(m)]
            party.leader = (online or party.members)[0]
        self._changed(party)

    def promote(self, leader: int, name: str) -> None:
        party = self._mine(leader)
        if leader != party.leader:
            raise ActionError("not_leader", "only the leader can hand over the lead")
        party.leader = self._member(party, name)
        self._changed(party)

    def convert_to_raid(self, leader: int) -> PartyView:
        party = self._mine(leader)
        if leader != party.leader:
            raise ActionError("not_leader", "only the leader can form a raid")
        if party.raid:
            raise ActionError("already_raid", "the group is already a raid")
        party.raid = True
        party.subgroup = {m: 1 for m in party.members}
        self._changed(party)
        return party.view()

    def set_assistant(self, leader: int, name: str, on: bool) -> None:
        party = self._mine(leader)
        if leader != party.leader or not party.raid:
            raise ActionError("not_leader", "only a raid leader names assistants")
        target = self._member(party, name)
        (party.assistants.add if on else party.assistants.discard)(target)
        self._changed(party)

    def move_to_subgroup(self, mover: int, name: str, group: int) -> None:
        party = self._mine(mover)
        if not party.raid:
            raise ActionError("not_raid", "subgroups exist only in a raid")
        if mover != party.leader and mover not in party.assistants:
            raise ActionError("not_leader", "only the leader or an assistant moves members")
        if not 1 <= group <= SUBGROUPS:
            raise ActionError("bad_subgroup", f"subgroups are 1 to {SUBGROUPS}")
        target = self._member(party, name)
        if party.subgroup.get(target) == group:
            return
        if sum(1 for v in party.subgroup.values() if v == group) >= SUBGROUP_SIZE:
            raise ActionError("subgroup_full", f"subgroup {group} is full")
        party.subgroup[target] = group
        self._changed(party)

    def chat_members(self, character_id: int, channel: str) -> tuple[int, list[int]]:
        """(party id, members who hear it) for `party` (the speaker's subgroup in a raid)
        and `raid` (everyone)."""
        party = self._mine(character_id)
        if channel == "raid":
            if not party.raid:
                raise ActionError("not_raid", "you are not in a raid")
            return party.id, list(party.members)
        if party.raid:
            g = party.subgroup.get(character_id, 1)
            return party.id, [m for m in party.members if party.subgroup.get(m) == g]
        return party.id, list(party.members)

    # --- presence and the map ---------------------------------------------------------

    def presence_changed(self, character_id: int) -> None:
        pid = self._of.get(character_id)
        if pid is not None:
            self._changed(self._parties[pid])

    def expire_invites(self) -> None:
        now = self.clock()
        for who in [k for k, v in self._invites.items() if v.expires_ms <= now]:
            del self._invites[who]

    def publish_positions(self, locator: Locator) -> int:
        """Send each online member where the others stand; returns notices sent."""
        sent = 0
        for party in list(self._parties.values()):
            entries: list[list[Any]] = []
            for m in party.members:
                where = locator.locate(m) if self.presence.is_online(m) else None
                if where is not None:
                    region, x, y = where
                    entries.append([self._name(m), region, round(x, 1), round(y, 1)])
            if len(entries) < 2:
                continue
            for m in party.members:
                if not self.presence.is_online(m):
                    continue
                me = self._name(m)
                others = [e for e in entries if e[0] != me]
                for i in range(0, len(others), POSITIONS_PER_NOTICE):
                    chunk = others[i : i + POSITIONS_PER_NOTICE]
                    if self.notifier.notify(m, "party_positions", {"members": chunk}):
                        sent += 1
        return sent
