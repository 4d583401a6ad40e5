"""Friends, ignore lists, chat channels, party and raid, guilds."""

from __future__ import annotations

from gameserver.rwam.actions import fit

from .conftest import Env
from .support import call, refused


async def test_friends_online_status_and_ignore(env: Env) -> None:
    a = await env.character("Ashe")
    b = await env.character("Bree")
    await env.enter(a)
    act = env.actions
    await call(act, a.id, "friend.add", name="bree")
    assert await refused(act, a.id, "friend.add", name="Bree") == "already_friend"
    assert await refused(act, a.id, "friend.add", name="Ashe") == "self"
    assert (await call(act, a.id, "friend.list"))["page"] == [["Bree", False]]
    await env.enter(b)
    assert env.notifier.of(a.id, "friend_status")[-1] == {"name": "Bree", "online": True}
    assert (await call(act, a.id, "friend.list"))["page"] == [["Bree", True]]
    assert await call(act, a.id, "chat.send", channel="whisper", text="hi", target="Bree") == {
        "reached": 1
    }
    await call(act, b.id, "ignore.add", name="Ashe")
    assert await refused(act, a.id, "chat.send", channel="whisper", text="hi", target="Bree") == (
        "ignored"
    )
    assert (await call(act, a.id, "chat.send", channel="say", text="hello"))["reached"] == 0
    await call(act, b.id, "ignore.remove", name="Ashe")
    assert (await call(act, a.id, "chat.send", channel="say", text="hello"))["reached"] == 1
    await env.leave(b)
    assert env.notifier.of(a.id, "friend_status")[-1] == {"name": "Bree", "online": False}


async def test_say_reaches_the_area_yell_further_and_rate_limits(env: Env) -> None:
    chars = [await env.character(n) for n in ("Near", "Mid", "Far", "Speaker")]
    for ch, x in zip(chars, (110.0, 200.0, 600.0, 100.0), strict=True):
        await env.enter(ch, x=x)
    sp = chars[3].id
    act = env.actions
    assert (await call(act, sp, "chat.send", channel="say", text="hi"))["reached"] == 1
    assert (await call(act, sp, "chat.send", channel="yell", text="HI"))["reached"] == 2
    heard = env.notifier.of(chars[0].id, "chat")
    assert [h["text"] for h in heard] == ["hi", "HI"] and heard[0]["from"] == "Speaker"
    codes = [await act.handle(sp, "chat.send", '{"channel":"say","text":"spam"}') for _ in range(8)]
    assert any(c[1] == "rate_limited" for c in codes)
    assert await refused(act, sp, "chat.send", channel="nope", text="x") == "bad_channel"


async def test_named_channels_and_history(env: Env) -> None:
    a, b = await env.character("Chana"), await env.character("Chanb")
    await env.enter(a)
    await env.enter(b, x=900.0)
    act = env.actions
    assert await refused(act, a.id, "chat.send", channel="channel", text="x", target="Trade") == (
        "not_in_channel"
    )
    await call(act, a.id, "chat.join", channel="Trade")
    await call(act, b.id, "chat.join", channel="trade")
    assert (await call(act, a.id, "chat.send", channel="channel", text="wts", target="Trade")) == {
        "reached": 1
    }
    hist = await call(act, b.id, "chat.history", channel="channel", target="Trade")
    assert [h["text"] for h in hist["page"]] == ["wts"]
    assert sorted((await call(act, a.id, "chat.members", channel="Trade"))["page"]) == [
        "Chana", "Chanb"
    ]


async def test_party_raid_and_positions_across_regions(env: Env) -> None:
    names = ["Lead", "Pone", "Ptwo", "West"]
    chars = {n: await env.character(n, region="westfall" if n == "West" else "elwynn")
             for n in names}
    for ch in chars.values():
        await env.enter(ch)
    act, lead = env.actions, chars["Lead"].id
    assert await refused(act, lead, "party.accept") == "no_invite"
    await call(act, lead, "party.invite", name="Pone")
    assert env.notifier.of(chars["Pone"].id, "party_invite") == [{"from": "Lead"}]
    await call(act, chars["Pone"].id, "party.accept")
    await call(act, lead, "party.invite", name="West")
    await call(act, chars["West"].id, "party.accept")
    await call(act, lead, "party.invite", name="Ptwo")
    await call(act, chars["Ptwo"].id, "party.decline")
    assert await refused(act, chars["Pone"].id, "party.invite", name="Ptwo") == "not_leader"
    view = act.party_of(chars["West"].id)
    assert view is not None and view.leader == lead and len(view.members) == 3
    assert act.party_of(chars["Ptwo"].id) is None

    env.notifier.clear()
    await act.tick()  # party positions, across elwynn and westfall
    seen = env.notifier.of(lead, "party_positions")[0]["members"]
    assert sorted((m[0], m[1]) for m in seen) == [("Pone", "elwynn"), ("West", "westfall")]

    assert (await call(act, lead, "chat.send", channel="party", text="go"))["reached"] == 2
    await call(act, lead, "party.raid")
    await call(act, lead, "party.move", name="West", group=2)
    assert (await call(act, lead, "chat.send", channel="party", text="g1"))["reached"] == 1
    assert (await call(act, lead, "chat.send", channel="raid", text="all"))["reached"] == 2
    await call(act, lead, "party.promote", name="Pone")
    assert await refused(act, lead, "party.kick", name="West") == "not_leader"
    await call(act, chars["Pone"].id, "party.kick", name="West")
    await call(act, lead, "party.leave")
    assert act.party_of(chars["Pone"].id) is None  # one left: disbanded


async def test_guild_ranks_and_permissions(env: Env) -> None:
    gm, off, mem = [await env.character(n) for n in ("Master", "Officer", "Member")]
    for ch in (gm, off, mem):
        await env.enter(ch)
    act = env.actions
    assert await refused(act, gm.id, "guild.create", name="x1") == "bad_guild_name"
    await call(act, gm.id, "guild.create", name="Knights of  Dawn")
    assert await refused(act, off.id, "guild.create", name="Knights Of Dawn") == (
        "guild_name_taken"
    )
    for ch in (off, mem):
        await call(act, gm.id, "guild.invite", name=ch.name)
        await call(act, ch.id, "guild.accept")
    assert await refused(act, mem.id, "guild.invite", name="Master") == "no_permission"
    assert (await call(act, gm.id, "guild.promote", name="Officer"))["rank"] == 3
    assert (await call(act, gm.id, "guild.promote", name="Officer"))["rank"] == 2
    assert (await call(act, gm.id, "guild.promote", name="Officer"))["rank"] == 1
    assert await refused(act, gm.id, "guild.promote", name="Officer") == "rank_too_high"
    assert await refused(act, off.id, "guild.kick", name="Master") == "rank_too_high"
    await call(act, off.id, "guild.motd", motd="Raid tonight")
    assert env.notifier.of(mem.id, "guild_motd")[-1] == {"motd": "Raid tonight"}
    assert (await call(act, mem.id, "chat.send", channel="guild", text="hi"))["reached"] == 2
    assert await refused(act, mem.id, "chat.send", channel="officer", text="x") == "no_permission"
    assert (await call(act, off.id, "chat.send", channel="officer", text="x"))["reached"] == 1
    await call(act, gm.id, "guild.rank", rank=4, name="Initiate", permissions=1)  # listen only
    assert await refused(act, mem.id, "chat.send", channel="guild", text="hi") == "no_permission"
    await call(act, off.id, "guild.kick", name="Member")
    roster = await call(act, gm.id, "guild.roster")
    assert [r[0] for r in roster["page"]] == ["Master", "Officer"]
    assert await refused(act, gm.id, "guild.leave") == "leader_must_hand_over"
    await call(act, gm.id, "guild.leader", name="Officer")
    assert (await call(act, gm.id, "guild.info"))["rank"] == 1
    await call(act, gm.id, "guild.leave")
    assert (await env.db.guild_member(gm.id)) is None


def test_answers_are_trimmed_to_one_datagram() -> None:
    body = {"total": 100, "page": [{"name": "x" * 100} for _ in range(50)]}
    text = fit(body, budget=900)
    assert len(text.encode()) <= 900 and '"truncated":true' in text
