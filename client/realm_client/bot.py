"""Headless bots: real clients (the same library a game client uses) that play the
player's journey end to end: sign up, log in, create a character, enter the world, walk
around near the start (so they meet), log out. `realm up --bots N` and the tests run them.
"""

from __future__ import annotations

import asyncio
import math
import random
import secrets
from dataclasses import asdict, dataclass, field

from realm_client.client import ClientError, RealmClient

_SYLLABLES = ("ka", "ro", "mi", "tel", "dor", "an", "vel", "is", "gar", "lun", "bri", "tho", "sen", "ul")


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
    logged_out_saved: bool = False
    error: str = ""
    errors: list[str] = field(default_factory=list)


class Bot:
    def __init__(self, gateway_url: str, index: int, *, seed: int | None = None, wander_radius: float = 40.0) -> None:
        self.url = gateway_url
        self.rng = random.Random(seed if seed is not None else secrets.randbits(32))
        self.username = f"bot{index}_{secrets.token_hex(3)}"
        self.password = secrets.token_urlsafe(12)
        self.wander_radius = wander_radius
        self.report = BotReport(name=self.username)
        self.client = RealmClient(gateway_url)

    async def run(self, duration_s: float, tick_s: float = 0.05) -> BotReport:
        r = self.report
        c = self.client
        try:
            await c.signup(self.username, self.password)
            r.signed_up = True
            await c.login(self.username, self.password)
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
            await self._wander(start.x, start.y, duration_s, tick_s)
            r.logged_out_saved = await c.logout()
        except (ClientError, TimeoutError, OSError) as e:
            r.error = f"{type(e).__name__}: {e}"
        finally:
            r.snapshots = c.snapshots
            r.inputs_sent = c.inputs_sent
            r.players_seen = len(c.seen_players)
            r.saw_others = r.players_seen > 0
            if c.predictor is not None:
                r.acked_seq = c.predictor.acked_seq
                r.corrections = c.predictor.corrections
            await c.close()
        return r

    async def _wander(self, home_x: float, home_y: float, duration_s: float, tick_s: float) -> None:
        loop = asyncio.get_running_loop()
        end = loop.time() + duration_s
        next_at = loop.time()
        target = self._waypoint(home_x, home_y)
        while loop.time() < end:
            x, y = self.client.position
            dx, dy = target[0] - x, target[1] - y
            if math.hypot(dx, dy) < 2.0:
                target = self._waypoint(home_x, home_y)
                dx, dy = target[0] - x, target[1] - y
            self.client.move(dx, dy, tick_s)
            next_at += tick_s
            await asyncio.sleep(max(0.0, next_at - loop.time()))

    def _waypoint(self, hx: float, hy: float) -> tuple[float, float]:
        a = self.rng.uniform(0, 2 * math.pi)
        d = self.rng.uniform(0, self.wander_radius)
        return hx + d * math.cos(a), hy + d * math.sin(a)


async def run_bots(gateway_url: str, n: int, duration_s: float, *, stagger_s: float = 0.05) -> list[BotReport]:
    async def one(i: int) -> BotReport:
        await asyncio.sleep(i * stagger_s)
        return await Bot(gateway_url, i).run(duration_s)

    return list(await asyncio.gather(*(one(i) for i in range(n))))


def summarise(reports: list[BotReport]) -> dict[str, object]:
    return {
        "bots": len(reports),
        "bots_in_world": sum(r.in_world for r in reports),
        "bots_saw_others": sum(r.saw_others for r in reports),
        "bots_saved_on_logout": sum(r.logged_out_saved for r in reports),
        "bot_errors": [r.error for r in reports if r.error],
        "reports": [asdict(r) for r in reports],
    }
