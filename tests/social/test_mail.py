"""Mail with gold and items, COD, return and expiry, on both storage backends."""

from __future__ import annotations

from .conftest import Env
from .support import assert_conserved, call, refused

DAY = 24 * 3600 * 1000


async def test_send_items_and_gold_to_an_offline_character(env: Env) -> None:
    a = await env.character("Anduin", gold=500, items=3)
    b = await env.character("Bolvar")
    start = await env.audit()
    uid = (await env.stored(a)).items[0].uid
    sent = await call(env.actions, a.id, "mail.send", to="bolvar", subject="gift", gold=120,
                      items=[uid])
    sa = await env.stored(a)
    assert sa.gold == 380 and uid not in {i.uid for i in sa.items}
    mid = await env.audit()
    assert_conserved(start, mid)
    assert mid.mail_gold == 120 and [h.item.uid for h in mid.held_items] == [uid]

    box = await call(env.actions, b.id, "mail.list")
    assert box["total"] == 1 and box["page"][0]["from"] == "Anduin"
    assert box["page"][0]["gold"] == 120 and box["page"][0]["items"] == 1
    got = await call(env.actions, b.id, "mail.take", id=sent["id"])
    assert got["gold"] == 120 and got["items"][0][0] == uid
    sb = await env.stored(b)
    assert sb.gold == 120 and uid in {i.uid for i in sb.items}
    assert await refused(env.actions, b.id, "mail.take", id=sent["id"]) == "nothing_attached"
    assert await refused(env.actions, a.id, "mail.take", id=sent["id"]) == "no_such_mail"
    assert_conserved(start, await env.audit())


async def test_cash_on_delivery(env: Env) -> None:
    a = await env.character("Seller", items=1)
    b = await env.character("Buyer", gold=50)
    start = await env.audit()
    uid = (await env.stored(a)).items[0].uid
    m = await call(env.actions, a.id, "mail.send", to="Buyer", subject="ore", cod=80, items=[uid])
    assert await refused(env.actions, b.id, "mail.take", id=m["id"]) == "not_enough_gold"
    assert (await env.stored(b)).gold == 50  # nothing moved
    assert_conserved(start, await env.audit())

    b2 = await env.character("Richbuyer", gold=100)
    start = await env.audit()
    assert not (await env.stored(a)).items  # the only item is in the COD mail
    await call(env.actions, b.id, "mail.return", id=m["id"])
    back = await call(env.actions, a.id, "mail.list")
    assert back["page"][0]["returned"] and back["page"][0]["cod"] == 0
    await call(env.actions, a.id, "mail.take", id=back["page"][0]["id"])
    uid = (await env.stored(a)).items[0].uid
    m3 = await call(env.actions, a.id, "mail.send", to="Richbuyer", subject="ore", cod=80,
                    items=[uid])
    paid = await call(env.actions, b2.id, "mail.take", id=m3["id"])
    assert paid["cod_paid"] == 80 and (await env.stored(b2)).gold == 20
    payment = (await call(env.actions, a.id, "mail.list"))["page"][0]
    assert payment["kind"] == "cod_payment" and payment["gold"] == 80
    await call(env.actions, a.id, "mail.take", id=payment["id"])
    assert (await env.stored(a)).gold == 80
    assert_conserved(start, await env.audit())


async def test_validation(env: Env) -> None:
    a = await env.character("Valeera", gold=10, items=2)
    await env.character("Garona")
    st = await env.stored(a)
    uid = st.items[0].uid
    act = env.actions
    assert await refused(act, a.id, "mail.send", to="Valeera", subject="s") == "mail_to_self"
    assert await refused(act, a.id, "mail.send", to="Nobodyhere", subject="s") == (
        "no_such_character"
    )
    assert await refused(act, a.id, "mail.send", to="Garona", subject="s", gold=11) == (
        "not_enough_gold"
    )
    assert await refused(act, a.id, "mail.send", to="Garona", subject="s", gold=1, cod=1,
                         items=[uid]) == "bad_cod"
    assert await refused(act, a.id, "mail.send", to="Garona", subject="s", cod=5) == "bad_cod"
    assert await refused(act, a.id, "mail.send", to="Garona", subject="s", items=[uid, uid]) == (
        "bad_items"
    )
    assert await refused(act, a.id, "mail.send", to="Garona", subject="s", items=["nope"]) == (
        "no_such_item"
    )
    assert await refused(act, a.id, "mail.send", to="Garona", subject="") == "empty_text"
    assert await refused(act, a.id, "mail.send", to="Garona", subject="a\x00b") == "bad_text"
    assert await refused(act, a.id, "mail.send", to="Garona", subject="s", gold=-1) == (
        "bad_request"
    )
    assert await refused(act, a.id, "mail.send", to="Garona", subject="s", extra=1) == (
        "bad_request"
    )
    assert await refused(act, a.id, "mail.nope") == "unknown_op"
    assert await env.stored(a) == st  # nothing moved by any refusal


async def test_equipped_and_soulbound_items_stay(env: Env) -> None:
    from gameserver.storage.models import ItemStack

    ch = await env.character("Tirion")
    await env.character("Uther")
    st = (await env.stored(ch)).model_copy(
        update={"items": (ItemStack(uid="worn", item_id=25, count=1, slot="main_hand"),
                          ItemStack(uid="hearth", item_id=6948, count=1))}
    )
    await env.db.save_character(ch.id, st, 0)
    act = env.actions
    assert await refused(act, ch.id, "mail.send", to="Uther", subject="s", items=["worn"]) == (
        "item_equipped"
    )
    assert await refused(act, ch.id, "mail.send", to="Uther", subject="s", items=["hearth"]) == (
        "soulbound"
    )


async def test_rate_limit_and_ignore(env: Env) -> None:
    a = await env.character("Spammer", gold=100)
    b = await env.character("Target")
    for _ in range(5):
        await call(env.actions, a.id, "mail.send", to="Target", subject="hi")
    assert await refused(env.actions, a.id, "mail.send", to="Target", subject="hi") == (
        "rate_limited"
    )
    env.clock.advance(10_000)
    await call(env.actions, b.id, "ignore.add", name="Spammer")
    assert await refused(env.actions, a.id, "mail.send", to="Target", subject="hi") == "ignored"


async def test_expiry_returns_then_deletes(env: Env) -> None:
    a = await env.character("Jaina", gold=100, items=1)
    b = await env.character("Kael")
    start = await env.audit()
    uid = (await env.stored(a)).items[0].uid
    with_items = await call(env.actions, a.id, "mail.send", to="Kael", subject="x", items=[uid],
                            gold=7)
    text_only = await call(env.actions, a.id, "mail.send", to="Kael", subject="hello")
    env.clock.advance(29 * DAY)
    await env.actions.tick()
    assert (await call(env.actions, b.id, "mail.list"))["total"] == 2
    env.clock.advance(2 * DAY)
    await env.actions.tick()
    assert (await call(env.actions, b.id, "mail.list"))["total"] == 0  # returned / deleted
    back = (await call(env.actions, a.id, "mail.list"))["page"]
    assert [m["id"] for m in back] == [with_items["id"]] and back[0]["returned"]
    assert back[0]["expires"] is None  # returned mail with attachments never expires
    env.clock.advance(400 * DAY)
    await env.actions.tick()
    assert (await call(env.actions, a.id, "mail.list"))["total"] == 1
    await call(env.actions, a.id, "mail.take", id=with_items["id"])
    assert (await env.stored(a)).gold == 100
    assert text_only["id"] != with_items["id"]
    assert_conserved(start, await env.audit())
    assert env.notifier.of(a.id, "mail_new")  # told about the returned mail
