"""Region server processes of `realm up --distributed` as a `Fleet` for the local
supervisor: a started server is a new `realm serve region` process, a drain is asked
through the hot store (the process moves its players away and exits once empty, exactly
as a pod does for the operator), and a stop ends a process the policy has cleared."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

from gameserver.scaling.policy import ServerView
from gameserver.storage.interfaces import HotState
from gameserver.storage.models import ServerKind

if TYPE_CHECKING:
    from gameserver.roles.local import LocalDistributedRealm


class ProcessFleet:
    def __init__(self, realm: LocalDistributedRealm, hot: HotState) -> None:
        self.realm = realm
        self.hot = hot
        self._numbers = itertools.count(1)  # `<region>-0` is started with the realm

    def _children(self, region: str) -> list[str]:
        return [
            c.name
            for c in self.realm.children
            if c.role == "region" and c.info.get("region") == region and c.proc.returncode is None
        ]

    async def servers(self, region: str) -> list[ServerView]:
        beats = {
            b.server_id: b
            for b in await self.hot.servers(self.realm.name)
            if b.region == region and b.kind is ServerKind.WORLD
        }
        views = []
        for name in self._children(region):
            b = beats.get(name)
            views.append(
                ServerView(server_id=name)  # started, no heartbeat yet
                if b is None
                else ServerView(
                    server_id=name,
                    state=b.state,
                    players=b.players,
                    capacity=b.capacity,
                    saved=b.saved,
                )
            )
        return views

    async def start(self, region: str) -> str:
        server_id = f"{region}-{next(self._numbers)}"
        env = self.realm._env(
            oem_address=self.realm.address("oem"), region=region, server_id=server_id
        )
        await self.realm._spawn("region", server_id, env)
        return server_id

    async def drain(self, region: str, server_id: str) -> None:
        await self.hot.request_drain(self.realm.name, server_id)

    async def stop(self, region: str, server_id: str) -> None:
        for c in self.realm.children:
            if c.name == server_id and c.proc.returncode is None:
                await self.realm._stop_child(c)  # SIGTERM: it saves whatever it still holds
