"""One peer's end of a game connection, sans-I/O, used by both the RCM and the client.

Like aioquic's `QuicConnection`, this object does no I/O and reads no clock: the glue
hands it datagrams (`receive(data, now)`) and asks it for datagrams (`send(...)`,
`hello(...)`, `poll(now)`), and sends them with whatever socket it has. That makes the
protocol testable by moving bytes between two objects in memory, with loss, and lets the
RCM run thousands of them in one event loop.

What it owns: the per-direction sequence counter, the AEAD with the session key, the
replay window, the reliable channel (ids, acks, resends) and traffic counters. What it
does not: token checking and connection lookup (the RCM does those, see `accept_hello`),
and the meaning of messages.

Handshake: the client's first datagrams are HELLO datagrams carrying the sealed login
token (`hello`), and it keeps using HELLO for everything it sends until it has received
one authenticated datagram from the server, so a lost first datagram costs nothing: the
resend of the reliable `Hello` still carries the token. After that, DATA only.

`receive` raises `Drop` for anything bad (the caller counts `drop.reason`), returns None
for a duplicate of a reliable message (already delivered; it is acked again), and
otherwise the `Envelope` (pure `Ack` envelopes included: the caller ignores them).
"""

from __future__ import annotations

from dataclasses import replace

from gameserver.wire import datagram as dg
from gameserver.wire.datagram import Header, Kind, ReplayWindow
from gameserver.wire.errors import Drop, DropReason, WireError
from gameserver.wire.messages import Ack, Envelope, Message, decode, encode
from gameserver.wire.reliable import ReliableChannel
from gameserver.wire.token import LoginToken, TokenSealer

__all__ = ["ACK_DELAY_S", "Connection", "accept_hello"]

#: How long received reliable ids may wait for a piggyback before an Ack-only datagram.
ACK_DELAY_S = 0.05


class Connection:
    """State of one client<->server connection, from one side's point of view."""

    def __init__(
        self,
        session_key: bytes,
        conn_id: int,
        is_client: bool,
        *,
        reliable: ReliableChannel | None = None,
        replay_window: int = 1024,
        ack_delay_s: float = ACK_DELAY_S,
    ) -> None:
        self.conn_id = conn_id
        self.is_client = is_client
        self._aead = dg.make_aead(session_key)
        self._out_dir = dg.CLIENT_TO_SERVER if is_client else dg.SERVER_TO_CLIENT
        self._in_dir = dg.SERVER_TO_CLIENT if is_client else dg.CLIENT_TO_SERVER
        self._next_seq = 1
        self._replay = ReplayWindow(replay_window)
        self.reliable = reliable if reliable is not None else ReliableChannel()
        self.ack_delay_s = ack_delay_s
        self._token: bytes | None = None
        #: Client: has an authenticated datagram from the server arrived yet?
        self.established = not is_client
        self.last_received: float | None = None
        self.last_sent: float | None = None
        self.packets_in = 0
        self.packets_out = 0
        self.bytes_in = 0
        self.bytes_out = 0
        self.drops: dict[DropReason, int] = {}

    # ------------------------------------------------------------------ sending

    def _seal(self, env: Envelope, now: float) -> bytes:
        seq = self._next_seq
        self._next_seq += 1
        token = None if self.established else self._token
        data = dg.seal(self._aead, self._out_dir, self.conn_id, seq, encode(env), token)
        self.packets_out += 1
        self.bytes_out += len(data)
        self.last_sent = now
        return data

    def send(
        self, msg: Message, *, reliable: bool = False, request_id: int = 0, now: float
    ) -> bytes:
        """One sealed datagram carrying `msg` and any pending acks."""
        env = Envelope(msg, request_id=request_id, acks=self.reliable.take_acks())
        if reliable:
            env = self.reliable.track(env, now)
        return self._seal(env, now)

    def seal_payload(self, payload: bytes, now: float) -> bytes:
        """Seal an already encoded, unreliable Envelope (no acks): the region server
        encodes each snapshot once and the RCM only seals it, so the hot path never
        decodes and re-encodes. Pending acks go out on the next `send` or `poll`."""
        seq = self._next_seq
        self._next_seq += 1
        token = None if self.established else self._token
        data = dg.seal(self._aead, self._out_dir, self.conn_id, seq, payload, token)
        self.packets_out += 1
        self.bytes_out += len(data)
        self.last_sent = now
        return data

    def hello(self, token: bytes, msg: Message, now: float) -> bytes:
        """Client only: the first datagram, a HELLO carrying the sealed login token.

        `msg` (normally `Hello`) is sent reliably; until the server answers, every
        datagram, resends included, is a HELLO with the token.
        """
        if not self.is_client:
            raise RuntimeError("only the client sends HELLO")
        self._token = bytes(token)
        return self.send(msg, reliable=True, now=now)

    def poll(self, now: float) -> list[bytes]:
        """Datagrams the timers call for: reliable resends, then a delayed Ack-only."""
        out = [
            self._seal(replace(env, acks=self.reliable.take_acks()), now)
            for env in self.reliable.due(now)
        ]
        since = self.reliable.ack_pending_since
        while self.reliable.acks_pending and since is not None and now - since >= self.ack_delay_s:
            out.append(self._seal(Envelope(Ack(), acks=self.reliable.take_acks()), now))
        return out

    def next_timer(self) -> float | None:
        """When `poll` next has work (resend or delayed ack), or None."""
        times = [t for t in (self.reliable.next_due(),) if t is not None]
        if self.reliable.ack_pending_since is not None:
            times.append(self.reliable.ack_pending_since + self.ack_delay_s)
        return min(times) if times else None

    # ------------------------------------------------------------------ receiving

    def _drop(self, reason: DropReason, detail: str = "") -> Drop:
        self.drops[reason] = self.drops.get(reason, 0) + 1
        return Drop(reason, detail)

    def receive(self, data: bytes | bytearray | memoryview | Header, now: float) -> Envelope | None:
        """Authenticate and decode one datagram from the peer.

        Raises Drop (and counts it in `drops`); None for a duplicate reliable message.
        """
        if isinstance(data, Header):
            header = data
        else:
            try:
                header = dg.parse(data)
            except Drop as e:
                raise self._drop(e.reason, e.detail) from None
        if header.conn_id != self.conn_id:
            raise self._drop(DropReason.UNKNOWN_CONNECTION)
        if header.kind == Kind.HELLO and self.is_client:
            raise self._drop(DropReason.MALFORMED, "HELLO from the server")
        try:
            self._replay.check(header.seq)
            plaintext = dg.open_(self._aead, self._in_dir, header)
        except Drop as e:
            raise self._drop(e.reason, e.detail) from None
        self._replay.accept(header.seq)
        self.established = True
        self.last_received = now
        self.packets_in += 1
        self.bytes_in += header.size
        try:
            env = decode(plaintext)
        except WireError as e:
            raise self._drop(DropReason.MALFORMED, str(e)) from None
        if env.acks:
            self.reliable.on_acks(env.acks)
        if env.reliable_id and not self.reliable.receive(env.reliable_id, now):
            return None
        return env


def accept_hello(
    header: Header, sealer: TokenSealer, now_ms: int, *, reliable: ReliableChannel | None = None
) -> tuple[Connection, LoginToken]:
    """Server side: open a HELLO's token and create the connection it authorises.

    Raises Drop(bad_token / expired_token), Drop(malformed) if this is not a HELLO, and
    Drop(bad_token) if the token names another conn_id. The caller then passes the same
    header to `conn.receive` (which authenticates it with the session key) and keeps
    the connection only if that succeeds, so a stolen token alone allocates nothing.
    """
    if header.kind != Kind.HELLO or header.token is None:
        raise Drop(DropReason.MALFORMED, "not a HELLO")
    tok = sealer.open(header.token, now_ms)
    if tok.conn_id != header.conn_id:
        raise Drop(DropReason.BAD_TOKEN, "token is for another connection")
    conn = Connection(tok.session_key, tok.conn_id, is_client=False, reliable=reliable)
    return conn, tok
