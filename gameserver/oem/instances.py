"""Dungeon instances: which copy of a dungeon a character goes into, and where it runs.

Entering a dungeon finds, in order: the instance the character is locked to (its lockout,
kept in the hot store for `lockout_s`), the instance a member of its party is in, or a new
one. A new instance goes on the instance host that has room and is already the fullest
(`choose_host`, a pure function): packing instances onto few hosts keeps the others free to
be drained and stopped. An instance nobody is in is unloaded after `unload_delay_s`, so a
group that wipes and runs back finds its instance (and its dead bosses) still there.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from gameserver.storage.interfaces import HotState
from gameserver.world.map import RegionDef

log = logging.getLogger(__name__)


class InstanceError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class HostView:
    host_id: str
    capacity: int  # players across all its instances
    players: int
    templates: frozenset[str] | None = None  # the dungeons it runs (None: any)


def choose_host(hosts: Iterable[HostView], needed: int = 1) -> str | None:
    """The host to put a new instance on: among those with room for `needed` players, the
    fullest (ties: the lowest id). None if none has room."""
    fitting = [h for h in hosts if h.capacity - h.players >= needed]
    if not fitting:
        return None
    return min(fitting, key=lambda h: (-(h.players / max(1, h.capacity)), h.host_id)).host_id


class InstanceServer(Protocol):
    server_id: str
    address: str

    @property
    def players(self) -> int: ...


class InstanceHosts(Protocol):
    """Where instances run: the embedded realm's in-process hosts, or instance servers."""

    def hosts(self) -> list[HostView]: ...

    async def create(
        self, host_id: str, template: RegionDef, instance_id: str
    ) -> InstanceServer: ...

    async def unload(self, server_id: str) -> None: ...


@dataclass
class _Instance:
    instance_id: str
    template: str
    host_id: str
    server: InstanceServer
    empty_since: float | None = None


@dataclass
class InstanceManager:
    realm: str
    hosts: InstanceHosts
    hot: HotState
    party_members: Callable[[int], tuple[int, ...]] = lambda _cid: ()
    lockout_s: float = 3600.0
    unload_delay_s: float = 60.0
    clock: Callable[[], float] = time.monotonic
    # Distinguishes this manager's instance ids from an earlier one's (a restarted OEM
    # must not reuse the id of an instance a host may still run).
    id_prefix: str = ""
    instances: dict[str, _Instance] = field(default_factory=dict)
    located: dict[int, str] = field(default_factory=dict)  # character -> instance id
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def server_of(self, instance_id: str) -> InstanceServer | None:
        inst = self.instances.get(instance_id)
        return inst.server if inst is not None else None

    async def instance_for(
        self, character_id: int, template: RegionDef
    ) -> tuple[str, InstanceServer]:
        """The instance `character_id` enters for `template` (created if need be)."""
        locked = await self.hot.get_lockout(self.realm, character_id, template.name)
        party = [
            self.located[m]
            for m in self.party_members(character_id)
            if m != character_id
            and m in self.located
            and self.instances.get(self.located[m]) is not None
            and self.instances[self.located[m]].template == template.name
        ]
        chosen: str | None = None
        if locked is not None and locked in self.instances:
            chosen = locked
            if party and party[0] != locked:
                raise InstanceError(
                    "locked_elsewhere",
                    "you are saved to another instance of this dungeon than your party",
                )
        elif party:
            chosen = party[0]
        if chosen is None:
            host = choose_host(
                h for h in self.hosts.hosts() if h.templates is None or template.name in h.templates
            )
            if host is None:
                raise InstanceError("no_capacity", "every instance server is full; try again soon")
            chosen = f"{template.name}-{self.id_prefix}{next(self._ids)}"
            server = await self.hosts.create(host, template, chosen)
            self.instances[chosen] = _Instance(chosen, template.name, host, server)
            log.info("instance %s created on %s", chosen, host)
        await self.hot.set_lockout(
            self.realm, character_id, template.name, chosen, int(self.lockout_s * 1000)
        )
        inst = self.instances[chosen]
        inst.empty_since = None
        return chosen, inst.server

    def entered(self, character_id: int, instance_id: str) -> None:
        self.located[character_id] = instance_id

    def left(self, character_id: int) -> None:
        self.located.pop(character_id, None)

    async def reap(self) -> list[str]:
        """Unload instances that have been empty for `unload_delay_s`; returns their ids."""
        now = self.clock()
        gone = []
        for iid, inst in list(self.instances.items()):
            if inst.server.players > 0:
                inst.empty_since = None
                continue
            if inst.empty_since is None:
                inst.empty_since = now
            elif now - inst.empty_since >= self.unload_delay_s:
                del self.instances[iid]
                await self.hosts.unload(inst.server.server_id)
                gone.append(iid)
                log.info("instance %s unloaded after %.0f s empty", iid, self.unload_delay_s)
        return gone
