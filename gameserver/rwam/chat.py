"""Chat: say, yell, whisper, party, raid, guild, officer and named channels.

Who hears a line depends on the channel. `say` and `yell` are local: the region server
that simulates the speaker answers who stands within `SAY_RADIUS`/`YELL_RADIUS`
(`AreaOfInterest`, the speaker's own area of interest). Every other channel is
realm-wide and resolved here: the whisper's target by name, the party or raid from
`PartyService`, the guild's online members from `GuildService`, a named channel's
members from its roster here. Lines are delivered as `chat` notices over each
listener's reliable channel.

Every line passes the same gate: text rules (no control characters, at most
`TEXT_MAX` bytes), a per-character token bucket, and the listener's ignore list. The
last `HISTORY` lines of each realm-wide channel are kept (not whispers, not local
chat) so a player who joins or reconnects can catch up (`history`).
"""

from __future__ import annotations

import inspect
import re
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from gameserver import metrics
from gameserver.rwam.errors import ActionError
from gameserver.rwam.friends import FriendService
from gameserver.rwam.guild import GuildService, Perm
from gameserver.rwam.limits import RateLimiter
from gameserver.rwam.notify import Notifier, Presence
from gameserver.rwam.party import PartyService
from gameserver.rwam.rules import check_character_name, check_text

TEXT_MAX = 255  # bytes
HISTORY = 50
SAY_RADIUS = 40.0
YELL_RADIUS = 150.0
CHANNEL_MAX_JOINED = 10
CHANNEL_MAX_MEMBERS = 500
_CHANNEL_NAME = re.compile(r"^[A-Za-z0-9]{2,24}$")
CHANNELS = ("say", "yell", "whisper", "party", "raid", "guild", "officer", "channel")


class AreaOfInterest(Protocol):
    def nearby(
        self, character_id: int, radius: float
    ) -> list[int] | Awaitable[list[int]]:
        """Characters within `radius` of the speaker on its region server (itself
        included); empty if it is not in the world. Awaitable when the region server is
        in another process."""
        ...


@dataclass(frozen=True, slots=True)
class ChatLine:
    seq: int
    channel: str  # "guild", "party", "channel:trade", ...
    sender: str
    text: str
    at_ms: int

    def body(self) -> dict[str, object]:
        return {
            "seq": self.seq, "channel": self.channel, "from": self.sender,
            "text": self.text, "at": self.at_ms,
        }


class ChatService:
    def __init__(
        self,
        presence: Presence,
        notifier: Notifier,
        aoi: AreaOfInterest,
        friends: FriendService,
        parties: PartyService,
        guilds: GuildService,
        clock: Callable[[], int],
        *,
        limiter: RateLimiter | None = None,
        realm: str = "home",
    ) -> None:
        self.presence = presence
        self.notifier = notifier
        self.aoi = aoi
        self.friends = friends
        self.parties = parties
        self.guilds = guilds
        self.clock = clock
        self.limiter = limiter or RateLimiter({"chat": (1.0, 6.0)})
        self.realm = realm
        self._seq = 0
        self._history: dict[str, deque[ChatLine]] = {}
        self._channels: dict[str, set[int]] = {}  # casefolded name -> members
        self._channel_names: dict[str, str] = {}  # casefolded -> as created
        self._joined: dict[int, set[str]] = {}

    def _speaker(self, character_id: int) -> str:
        who = self.presence.get(character_id)
        if who is None:
            raise ActionError("not_in_world", "enter the world to chat")
        return who.name

    async def send(self, character_id: int, channel: str, text: str, target: str = "") -> int:
        """Deliver a line; returns how many listeners it reached (the speaker excluded)."""
        if channel not in CHANNELS:
            raise ActionError("bad_channel", f"channels are {', '.join(CHANNELS)}")
        name = self._speaker(character_id)
        clean = check_text(text, "a chat line", max_bytes=TEXT_MAX)
        now = self.clock()
        if not self.limiter.allow(character_id, "chat", now):
            raise ActionError("rate_limited", "you are chatting too fast")
        key, listeners = await self._listeners(character_id, channel, target)
        self._seq += 1
        line = ChatLine(self._seq, key, name, clean, now)
        if channel not in ("say", "yell", "whisper"):  # realm-wide channels keep history
            self._history.setdefault(key, deque(maxlen=HISTORY)).append(line)
        reached = 0
        body = line.body()
        for cid in listeners:
            if cid == character_id or self.friends.ignores_cached(cid, character_id):
                continue
            if self.notifier.notify(cid, "chat", body):
                reached += 1
        metrics.CHAT_MESSAGES.labels(self.realm, channel).inc()
        return reached

    async def _listeners(
        self, character_id: int, channel: str, target: str
    ) -> tuple[str, list[int]]:
        if channel in ("say", "yell"):
            radius = SAY_RADIUS if channel == "say" else YELL_RADIUS
            near = self.aoi.nearby(character_id, radius)
            return channel, await near if inspect.isawaitable(near) else near
        if channel == "whisper":
            to = self.presence.by_name(check_character_name(target))
            if to is None:
                raise ActionError("not_online", f"{target} is not online")
            if to.character_id == character_id:
                raise ActionError("self", "you cannot whisper yourself")
            if await self.friends.ignores_id(to.character_id, character_id):
                raise ActionError("ignored", f"{to.name} is ignoring you")
            return "whisper", [to.character_id]
        if channel in ("party", "raid"):
            pid, members = self.parties.chat_members(character_id, channel)
            return f"{channel}:{pid}", members
        if channel in ("guild", "officer"):
            gid = self.guilds.guild_of(character_id)
            if gid is None:
                raise ActionError("not_in_guild", "you are not in a guild")
            perm = Perm.GUILD_CHAT_SPEAK if channel == "guild" else Perm.OFFICER_CHAT
            if not await self.guilds.can(character_id, perm):
                raise ActionError("no_permission", f"your rank may not speak in {channel} chat")
            members = self.guilds.online_members(gid)
            if channel == "officer":
                members = [m for m in members if await self.guilds.can(m, Perm.OFFICER_CHAT)]
            return f"{channel}:{gid}", members
        key = self._channel_key(target)
        roster = self._channels.get(key)
        if roster is None or character_id not in roster:
            raise ActionError("not_in_channel", f"join {target} first")
        return f"channel:{key}", list(roster)

    # --- named channels ---------------------------------------------------------------

    @staticmethod
    def _channel_key(raw: str) -> str:
        if not _CHANNEL_NAME.match(raw):
            raise ActionError("bad_channel_name", "channel names are 2-24 letters or digits")
        return raw.casefold()

    def join(self, character_id: int, channel: str) -> int:
        self._speaker(character_id)
        key = self._channel_key(channel)
        joined = self._joined.setdefault(character_id, set())
        if key in joined:
            raise ActionError("already_joined", f"you are already in {channel}")
        if len(joined) >= CHANNEL_MAX_JOINED:
            raise ActionError("too_many_channels", f"at most {CHANNEL_MAX_JOINED} channels")
        members = self._channels.setdefault(key, set())
        if len(members) >= CHANNEL_MAX_MEMBERS:
            raise ActionError("channel_full", f"{channel} is full")
        self._channel_names.setdefault(key, channel)
        members.add(character_id)
        joined.add(key)
        return len(members)

    def leave(self, character_id: int, channel: str) -> None:
        key = self._channel_key(channel)
        if key not in self._joined.get(character_id, set()):
            raise ActionError("not_in_channel", f"you are not in {channel}")
        self._drop(character_id, key)

    def _drop(self, character_id: int, key: str) -> None:
        self._joined.get(character_id, set()).discard(key)
        members = self._channels.get(key)
        if members is not None:
            members.discard(character_id)
            if not members:
                del self._channels[key]
                self._channel_names.pop(key, None)

    def members(self, character_id: int, channel: str) -> list[str]:
        key = self._channel_key(channel)
        members = self._channels.get(key, set())
        if character_id not in members:
            raise ActionError("not_in_channel", f"join {channel} first")
        names = [self.presence.get(m) for m in members]
        return sorted(n.name for n in names if n is not None)

    def left_world(self, character_id: int) -> None:
        for key in list(self._joined.pop(character_id, set())):
            self._drop(character_id, key)
        self.limiter.forget(character_id)

    # --- history ------------------------------------------------------------------------

    async def history(self, character_id: int, channel: str, target: str = "") -> list[ChatLine]:
        """The last lines of a realm-wide channel the character may read."""
        if channel not in ("party", "raid", "guild", "officer", "channel"):
            raise ActionError("no_history", "only group, guild and named channels keep history")
        key, _ = await self._listeners(character_id, channel, target)
        return list(self._history.get(key, ()))
