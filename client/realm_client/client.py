"""The client library a game client uses: the player's journey as one async API.

client = RealmClient("http://127.0.0.1:8080")
await client.signup("matt", "correct horse")
await client.login("matt", "correct horse")
char = await client.create_character("Matt", "human", "warrior")
await client.enter_world(char.id)
client.move(1.0, 0.0, 0.05)            # once per frame
... client.position, client.visible ...
await client.logout()
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from typing import TypeVar

import numpy as np

from gameserver.wire.messages import (
    CastAbility,
    CharacterInfo,
    CharacterList,
    CharacterListRequest,
    CreateCharacter,
    CreateCharacterResult,
    EnterWorld,
    EnterWorldResult,
    Error,
    Inputs,
    Logout,
    LogoutResult,
    Message,
    Respawn,
    SetAutoAttack,
    Snapshot,
    SnapshotAck,
)
from realm_client.connection import RealmConnection
from realm_client.gateway import GatewayClient, Login, QueueCallback
from realm_client.prediction import DeltaView, Interpolator, Predictor
from realm_client.social import NoticeConnection, Social


class ClientError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code


def _split(error: str) -> tuple[str, str]:
    code, _, rest = error.partition(": ")
    return code, rest


T = TypeVar("T")

#: A move notice this far from the predicted position is a jump, not a border step.
TELEPORT_M = 20.0


def _expect(msg: Message, kind: type[T]) -> T:
    if isinstance(msg, Error):
        raise ClientError(msg.code or "error", msg.message)
    if not isinstance(msg, kind):
        raise ClientError("protocol", f"expected {kind.__name__}, got {type(msg).__name__}")
    return msg


class RealmClient:
    def __init__(self, gateway_url: str) -> None:
        self.gateway = GatewayClient(gateway_url)
        self.login_info: Login | None = None
        self.connection: RealmConnection | None = None
        self.predictor: Predictor | None = None
        self.interpolator = Interpolator()
        self.entity_id: int | None = None
        self.world: EnterWorldResult | None = None
        self.last_snapshot: Snapshot | None = None
        self.snapshots = 0
        self.inputs_sent = 0
        self.handoffs = 0
        self.seen_players: set[int] = set()
        self.visible: dict[int, tuple[float, float]] = {}
        self.on_snapshot: Callable[[Snapshot], None] | None = None
        # Delta snapshots and combat (see realm_client.prediction.DeltaView).
        self.view = DeltaView()
        self.ack_tick = 0
        self._inputs_since_snapshot = False
        self.status: np.void | None = None
        self.last_event_seq = 0
        self.events: list[np.void] = []  # every combat event received, in order
        self.loot: list[tuple[int, int]] = []  # (item id, count)
        self.xp_gained = 0
        self.on_event: Callable[[np.void], None] | None = None
        # Realm-wide actions: chat, friends, mail, auction house, party, guild.
        self.social = Social(self)

    # --- account ------------------------------------------------------------------------
    async def signup(self, username: str, password: str) -> int:
        return await self.gateway.signup(username, password)

    async def login(
        self, username: str, password: str, *, on_queue: QueueCallback | None = None
    ) -> Login:
        """Log in (waiting in the realm's login queue if it is full; `on_queue` hears each
        position) and open the game connection."""
        self.login_info = await self.gateway.login(username, password, on_queue=on_queue)
        conn = await NoticeConnection.open(self.login_info, self._snapshot)
        assert isinstance(conn, NoticeConnection)
        conn.on_notice = self.social.handle_notice
        conn.on_moved = self._moved
        self.connection = conn
        return self.login_info

    def _conn(self) -> RealmConnection:
        if self.connection is None:
            raise ClientError("not_logged_in", "log in first")
        return self.connection

    # --- characters ---------------------------------------------------------------------
    async def characters(self) -> tuple[CharacterInfo, ...]:
        reply = _expect(await self._conn().request(CharacterListRequest()), CharacterList)
        return tuple(reply.characters)

    async def create_character(self, name: str, race: str, char_class: str) -> CharacterInfo:
        msg = CreateCharacter(name=name, race=race, char_class=char_class)
        reply = _expect(await self._conn().request(msg), CreateCharacterResult)
        if not reply.ok or reply.character is None:
            raise ClientError(*_split(reply.error))
        return reply.character

    async def enter_world(self, character_id: int, *, wait_s: float = 15.0) -> EnterWorldResult:
        """Enter the world with a character. While the realm has no room in the
        character's region (`no_capacity`: a shard is starting), retry for `wait_s`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        while True:
            msg = EnterWorld(character_id=character_id)
            reply = _expect(await self._conn().request(msg), EnterWorldResult)
            if reply.ok:
                break
            code, text = _split(reply.error)
            if code != "no_capacity" or loop.time() >= deadline:
                raise ClientError(code, text)
            await asyncio.sleep(0.5)
        self.world = reply
        self.entity_id = reply.entity_id
        self.predictor = Predictor(reply.x, reply.y, reply.facing, reply.max_speed)
        return reply

    # --- playing --------------------------------------------------------------------------
    @property
    def position(self) -> tuple[float, float]:
        if self.predictor is None:
            raise ClientError("not_in_world", "enter the world first")
        return self.predictor.x, self.predictor.y

    def move(self, dir_x: float, dir_y: float, dt_s: float, speed: float | None = None) -> None:
        """Predict one frame locally and send it (with the previous few, against loss)."""
        if self.predictor is None:
            raise ClientError("not_in_world", "enter the world first")
        self.predictor.move(dir_x, dir_y, dt_s, speed)
        self._send(Inputs(frames=self.predictor.frames(), ack_tick=self.ack_tick))
        self.inputs_sent += 1
        self._inputs_since_snapshot = True

    def _send(self, msg: Message) -> None:
        """Send unreliably (inputs, acks, combat commands: each is resent or re-issued by
        the player if lost, and the server checks every one)."""
        conn = self._conn()
        conn.send_raw(conn.conn.send(msg, now=time.monotonic()))

    # --- combat -----------------------------------------------------------------------------
    def cast(self, ability: int, target: int = 0) -> None:
        """Cast an ability (ids in gameserver.region.abilities) at an entity id; 0 means
        yourself for friendly spells, your current target otherwise."""
        self._send(CastAbility(ability=ability, target=target))

    def auto_attack(self, target: int, enabled: bool = True) -> None:
        self._send(SetAutoAttack(enabled=enabled, target=target))

    def respawn(self) -> None:
        self._send(Respawn())

    @property
    def health(self) -> int | None:
        return int(self.status["health"]) if self.status is not None else None

    @property
    def level(self) -> int | None:
        return int(self.status["level"]) if self.status is not None else None

    @property
    def xp(self) -> int | None:
        return int(self.status["xp"]) if self.status is not None else None

    @property
    def dead(self) -> bool:
        return self.status is not None and bool(int(self.status["flags"]) & 2)

    def _moved(self, where: EnterWorldResult) -> None:
        """A handoff: the character now lives on another server, with a new entity id.
        Prediction carries on; the first snapshot from the new server reconciles it."""
        self.world = where
        self.entity_id = where.entity_id
        self.handoffs += 1
        p = self.predictor
        if p is not None and math.hypot(where.x - p.x, where.y - p.y) > TELEPORT_M:
            # Not a step across a border but a jump (into a dungeon, out of one): the old
            # position means nothing any more. Start from the new one; the next snapshot
            # adds the frames still in flight.
            p.x, p.y, p.facing = where.x, where.y, where.facing
            p.pending.clear()

    def _snapshot(self, snap: Snapshot) -> None:
        self.snapshots += 1
        self.last_snapshot = snap
        if self.predictor is not None and snap.you is not None:
            self.predictor.reconcile(
                snap.last_input_seq,
                float(snap.you["x"]),
                float(snap.you["y"]),
                snap.corrected,
                knockback=bool(int(snap.you["flags"]) & 8),
            )
        for ev in snap.events:
            if int(ev["seq"]) > self.last_event_seq:
                self.last_event_seq = int(ev["seq"])
                self._event(ev)
        view = self.view.apply(
            snap.tick, snap.baseline_tick, snap.entities, snap.removed, snap.deltas
        )
        if view is None:
            return  # baseline unknown: not acknowledged, the server will send a usable one
        if snap.tick < self.ack_tick:
            return  # an older snapshot arriving late: stored as a baseline, not shown
        self.ack_tick = snap.tick
        if snap.status is not None:
            self.status = snap.status
        if not self._inputs_since_snapshot and self.connection is not None:
            self._send(SnapshotAck(tick=snap.tick))
        self._inputs_since_snapshot = False
        ents = view
        others = ents[ents["kind"] == 0]
        if self.entity_id is not None:
            others = others[others["id"] != self.entity_id]
        self.seen_players.update(int(i) for i in np.asarray(others["id"]))
        self.interpolator.push(
            snap.server_time_ms, ents, received_ms=round(time.monotonic() * 1000)
        )
        self.visible = {int(e["id"]): (float(e["x"]), float(e["y"])) for e in ents}
        if self.on_snapshot is not None:
            self.on_snapshot(snap)

    def _event(self, ev: np.void) -> None:
        self.events.append(ev)
        kind = int(ev["kind"])
        if kind == 11:  # loot
            self.loot.append((int(ev["amount"]), int(ev["info"])))
        elif kind == 9:  # xp
            self.xp_gained += int(ev["amount"])
        if self.on_event is not None:
            self.on_event(ev)

    async def logout(self) -> bool:
        reply = _expect(await self._conn().request(Logout()), LogoutResult)
        self.predictor = None
        self.entity_id = None
        return reply.saved

    async def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None
        await self.gateway.close()
