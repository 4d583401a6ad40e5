"""The realm connection manager: the one UDP endpoint clients talk to once logged in.

Each datagram is checked in order of cost, cheapest first, and dropped (and counted by
reason) at the first failure: size, header, known connection or a valid login token,
per-connection rate, replay window, AEAD tag, message shape. Only then is it routed:
character requests to the RWAM, entering and leaving the world to the OEM, movement
inputs straight to the region server that simulates the player. Snapshots and notices from
region servers come back through `deliver` and leave sealed under the player's session key.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from gameserver import metrics
from gameserver.api.errors import RemoteError, ServiceUnavailable
from gameserver.api.oem import OemApi, OemError, Placement
from gameserver.api.region import InputSink
from gameserver.api.rwam import RwamApi
from gameserver.clock import now_ms, wall_ms
from gameserver.gateway.login_queue.seats import Admission
from gameserver.rcm.ratelimit import TokenBucket
from gameserver.region.commands import GAME_COMMANDS
from gameserver.rwam.api import ActionsApi
from gameserver.rwam.characters import CharacterRuleError
from gameserver.storage.interfaces import StorageError
from gameserver.storage.models import Character
from gameserver.wire import datagram
from gameserver.wire.connection import Connection, accept_hello
from gameserver.wire.datagram import Drop, DropReason
from gameserver.wire.errors import WireError
from gameserver.wire.messages import (
    BODY_MAX,
    CharacterInfo,
    CharacterList,
    CharacterListRequest,
    CreateCharacter,
    CreateCharacterResult,
    Disconnect,
    EnterWorld,
    EnterWorldResult,
    Envelope,
    Error,
    Hello,
    Inputs,
    Logout,
    LogoutResult,
    Message,
    Notice,
    Ping,
    Pong,
    RwamRequest,
    RwamResult,
    Welcome,
)
from gameserver.wire.token import TokenSealer

log = logging.getLogger(__name__)

Addr = tuple[Any, ...]


@dataclass(slots=True)
class Session:
    conn: Connection
    conn_id: int
    account_id: int
    addr: Addr
    last_seen_ms: int
    bucket: TokenBucket
    character_id: int | None = None
    server: InputSink | None = None
    # While a handoff moves the player between servers its inputs wait here, in order,
    # and are replayed to the new server when the route switches (none are lost).
    held: list[tuple[int, Any]] | None = None
    # The last few input batches routed, replayed to the new server after a handoff: frames
    # still in flight to the old server when it let the player go are not lost (the target
    # skips any frame it already has by sequence number).
    recent: deque[npt.NDArray[np.void]] = field(default_factory=lambda: deque(maxlen=8))
    busy: bool = False  # a world-changing request (enter/logout) is in progress
    tasks: set[asyncio.Task[None]] = field(default_factory=set)


def character_info(ch: Character) -> CharacterInfo:
    st = ch.state
    return CharacterInfo(
        id=ch.id,
        name=ch.name,
        race=ch.race,
        char_class=ch.char_class,
        faction=ch.faction,
        level=st.level,
        region=st.region,
        x=st.x,
        y=st.y,
    )


class RcmServer(asyncio.DatagramProtocol):
    def __init__(
        self,
        *,
        realm: str,
        server_id: str,
        sealer: TokenSealer,
        rwam: RwamApi,
        oem: OemApi,
        sinks: Callable[[str, str], InputSink],
        tick_rate: int,
        idle_timeout_s: float = 30.0,
        packets_per_second: float = 120.0,
        burst: float = 240.0,
        actions: ActionsApi | None = None,
        admission: Admission | None = None,
    ) -> None:
        self.realm = realm
        # Seats of the login queue: confirmed when a session opens, freed when it closes.
        self.admission = admission
        # Realm-wide actions (chat, mail, auctions, party, guild) and their notices; the
        # RCM is the RWAM's `Notifier` (see `notify`).
        self.actions = actions
        self._by_character: dict[int, int] = {}  # character in the world -> conn id
        self._background: set[asyncio.Task[None]] = set()
        self.server_id = server_id
        self.sealer = sealer
        self.rwam = rwam
        self.oem = oem
        self.sinks = sinks  # (server_id, address) -> the route to that region server
        self.rcm_id = server_id
        self.tick_rate = tick_rate
        self.idle_timeout_ms = int(idle_timeout_s * 1000)
        self.pps = packets_per_second
        self.burst = burst
        self.sessions: dict[int, Session] = {}
        self.transport: asyncio.DatagramTransport | None = None
        self.dropped: dict[str, int] = {}
        self._labels = (realm, server_id)
        self._bytes_in = metrics.BYTES_IN.labels(*self._labels)
        self._bytes_out = metrics.BYTES_OUT.labels(*self._labels)
        self._pkts_in = metrics.PACKETS_IN.labels(*self._labels)
        self._pkts_out = metrics.PACKETS_OUT.labels(*self._labels)
        for reason in DropReason:  # every reason at 0, so rate() counts the first drop
            metrics.PACKETS_DROPPED.labels(*self._labels, reason.value)

    # --- asyncio glue --------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def error_received(self, exc: Exception) -> None:
        log.debug("udp error: %s", exc)

    def datagram_received(self, data: bytes, addr: Addr) -> None:
        self._bytes_in.inc(len(data))
        self._pkts_in.inc()
        try:
            self._receive(data, addr)
        except Drop as d:
            self._count_drop(d.reason)
        except WireError:
            self._count_drop(DropReason.MALFORMED)
        except Exception:  # a bug must cost one datagram, never the server
            log.exception("datagram handling failed")
            self._count_drop(DropReason.MALFORMED)

    def _count_drop(self, reason: DropReason) -> None:
        key = reason.value
        self.dropped[key] = self.dropped.get(key, 0) + 1
        metrics.PACKETS_DROPPED.labels(*self._labels, key).inc()

    def _send(self, s: Session, payload: bytes) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        self.transport.sendto(payload, s.addr)
        self._bytes_out.inc(len(payload))
        self._pkts_out.inc()

    # --- the receive path ---------------------------------------------------------------
    def _receive(self, data: bytes, addr: Addr) -> None:
        if len(data) > datagram.MAX_DATAGRAM:
            raise Drop(DropReason.OVERSIZED)
        header = datagram.parse(data)
        now = now_ms()
        s = self.sessions.get(header.conn_id)
        if s is None:
            if header.token is None:
                raise Drop(DropReason.UNKNOWN_CONNECTION)
            conn, token = accept_hello(header, self.sealer, wall_ms())
            env = conn.receive(header, time.monotonic())  # raises before any session exists
            s = Session(
                conn, header.conn_id, token.account_id, addr, now, TokenBucket(self.pps, self.burst)
            )
            self.sessions[header.conn_id] = s
            metrics.CONNECTIONS.labels(*self._labels).set(len(self.sessions))
            if self.admission is not None:
                self._spawn(s, self.admission.session_opened(s.account_id, s.conn_id))
        else:
            if not s.bucket.allow(now):
                raise Drop(DropReason.RATE_LIMITED)
            env = s.conn.receive(header, time.monotonic())
        # Authenticated: follow the client to a new address (NAT rebinding, roaming).
        s.addr = addr
        s.last_seen_ms = now
        if env is not None:
            self._dispatch(s, env)

    def _dispatch(self, s: Session, env: Envelope) -> None:
        msg = env.msg
        if isinstance(msg, Inputs):
            if s.held is not None:
                s.held.append((0, msg))
            elif s.server is not None and s.character_id is not None:
                s.recent.append(msg.frames)
                s.server.submit_inputs(s.character_id, msg.frames, msg.ack_tick)
        elif isinstance(msg, GAME_COMMANDS):
            self._game_command(s, msg)
        elif isinstance(msg, Ping):
            self._reply(s, Pong(client_time_ms=msg.client_time_ms, server_time_ms=now_ms()), env)
        elif isinstance(msg, Hello):
            self._reply(
                s, Welcome(account_id=s.account_id, conn_id=s.conn_id, server_time_ms=now_ms()), env
            )
        elif isinstance(msg, CharacterListRequest):
            self._request(s, env, self._list_characters(s, env))
        elif isinstance(msg, CreateCharacter):
            self._request(s, env, self._create_character(s, env, msg))
        elif isinstance(msg, EnterWorld):
            self._request(s, env, self._enter_world(s, env, msg))
        elif isinstance(msg, Logout):
            self._request(s, env, self._logout(s, env))
        elif isinstance(msg, Disconnect):
            self._spawn(s, self._close(s, "client disconnected"))
        elif isinstance(msg, RwamRequest):
            self._spawn(s, self._realm_action(s, env, msg))
        # Anything else (Ack-only packets, server-bound-only types) needs no action.

    def _game_command(self, s: Session, msg: Message) -> None:
        """Combat commands and snapshot acks go to the player's region server."""
        if s.held is not None:
            s.held.append((1, msg))
            return
        server = s.server
        if server is not None and s.character_id is not None:
            server.submit_command(s.character_id, msg)

    def _request(self, s: Session, env: Envelope, coro: Coroutine[Any, Any, None]) -> None:
        """Run a request; if a service it needs did not answer (a peer down, a storage
        outage), the client gets an `Error` reply at once instead of a silent timeout."""

        async def guarded() -> None:
            try:
                await coro
            except (ServiceUnavailable, RemoteError, StorageError) as e:
                log.warning("request %s failed: %s", type(env.msg).__name__, e)
                self._reply(s, Error(code="unavailable", message=f"try again soon ({e})"), env)

        self._spawn(s, guarded())

    def _spawn(self, s: Session, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        s.tasks.add(task)
        task.add_done_callback(s.tasks.discard)

    def _reply(self, s: Session, msg: Message, request: Envelope) -> None:
        self._send(
            s, s.conn.send(msg, reliable=True, request_id=request.request_id, now=time.monotonic())
        )

    # --- requests --------------------------------------------------------------------------
    async def _list_characters(self, s: Session, env: Envelope) -> None:
        chars = await self.rwam.list_characters(s.account_id)
        self._reply(s, CharacterList(characters=tuple(character_info(c) for c in chars)), env)

    async def _create_character(self, s: Session, env: Envelope, msg: CreateCharacter) -> None:
        try:
            ch = await self.rwam.create_character(s.account_id, msg.name, msg.race, msg.char_class)
        except CharacterRuleError as e:
            self._reply(s, CreateCharacterResult(ok=False, error=f"{e.code}: {e}"), env)
            return
        self._reply(s, CreateCharacterResult(ok=True, character=character_info(ch)), env)

    async def _enter_world(self, s: Session, env: Envelope, msg: EnterWorld) -> None:
        if s.busy:
            self._reply(
                s, EnterWorldResult(ok=False, error="busy: a world change is in progress"), env
            )
            return
        s.busy = True
        try:
            if s.character_id is not None:
                self._left_world(s)
                await self.oem.leave_world(s.account_id, reason="switch")
                s.character_id, s.server = None, None
            placement = await self.oem.enter_world(
                s.account_id, msg.character_id, s.conn_id, self.server_id
            )
        except (OemError, CharacterRuleError) as e:
            self._reply(s, EnterWorldResult(ok=False, error=f"{e.code}: {e}"), env)
            return
        finally:
            s.busy = False
        if s.conn_id not in self.sessions:  # the client went away while we placed it
            await self.oem.leave_world(s.account_id, reason="disconnect")
            return
        s.character_id, s.server = (
            msg.character_id,
            self.sinks(placement.server_id, placement.address),
        )
        await self._entered_world(s)  # presence first: the client's next request needs it
        self._reply(s, self._entered(placement), env)

    def _entered(self, placement: Placement) -> EnterWorldResult:
        j = placement.join
        return EnterWorldResult(
            ok=True,
            entity_id=j.entity_id,
            region=placement.region,
            server=placement.server_id,
            x=j.x,
            y=j.y,
            facing=j.facing,
            tick_rate=self.tick_rate,
            max_speed=placement.max_speed,
        )

    # --- handoffs (called by the OEM) ---------------------------------------------------
    def hold(self, conn_id: int) -> None:
        s = self.sessions.get(conn_id)
        if s is not None and s.held is None:
            s.held = []

    def reroute(self, conn_id: int, placement: Placement | None) -> None:
        """Switch the route (or, with None, keep it), replay the held inputs in order, and
        tell the client where it now is: an unsolicited EnterWorldResult with its new
        entity id (the client keeps its predicted position and input sequence)."""
        s = self.sessions.get(conn_id)
        if s is None:
            return
        held, s.held = s.held or [], None
        if placement is not None and s.character_id is not None:
            s.server = self.sinks(placement.server_id, placement.address)
            notice = s.conn.send(self._entered(placement), reliable=True, now=time.monotonic())
            self._send(s, notice)
            for frames in s.recent:
                s.server.submit_inputs(s.character_id, frames)
        for kind, msg in held:
            if kind == 0:
                self._dispatch(s, Envelope(msg))
            else:
                self._game_command(s, msg)

    async def _logout(self, s: Session, env: Envelope) -> None:
        saved = await self._leave(s, "logout")
        self._reply(s, LogoutResult(saved=saved), env)

    async def _leave(self, s: Session, reason: str) -> bool:
        if s.character_id is None:
            return False
        self._left_world(s)
        s.character_id, s.server = None, None
        return await self.oem.leave_world(s.account_id, reason=reason)

    async def _close(self, s: Session, reason: str) -> None:
        if self.sessions.get(s.conn_id) is not s:
            return
        del self.sessions[s.conn_id]
        metrics.CONNECTIONS.labels(*self._labels).set(len(self.sessions))
        try:
            await self._leave(s, "disconnect")
        finally:
            if self.admission is not None:
                await self.admission.session_closed(s.account_id, s.conn_id, reason)

    # --- realm-wide actions (the RWAM) ----------------------------------------------------
    async def _realm_action(self, s: Session, env: Envelope, msg: RwamRequest) -> None:
        cid = s.character_id
        if self.actions is None:
            result = RwamResult(ok=False, code="unavailable", message="no realm actions here")
        elif cid is None:
            result = RwamResult(ok=False, code="not_in_world", message="enter the world first")
        else:
            ok, code, message, body = await self.actions.handle(cid, msg.op, msg.body)
            result = RwamResult(ok=ok, code=code, message=message, body=body)
        self._reply(s, result, env)

    async def _entered_world(self, s: Session) -> None:
        if s.character_id is None:
            return
        self._by_character[s.character_id] = s.conn_id
        if self.actions is not None:
            try:
                await self.actions.character_entered(s.character_id, s.account_id)
            except Exception:  # social state must never keep a player out of the world
                log.exception("realm actions: presence of %s not recorded", s.character_id)

    def _left_world(self, s: Session) -> None:
        cid = s.character_id
        if cid is None or self._by_character.get(cid) != s.conn_id:
            return
        del self._by_character[cid]
        if self.actions is not None:
            task = asyncio.get_running_loop().create_task(self.actions.character_left(cid))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    def notify(self, character_id: int, kind: str, body: Mapping[str, Any]) -> bool:
        """The RWAM's `Notifier`: a notice to the character's session, reliably."""
        conn_id = self._by_character.get(character_id)
        s = self.sessions.get(conn_id) if conn_id is not None else None
        if s is None:
            return False
        text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
        if len(text.encode()) > BODY_MAX:
            log.warning("notice %s for %s too large (%d bytes)", kind, character_id, len(text))
            return False
        notice = Notice(kind=kind, body=text)
        self._send(s, s.conn.send(notice, reliable=True, now=time.monotonic()))
        return True

    # --- from region servers (the Outbox) -------------------------------------------------
    def deliver(self, conn_id: int, payload: bytes) -> None:
        s = self.sessions.get(conn_id)
        if s is not None:
            self._send(s, s.conn.seal_payload(payload, now=time.monotonic()))

    def kick(self, conn_id: int, reason: str) -> None:
        s = self.sessions.get(conn_id)
        if s is None:
            return
        self._left_world(s)
        s.character_id, s.server = None, None
        self._send(s, s.conn.send(Disconnect(reason=reason), reliable=False, now=time.monotonic()))
        self._spawn(s, self._close(s, reason))

    # --- timers ---------------------------------------------------------------------------
    async def run_timers(self, stop: asyncio.Event, interval_s: float = 0.05) -> None:
        """Resends and acks of the reliable channel, and idle timeouts."""
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=interval_s)
            except TimeoutError:
                pass
            now = now_ms()
            for s in list(self.sessions.values()):
                if now - s.last_seen_ms > self.idle_timeout_ms:
                    self._spawn(s, self._close(s, "timed out"))
                    continue
                for payload in s.conn.poll(time.monotonic()):
                    self._send(s, payload)

    async def close(self) -> None:
        """Tell every client, then leave the world for each (region servers save)."""
        for s in list(self.sessions.values()):
            self._send(
                s,
                s.conn.send(
                    Disconnect(reason="realm shutting down"), reliable=False, now=time.monotonic()
                ),
            )
            await self._close(s, "shutdown")
            for t in list(s.tasks):
                t.cancel()
