"""End-to-end: Region servers scale by heartbeat load, drain before deletion, get replaced
when they die; invalid Regions are refused; a restarted operator changes nothing."""

from __future__ import annotations

import asyncio
from typing import Any

from conftest import (
    DEPLOYMENTS,
    PODS,
    REALMS,
    REGIONS,
    SECRETS,
    SERVICES,
    Harness,
    realm_body,
    region_body,
)

from gameserver.storage.models import ServerState

R, D = ServerState.READY, ServerState.DRAINING


def _status(h: Harness, name: str = "elwynn") -> dict[str, Any]:
    return dict((h.get(REGIONS, name) or {}).get("status") or {})


async def _ticks(h: Harness, n: int = 4) -> None:
    await asyncio.sleep(h.interval * n)


async def test_scale_up_then_drain_emptiest_and_never_delete_with_players(harness: Harness) -> None:
    h = harness
    await h.start()
    await h.apply("realms", realm_body())
    await h.apply("regions", region_body())
    pods = await h.until(lambda: h.pods("elwynn") or None, what="first server")
    assert list(pods) == ["elwynn-server-0"]
    pod = pods["elwynn-server-0"]
    region = h.get(REGIONS, "elwynn")
    assert region is not None
    assert pod["metadata"]["ownerReferences"][0]["uid"] == region["metadata"]["uid"]
    (container,) = pod["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert container["args"] == ["serve", "region"]
    assert env["REALM_SERVER_ID"] == "elwynn-server-0" and env["REALM_REGION"] == "elwynn"
    assert env["REALM_NAME"] == "azeroth" and env["REALM_ID_BLOCK"] == "1"
    assert pod["spec"]["restartPolicy"] == "Never"

    # Load above target (120 players, 50 per server at 50% of 100): three servers, promptly.
    await h.beat("azeroth", "elwynn", "elwynn-server-0", 120)
    await h.until(lambda: len(h.pods("elwynn")) == 3, what="scale-up to 3")
    await h.beat("azeroth", "elwynn", "elwynn-server-0", 30)
    await h.beat("azeroth", "elwynn", "elwynn-server-1", 3)
    await h.beat("azeroth", "elwynn", "elwynn-server-2", 10)
    st = await h.until(lambda: _status(h).get("readyServers") == 3 and _status(h), what="status")
    assert st["players"] == 43 and st["desiredServers"] == 3

    # Load falls; after the 2 s window the emptiest Ready server (server-1) is asked to drain.
    await h.until(
        lambda: h.draining("azeroth", "elwynn-server-1"),
        timeout=10,
        what="drain request",
    )
    # The server acknowledges but still has players: it must not be deleted.
    await h.beat("azeroth", "elwynn", "elwynn-server-1", 3, D)
    await _ticks(h, 6)
    assert "elwynn-server-1" not in h.deletes()
    assert "elwynn-server-1" in h.pods("elwynn")
    # Its players moved away: now it may go.
    await h.beat("azeroth", "elwynn", "elwynn-server-1", 0, D)
    await h.until(lambda: "elwynn-server-1" in h.deletes(), what="delete of drained server")
    # Then server-2 (10 players) is the emptiest: drained, deleted only once empty.
    await h.until(lambda: h.draining("azeroth", "elwynn-server-2"), what="2nd drain")
    await h.beat("azeroth", "elwynn", "elwynn-server-2", 10, D)
    await _ticks(h, 4)
    assert "elwynn-server-2" not in h.deletes()
    await h.beat("azeroth", "elwynn", "elwynn-server-2", 0, D)
    await h.until(lambda: list(h.pods("elwynn")) == ["elwynn-server-0"], what="back to min")
    assert "elwynn-server-0" not in h.deletes()
    await _ticks(h, 4)
    assert sorted(h.deletes()) == ["elwynn-server-1", "elwynn-server-2"]
    assert len(h.requests("post", PODS)) == 3


async def test_dead_pod_is_replaced(harness: Harness) -> None:
    h = harness
    await h.start()
    await h.apply("realms", realm_body())
    await h.apply("regions", region_body(minServers=2))
    await h.until(lambda: len(h.pods("elwynn")) == 2, what="two servers")
    await h.set_pod_phase("elwynn-server-0", "Failed")
    await h.until(lambda: "elwynn-server-2" in h.pods("elwynn"), what="replacement")
    assert h.deletes() == ["elwynn-server-0"]
    assert sorted(h.pods("elwynn")) == ["elwynn-server-1", "elwynn-server-2"]


async def test_invalid_region_is_rejected_with_the_field_named(harness: Harness) -> None:
    h = harness
    await h.start()
    await h.apply("realms", realm_body())
    await h.apply("regions", region_body("bad", minServers=5, maxServers=2))
    st = await h.until(lambda: _status(h, "bad").get("phase") == "Invalid" and _status(h, "bad"))
    (valid,) = [c for c in st["conditions"] if c["type"] == "Valid"]
    assert valid["status"] == "False" and "maxServers" in valid["message"]
    events = await h.until(lambda: h.posted_events("InvalidSpec"), what="InvalidSpec event")
    assert "maxServers" in events[0]["message"]
    assert events[0]["type"] == "Warning"
    await _ticks(h, 4)
    assert h.pods("bad") == {}


async def test_region_whose_snapshots_do_not_fit_with_the_realms_is_invalid(
    harness: Harness,
) -> None:
    """Each override is in range, but with the realm's interval a snapshot would not fit one
    datagram: the Region is refused (its servers would not start), with the fields named."""
    h = harness
    await h.start()
    await h.apply("realms", realm_body(snapshotEvery=5))
    await h.apply("regions", region_body("elwynn", snapshotBudgetBytes=300))
    st = await h.until(lambda: _status(h).get("phase") == "Invalid" and _status(h))
    (valid,) = [c for c in st["conditions"] if c["type"] == "Valid"]
    assert valid["status"] == "False" and "snapshotBudgetBytes x snapshotEvery" in valid["message"]
    await _ticks(h, 4)
    assert h.pods("elwynn") == {}


async def test_queue_drives_scale_up_to_max(harness: Harness) -> None:
    """The realm's login queue, read through `queue_length` of the roles' hot state
    (MemoryHotState here, RedisHotState in production), grows the region to its max."""
    h = harness
    await h.start()
    await h.apply("realms", realm_body(maxPlayers=1000))
    await h.apply("regions", region_body())
    await h.until(lambda: h.pods("elwynn") or None, what="first server")
    await h.beat("azeroth", "elwynn", "elwynn-server-0", 40)
    assert await h.queue_logins("azeroth", range(1, 501)) == 500
    await h.until(
        lambda: (h.get(REALMS, "azeroth") or {}).get("status", {}).get("queueLength") == 500,
        what="queue length in realm status",
    )
    await h.until(lambda: len(h.pods("elwynn")) == 4, what="queue-driven scale-up")
    await _ticks(h, 4)
    assert len(h.pods("elwynn")) == 4  # never above maxServers
    assert _status(h).get("queueDemand", 0) > 0


async def test_servers_of_a_realm_get_distinct_id_blocks_and_map_regions(
    harness: Harness,
) -> None:
    """REALM_ID_BLOCK differs across every live server of the realm (both Regions), and a
    replacement never takes a block a live server holds; REALM_REGION is the map region."""
    h = harness
    await h.start()
    await h.apply("realms", realm_body())
    await h.apply("regions", region_body(minServers=2))
    await h.apply("regions", region_body("west", map={"region": "westfall"}, minServers=2))

    def blocks() -> dict[str, str]:
        out = {}
        for region in ("elwynn", "west"):
            for name, pod in h.pods(region).items():
                (c,) = pod["spec"]["containers"]
                env = {e["name"]: e.get("value") for e in c["env"]}
                out[name] = env["REALM_ID_BLOCK"]
                assert env["REALM_REGION"] == ("westfall" if region == "west" else "elwynn")
                assert pod["metadata"]["annotations"]["mmo.openrealm.dev/id-block"] == out[name]
        return out

    await h.until(lambda: len(blocks()) == 4, what="four servers")
    first = blocks()
    assert sorted(first.values()) == ["1", "2", "3", "4"]
    st = await h.until(lambda: _status(h, "west").get("mapRegion") and _status(h, "west"))
    assert st["mapRegion"] == "westfall" and st["kind"] == "world"
    await h.set_pod_phase("west-server-0", "Failed")
    await h.until(lambda: "west-server-2" in h.pods("west"), what="replacement")
    now = blocks()
    assert len(set(now.values())) == len(now) == 4
    assert now["west-server-2"] not in {v for k, v in now.items() if k != "west-server-2"}


async def test_restarting_the_operator_changes_nothing(harness: Harness) -> None:
    h = harness
    await h.start()
    await h.apply("realms", realm_body())
    await h.apply("regions", region_body(minServers=2))
    await h.until(lambda: len(h.pods("elwynn")) == 2, what="two servers")
    await h.beat("azeroth", "elwynn", "elwynn-server-0", 20)
    await h.beat("azeroth", "elwynn", "elwynn-server-1", 20)
    await h.until(lambda: _status(h).get("phase") == "Stable", what="stable region")
    await h.stop()
    mark = h.mark()
    await h.start()
    await _ticks(h, 8)
    secret = h.get(SECRETS, "azeroth-token-key")
    assert secret is not None
    for res in (PODS, DEPLOYMENTS, SERVICES):
        assert h.requests("post", res, mark) == []
        assert h.requests("delete", res, mark) == []
        assert h.requests("patch", res, mark) == []
    assert sorted(h.pods("elwynn")) == ["elwynn-server-0", "elwynn-server-1"]
    # The token key is never regenerated: at most one create, refused because it exists.
    assert h.requests("patch", SECRETS, mark) == []
    assert len(h.requests("post", SECRETS, mark)) <= 1
    assert (h.get(SECRETS, "azeroth-token-key") or {}).get("data") == secret["data"]
