"""Headless bots: real clients (the same library a game client uses) that play the
player's journey end to end: sign up, log in, create a character, enter the world, walk
around near the start (so they meet), log out. `realm up --bots N` and the tests run them.
"""

from __future__ import annotations

import asyncio
import math
import random
import secrets
from collections.abc import Awaitable
from dataclasses import asdict, dataclass, field
from typing import Any

from realm_client.client import ClientError, RealmClient
from realm_client.gateway import QueueUpdate
from realm_client.social import ActionRefused

_SYLLABLES = (
    "ka",
    "ro",
    "mi",
    "tel",
    "dor",
    "an",
    "vel",
    "is",
    "gar",
    "lun",
    "bri",
    "tho",
    "sen",
    "ul",
)


def random_name(rng: random.Random) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(3))[:12].capitalize()


@dataclass
class BotReport:
    name: str
    signed_up: bool = False
    logged_in: bool = False
    character_id: int = 0
    in_world: bool = False
    saw_others: bool = False
    players_seen: int = 0
    snapshots: int = 0
    inputs_sent: int = 0
    acked_seq: int = 0
    corrections: int = 0
    handoffs: int = 0
    deaths: int = 0  # times the bot died (it stops, then releases its spirit)
    logged_out_saved: bool = False
    # The login queue: every position the gateway pushed (empty if admitted at once), and
    # how long the login waited for admission.
    queue_positions: list[int] = field(default_factory=list)
    queue_wait_s: float = 0.0
    error: str = ""
    errors: list[str] = field(default_factory=list)
    # Realm-wide actions (chat, mail, auction house); failures here never fail the bot.
    chat_sent: int = 0
    chat_heard: int = 0
    mail_sent: int = 0
    mail_taken: int = 0
    auctions_listed: int = 0
    auction_bids: int = 0
    social_errors: list[str] = field(default_factory=list)


class Bot:
    def __init__(
        self,
        gateway_url: str,
        index: int,
        *,
        seed: int | None = None,
        wander_radius: float = 40.0,
        cheat: bool = False,
    ) -> None:
        self.url = gateway_url
        self.rng = random.Random(seed if seed is not None else secrets.randbits(32))
        self.username = f"bot{index}_{secrets.token_hex(3)}"
        self.password = secrets.token_urlsafe(12)
        self.wander_radius = wander_radius
        # A cheating bot claims 60% more than run speed for four frames every two seconds:
        # the server corrects it (anti-cheat counts each) but stays under the kick score.
        self.cheat = cheat
        self.report = BotReport(name=self.username)
        self.client = RealmClient(gateway_url)

    async def run(self, duration_s: float, tick_s: float = 0.05) -> BotReport:
        r = self.report
        c = self.client
        try:
            await c.signup(self.username, self.password)
            r.signed_up = True
            queued_at = asyncio.get_running_loop().time()
            await c.login(self.username, self.password, on_queue=self._queued)
            if r.queue_positions:
                r.queue_wait_s = asyncio.get_running_loop().time() - queued_at
            r.logged_in = True
            for _ in range(5):
                try:
                    ch = await c.create_character(random_name(self.rng), "human", "warrior")
                    break
                except ClientError as e:
                    if e.code != "name_taken":
                        raise
            else:
                raise ClientError("name_taken", "no free name after 5 tries")
            r.character_id = ch.id
            chars = await c.characters()
            if ch.id not in {x.id for x in chars}:
                raise ClientError("missing", "created character not in the character list")
            start = await c.enter_world(ch.id)
            r.in_world = True
            social = asyncio.create_task(self._socialise(duration_s))
            await self._wander(start.x, start.y, duration_s, tick_s)
            try:
                await asyncio.wait_for(social, timeout=5.0)
            except (TimeoutError, asyncio.CancelledError):
                r.social_errors.append("social: did not finish in time")
            await self._collect_mail()
            self._record_movement()  # logging out ends the predictor
            r.logged_out_saved = await c.logout()
        except (ClientError, TimeoutError, OSError) as e:
            r.error = f"{type(e).__name__}: {e}"
        finally:
            r.snapshots = c.snapshots
            r.inputs_sent = c.inputs_sent
            r.players_seen = len(c.seen_players)
            r.saw_others = r.players_seen > 0
            self._record_movement()
            r.handoffs = c.handoffs
            await c.close()
        return r

    def _queued(self, update: QueueUpdate) -> None:
        self.report.queue_positions.append(update.position)

    async def _try(self, what: str, coro: Awaitable[Any]) -> tuple[bool, Any]:
        """One social action: (done, answer); a refusal or a timeout is noted, never
        raised, so a busy auction house cannot make a bot fail."""
        try:
            return True, await coro
        except (ActionRefused, ClientError, TimeoutError, OSError, KeyError, ValueError) as e:
            self.report.social_errors.append(f"{what}: {e}")
            return False, None

    async def _socialise(self, duration_s: float) -> None:
        """Chat, sell a ration at the auction house, buy someone else's, and mail the
        seller a thank-you with a few coins: the realm-wide actions, end to end."""
        r, social = self.report, self.client.social
        social.on_notice = self._heard
        await asyncio.sleep(min(0.3, duration_s / 4))
        if (await self._try("say", social.say(f"Hello from {self.username}!")))[0]:
            r.chat_sent += 1
        if (await self._try("join", social.join_channel("World")))[0]:
            if (await self._try("channel", social.chat("channel", "lfg", "World")))[0]:
                r.chat_sent += 1
        _, inv = await self._try("inventory", social.inventory())
        ration = next((row[0] for row in (inv or {}).get("page", []) if row[1] == 117), None)
        if ration is not None:
            listed = social.list_auction(ration, start_bid=10, buyout=40, hours=12)
            if (await self._try("auction.list", listed))[0]:
                r.auctions_listed += 1
        await asyncio.sleep(min(1.0, duration_s / 3))
        _, found = await self._try("auction.search", social.search_auctions(name="jerky"))
        others = [a for a in (found or {}).get("page", []) if not a["mine"]]
        if others:
            pick = self.rng.choice(others)
            if self.rng.random() < 0.5 and pick["buyout"]:
                ok, _ = await self._try("auction.buyout", social.buyout(pick["id"]))
            else:
                ok, _ = await self._try("auction.bid", social.bid(pick["id"], pick["min_bid"]))
            if ok:
                r.auction_bids += 1
            mail = social.send_mail(pick["seller"], "Thanks for the jerky", "Well met!", gold=3)
            if (await self._try("mail.send", mail))[0]:
                r.mail_sent += 1

    def _heard(self, kind: str, body: dict[str, object]) -> None:
        if kind == "chat":
            self.report.chat_heard += 1

    async def _collect_mail(self) -> None:
        _, box = await self._try("mail.list", self.client.social.mailbox(limit=5))
        for m in (box or {}).get("page", []):
            if m["gold"] or m["items"]:
                if (await self._try("mail.take", self.client.social.take_mail(m["id"])))[0]:
                    self.report.mail_taken += 1

    def _record_movement(self) -> None:
        p = self.client.predictor
        if p is not None:
            self.report.acked_seq = p.acked_seq
            self.report.corrections = p.corrections

    async def _wander(self, home_x: float, home_y: float, duration_s: float, tick_s: float) -> None:
        loop = asyncio.get_running_loop()
        end = loop.time() + duration_s
        next_at = loop.time()
        target = self._waypoint(home_x, home_y)
        frame = 0
        was_dead = False
        while loop.time() < end:
            if self.client.dead:  # as a player does: stop moving, release the spirit
                if not was_dead:
                    self.report.deaths += 1
                if not was_dead or frame % round(1.0 / tick_s) == 0:
                    self.client.respawn()
                was_dead = True
                frame += 1
                next_at += tick_s
                await asyncio.sleep(max(0.0, next_at - loop.time()))
                continue
            was_dead = False
            x, y = self.client.position
            dx, dy = target[0] - x, target[1] - y
            if math.hypot(dx, dy) < 2.0:
                target = self._waypoint(home_x, home_y)
                dx, dy = target[0] - x, target[1] - y
            frame += 1
            fast = self.cheat and frame % round(2.0 / tick_s) < 4
            speed = self.client.world.max_speed * 1.6 if fast and self.client.world else None
            self.client.move(dx, dy, tick_s, speed)
            next_at += tick_s
            await asyncio.sleep(max(0.0, next_at - loop.time()))

    def _waypoint(self, hx: float, hy: float) -> tuple[float, float]:
        a = self.rng.uniform(0, 2 * math.pi)
        d = self.rng.uniform(0, self.wander_radius)
        return hx + d * math.cos(a), hy + d * math.sin(a)


async def run_bots(
    gateway_url: str, n: int, duration_s: float, *, stagger_s: float = 0.05
) -> list[BotReport]:
    async def one(i: int) -> BotReport:
        await asyncio.sleep(i * stagger_s)
        # One bot in ten (and the last of a small group) is a mild speed hacker: the realm
        # shows its anti-cheat at work without kicking anyone.
        cheat = i % 10 == 9 or (3 <= n < 10 and i == n - 1)
        return await Bot(gateway_url, i, cheat=cheat).run(duration_s)

    return list(await asyncio.gather(*(one(i) for i in range(n))))


def summarise(reports: list[BotReport]) -> dict[str, object]:
    return {
        "bots": len(reports),
        "bots_in_world": sum(r.in_world for r in reports),
        "bots_saw_others": sum(r.saw_others for r in reports),
        "bots_handed_off": sum(r.handoffs > 0 for r in reports),
        "bots_corrected": sum(r.corrections > 0 for r in reports),
        "bots_chatted": sum(r.chat_sent > 0 for r in reports),
        "bots_mailed": sum(r.mail_sent > 0 for r in reports),
        "bots_used_auction_house": sum(r.auctions_listed + r.auction_bids > 0 for r in reports),
        "bots_saved_on_logout": sum(r.logged_out_saved for r in reports),
        "bots_queued": sum(bool(r.queue_positions) for r in reports),
        "bot_errors": [r.error for r in reports if r.error],
        "reports": [asdict(r) for r in reports],
    }


def headline(summary: dict[str, object]) -> dict[str, object]:
    """The counts of a `summarise` result (every `bots*` key and the errors), without the
    per-bot reports: what `realm up` puts in its own summary."""
    return {k: v for k, v in summary.items() if k.startswith("bots") or k == "bot_errors"}
