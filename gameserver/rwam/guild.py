"""Guilds: create, invite, ranks with permissions, promote, demote, kick, MOTD, chat.

Membership, ranks and the message of the day are durable (`guilds`, `guild_ranks`,
`guild_members`); invitations are live state with an expiry. Rank 0 is the guild master,
larger numbers are lower ranks; each rank carries a `Perm` bit set. The rule for acting
on another member is WoW's: you need the permission, and the target must rank strictly
below you; you can promote someone at most to just below yourself.

The guild of each online character is cached (`_guild_of`), so guild chat and notices
find the online members without a query per line.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass

from gameserver.rwam.errors import ActionError
from gameserver.rwam.limits import RateLimiter
from gameserver.rwam.notify import Notifier, Presence
from gameserver.rwam.rules import check_character_name, check_text
from gameserver.storage.interfaces import Conflict, NotFound, RealmDatabase
from gameserver.storage.realmdata import Guild, GuildMember, GuildRank

GUILD_NAME_MIN, GUILD_NAME_MAX = 3, 24
_GUILD_NAME = re.compile(r"^[A-Za-z]+( [A-Za-z]+)*$")
MOTD_MAX = 128  # bytes
RANK_NAME_MAX = 24  # bytes
INVITE_TTL_MS = 120_000
MAX_RANKS = 10


class Perm(enum.IntFlag):
    GUILD_CHAT_LISTEN = 1
    GUILD_CHAT_SPEAK = 2
    OFFICER_CHAT = 4
    INVITE = 8
    KICK = 16
    PROMOTE = 32
    DEMOTE = 64
    SET_MOTD = 128
    EDIT_RANKS = 256


ALL_PERMS = Perm(sum(Perm))
MEMBER = Perm.GUILD_CHAT_LISTEN | Perm.GUILD_CHAT_SPEAK

DEFAULT_RANKS: tuple[GuildRank, ...] = (
    GuildRank(rank=0, name="Guild Master", permissions=int(ALL_PERMS)),
    GuildRank(
        rank=1, name="Officer",
        permissions=int(
            MEMBER | Perm.OFFICER_CHAT | Perm.INVITE | Perm.KICK | Perm.PROMOTE
            | Perm.DEMOTE | Perm.SET_MOTD
        ),
    ),
    GuildRank(rank=2, name="Veteran", permissions=int(MEMBER | Perm.INVITE)),
    GuildRank(rank=3, name="Member", permissions=int(MEMBER)),
    GuildRank(rank=4, name="Initiate", permissions=int(MEMBER)),
)


def check_guild_name(raw: str) -> str:
    name = " ".join(raw.split())
    if not GUILD_NAME_MIN <= len(name) <= GUILD_NAME_MAX or not _GUILD_NAME.match(name):
        raise ActionError(
            "bad_guild_name",
            f"guild names are {GUILD_NAME_MIN}-{GUILD_NAME_MAX} letters,"
            " single spaces between words",
        )
    return name


@dataclass(frozen=True, slots=True)
class _Invite:
    guild_id: int
    inviter: int
    expires_ms: int


class GuildService:
    def __init__(
        self,
        db: RealmDatabase,
        presence: Presence,
        notifier: Notifier,
        clock: Callable[[], int],
        *,
        ignores: Callable[[int, int], bool] = lambda owner, other: False,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.db = db
        self.presence = presence
        self.notifier = notifier
        self.clock = clock
        self._ignores = ignores
        self.limiter = limiter or RateLimiter({"guild": (1.0, 10.0)})
        self._guild_of: dict[int, int] = {}  # online character -> guild id
        self._invites: dict[int, _Invite] = {}

    # --- reads ------------------------------------------------------------------------

    async def _membership(self, character_id: int) -> tuple[GuildMember, GuildRank]:
        member = await self.db.guild_member(character_id)
        if member is None:
            raise ActionError("not_in_guild", "you are not in a guild")
        ranks = {r.rank: r for r in await self.db.guild_ranks(member.guild_id)}
        return member, ranks.get(member.rank, GuildRank(rank=member.rank, name="?", permissions=0))

    async def _require(self, character_id: int, perm: Perm) -> tuple[GuildMember, GuildRank]:
        member, rank = await self._membership(character_id)
        if not Perm(rank.permissions) & perm:
            raise ActionError("no_permission", f"your rank may not do that ({perm.name})")
        return member, rank

    async def info(self, character_id: int) -> tuple[Guild, GuildMember, list[GuildRank]]:
        member, _ = await self._membership(character_id)
        guild = await self.db.get_guild(member.guild_id)
        if guild is None:
            raise ActionError("not_in_guild", "your guild is gone")
        return guild, member, await self.db.guild_ranks(member.guild_id)

    async def roster(
        self, character_id: int, offset: int, limit: int
    ) -> tuple[list[tuple[GuildMember, bool]], int]:
        member, _ = await self._membership(character_id)
        members = await self.db.guild_members(member.guild_id)
        page = members[offset : offset + limit]
        return [(m, self.presence.is_online(m.character_id)) for m in page], len(members)

    def guild_of(self, character_id: int) -> int | None:
        """The guild of an online character (cached)."""
        return self._guild_of.get(character_id)

    def online_members(self, guild_id: int) -> list[int]:
        return [c for c, g in self._guild_of.items() if g == guild_id]

    async def can(self, character_id: int, perm: Perm) -> bool:
        try:
            await self._require(character_id, perm)
        except ActionError:
            return False
        return True

    def _tell_guild(self, guild_id: int, kind: str, body: dict[str, object]) -> None:
        for cid in self.online_members(guild_id):
            self.notifier.notify(cid, kind, body)

    # --- founding and membership ------------------------------------------------------

    async def create(self, founder: int, raw_name: str) -> Guild:
        name = check_guild_name(raw_name)
        if await self.db.guild_member(founder) is not None:
            raise ActionError("already_in_guild", "leave your guild first")
        try:
            guild = await self.db.create_guild(name, founder, list(DEFAULT_RANKS), self.clock())
        except Conflict as e:
            code = "already_in_guild" if "already" in str(e) else "guild_name_taken"
            raise ActionError(code, str(e)) from e
        if self.presence.is_online(founder):
            self._guild_of[founder] = guild.id
        return guild

    async def invite(self, inviter: int, name: str) -> str:
        member, _ = await self._require(inviter, Perm.INVITE)
        now = self.clock()
        if not self.limiter.allow(inviter, "guild", now):
            raise ActionError("rate_limited", "you are sending invitations too fast")
        target = self.presence.by_name(check_character_name(name))
        if target is None:
            raise ActionError("not_online", f"{name} is not online")
        if await self.db.guild_member(target.character_id) is not None:
            raise ActionError("already_in_guild", f"{target.name} is already in a guild")
        if self._ignores(target.character_id, inviter):
            raise ActionError("ignored", f"{target.name} is ignoring you")
        guild = await self.db.get_guild(member.guild_id)
        assert guild is not None
        self._invites[target.character_id] = _Invite(guild.id, inviter, now + INVITE_TTL_MS)
        inviter_name = member.name
        self.notifier.notify(
            target.character_id, "guild_invite", {"guild": guild.name, "from": inviter_name}
        )
        return target.name

    async def accept(self, character_id: int) -> Guild:
        inv = self._invites.pop(character_id, None)
        if inv is None or inv.expires_ms <= self.clock():
            raise ActionError("no_invite", "you have no pending guild invitation")
        ranks = await self.db.guild_ranks(inv.guild_id)
        if not ranks:
            raise ActionError("no_such_guild", "that guild is gone")
        try:
            await self.db.add_guild_member(inv.guild_id, character_id, ranks[-1].rank, self.clock())
        except Conflict as e:
            raise ActionError("already_in_guild", "you are already in a guild") from e
        except NotFound as e:
            raise ActionError("no_such_guild", "that guild is gone") from e
        guild = await self.db.get_guild(inv.guild_id)
        if guild is None:
            raise ActionError("no_such_guild", "that guild is gone")
        if self.presence.is_online(character_id):
            self._guild_of[character_id] = guild.id
        who = self.presence.get(character_id)
        self._tell_guild(guild.id, "guild_joined", {"name": who.name if who else "?"})
        return guild

    def decline(self, character_id: int) -> None:
        if self._invites.pop(character_id, None) is None:
            raise ActionError("no_invite", "you have no pending guild invitation")

    async def leave(self, character_id: int) -> None:
        member, _ = await self._membership(character_id)
        members = await self.db.guild_members(member.guild_id)
        if member.rank == 0:
            if len(members) > 1:
                raise ActionError("leader_must_hand_over", "name a new guild master first")
            await self.db.delete_guild(member.guild_id)
        else:
            await self.db.remove_guild_member(member.guild_id, character_id)
        self._guild_of.pop(character_id, None)
        self._tell_guild(member.guild_id, "guild_left", {"name": member.name})

    async def disband(self, character_id: int) -> None:
        member, _ = await self._membership(character_id)
        if member.rank != 0:
            raise ActionError("no_permission", "only the guild master can disband the guild")
        self._tell_guild(member.guild_id, "guild_disbanded", {})
        await self.db.delete_guild(member.guild_id)
        for cid in self.online_members(member.guild_id):
            self._guild_of.pop(cid, None)

    async def _target(self, actor: GuildMember, name: str) -> GuildMember:
        other = await self.db.get_character_by_name(check_character_name(name))
        target = await self.db.guild_member(other.id) if other is not None else None
        if target is None or target.guild_id != actor.guild_id:
            raise ActionError("not_member", f"{name} is not in your guild")
        if target.character_id == actor.character_id:
            raise ActionError("self", "not on yourself")
        if target.rank <= actor.rank:
            raise ActionError("rank_too_high", f"{target.name} does not rank below you")
        return target

    async def kick(self, actor_id: int, name: str) -> None:
        actor, _ = await self._require(actor_id, Perm.KICK)
        target = await self._target(actor, name)
        await self.db.remove_guild_member(actor.guild_id, target.character_id)
        self._guild_of.pop(target.character_id, None)
        self.notifier.notify(target.character_id, "guild_left", {"name": target.name})
        self._tell_guild(actor.guild_id, "guild_left", {"name": target.name})

    async def promote(self, actor_id: int, name: str) -> int:
        actor, _ = await self._require(actor_id, Perm.PROMOTE)
        target = await self._target(actor, name)
        new_rank = target.rank - 1
        if new_rank <= actor.rank:
            raise ActionError("rank_too_high", "you can promote only to just below your rank")
        await self.db.set_member_rank(actor.guild_id, target.character_id, new_rank)
        self._tell_guild(actor.guild_id, "guild_rank", {"name": target.name, "rank": new_rank})
        return new_rank

    async def demote(self, actor_id: int, name: str) -> int:
        actor, _ = await self._require(actor_id, Perm.DEMOTE)
        target = await self._target(actor, name)
        lowest = max(r.rank for r in await self.db.guild_ranks(actor.guild_id))
        if target.rank >= lowest:
            raise ActionError("lowest_rank", f"{target.name} already has the lowest rank")
        new_rank = target.rank + 1
        await self.db.set_member_rank(actor.guild_id, target.character_id, new_rank)
        self._tell_guild(actor.guild_id, "guild_rank", {"name": target.name, "rank": new_rank})
        return new_rank

    async def set_leader(self, leader_id: int, name: str) -> None:
        actor, _ = await self._membership(leader_id)
        if actor.rank != 0:
            raise ActionError("no_permission", "only the guild master can hand over the guild")
        target = await self._target(actor, name)
        await self.db.set_guild_leader(actor.guild_id, leader_id, target.character_id)
        self._tell_guild(actor.guild_id, "guild_leader", {"name": target.name})

    async def set_motd(self, actor_id: int, motd: str) -> None:
        actor, _ = await self._require(actor_id, Perm.SET_MOTD)
        text = check_text(motd, "the message of the day", max_bytes=MOTD_MAX, allow_empty=True)
        await self.db.set_motd(actor.guild_id, text)
        self._tell_guild(actor.guild_id, "guild_motd", {"motd": text})

    async def set_rank(self, actor_id: int, rank: int, name: str, permissions: int) -> None:
        actor, _ = await self._require(actor_id, Perm.EDIT_RANKS)
        if not 1 <= rank < MAX_RANKS:
            raise ActionError("bad_rank", f"ranks 1..{MAX_RANKS - 1} can be edited")
        if permissions < 0 or permissions & ~int(ALL_PERMS):
            raise ActionError("bad_permissions", "unknown permission bits")
        ranks = await self.db.guild_ranks(actor.guild_id)
        if rank > max(r.rank for r in ranks) + 1:
            raise ActionError("bad_rank", "add ranks one below the lowest")
        clean = check_text(name, "the rank name", max_bytes=RANK_NAME_MAX)
        await self.db.set_rank(
            actor.guild_id, GuildRank(rank=rank, name=clean, permissions=permissions)
        )

    # --- presence -----------------------------------------------------------------------

    async def entered(self, character_id: int) -> str | None:
        """Cache the character's guild; returns the MOTD to show it, if any."""
        member = await self.db.guild_member(character_id)
        if member is None:
            return None
        self._guild_of[character_id] = member.guild_id
        guild = await self.db.get_guild(member.guild_id)
        return guild.motd if guild is not None and guild.motd else None

    def left(self, character_id: int) -> None:
        self._guild_of.pop(character_id, None)
        self._invites.pop(character_id, None)
