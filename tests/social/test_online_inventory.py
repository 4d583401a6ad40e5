"""Gold and items of an online character: the region server's saves never undo a mail.

While a character is online its region server holds its gold and items and every save
writes them. These tests pin the design in `gameserver/rwam/economy.py`: the transaction
runs through the server holding the character, and a save that took its state before
the transaction still writes the gold and items the transaction left.
"""

from __future__ import annotations

import asyncio

from .conftest import Env
from .support import assert_conserved, call


async def test_mail_from_an_online_character_survives_its_next_save(env: Env) -> None:
    a = await env.character("Onlinea", gold=300, items=2)
    await env.character("Offlineb")
    await env.enter(a)
    server = env.servers["elwynn"]
    start = await env.audit()
    stale = server.current_state(a.id)  # a checkpoint's snapshot, taken before the mail
    uid = stale.items[0].uid
    await call(env.actions, a.id, "mail.send", to="Offlineb", subject="s", gold=100, items=[uid])
    live = server.current_state(a.id)
    assert live.gold == 200 and uid not in {i.uid for i in live.items}
    # The save that raced the mail writes its old snapshot: gold and items must not revert.
    live_entry = server._live[a.id]
    assert await server._save(live_entry, stale, "checkpoint")
    stored = await env.stored(a)
    assert stored.gold == 200 and uid not in {i.uid for i in stored.items}
    await server.checkpoint()
    await env.leave(a)
    assert (await env.stored(a)).gold == 200
    assert_conserved(start, await env.audit())


async def test_taking_mail_while_online_reaches_the_live_state(env: Env) -> None:
    a = await env.character("Senderc", gold=90)
    b = await env.character("Takerd")
    await env.enter(b)
    m = await call(env.actions, a.id, "mail.send", to="Takerd", subject="s", gold=90)
    await call(env.actions, b.id, "mail.take", id=m["id"])
    assert env.servers["elwynn"].current_state(b.id).gold == 90
    inv = await call(env.actions, b.id, "inventory")
    assert inv["gold"] == 90
    await env.leave(b)
    assert (await env.stored(b)).gold == 90


async def test_saves_racing_mail_sends(env: Env) -> None:
    """Checkpoints hammer the character while it mails gold and items away: at the end
    the stored state and the mail agree, and nothing was created or lost."""
    a = await env.character("Racer", gold=1000, items=10)
    await env.character("Sink")
    await env.enter(a)
    server = env.servers["elwynn"]
    start = await env.audit()
    uids = [it.uid for it in (await env.stored(a)).items]
    stop = asyncio.Event()

    async def saver() -> None:
        while not stop.is_set():
            await server.checkpoint()
            await asyncio.sleep(0)

    async def sender(i: int) -> None:
        env.clock.advance(2_000)  # stay under the mail rate limit
        await call(env.actions, a.id, "mail.send", to="Sink", subject=f"m{i}", gold=10,
                   items=[uids[i]])

    saving = asyncio.create_task(saver())
    await asyncio.gather(*(sender(i) for i in range(10)))
    stop.set()
    await saving
    await server.checkpoint()
    stored = await env.stored(a)
    assert stored.gold == 900 and stored.items == ()
    await env.leave(a)
    assert_conserved(start, await env.audit())


async def test_offline_transaction_blocks_a_login_for_its_length_only(env: Env) -> None:
    """The RWAM takes the character's lease for an offline transaction and gives it back."""
    a = await env.character("Quick", gold=10)
    await env.character("Other")
    await call(env.actions, a.id, "mail.send", to="Other", subject="s", gold=5)
    assert await env.hot.get(f"character:{a.id}") is None  # released
    await env.enter(a)  # a login right after succeeds
    assert env.servers["elwynn"].current_state(a.id).gold == 5
