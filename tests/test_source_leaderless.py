"""Shards the coordinator cannot place for a while: no leader, an unknown leader, not listed at all.

The coordinator's view may lag the DBServers (a failover in progress reports no leader or a
resigned one; a new collection is written to before it is listed). The WAL goes on meanwhile.
Whatever the source worker cannot route in such a window it holds or resyncs afterwards: every
change written reaches the shard's topic, and no heartbeat claims a tick whose change was not
sent. The stand-in's ``leader-report`` and ``coordinator-hide`` knobs make the coordinator lag.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from dc2dc.agents.source import SourceComponent
from dc2dc.pipeline.arango.http import ArangoHttp
from dc2dc.topics.envelope import Envelope, Op
from source_helpers import (  # noqa: F401 - fixtures
    arango,
    assert_contiguous,
    bootstrap,
    caught_up,
    create_collection,
    insert,
    new_dc_id,
    read_shards,
    replay_all,
    source_settings,
    standin,
    wait_until,
)

DB = "leaderless"
_CHANGES = (Op.INSERT, Op.REMOVE, Op.TRUNCATE)


def assert_no_heartbeat_passes_an_unsent_change(envs: list[Envelope]) -> None:
    """A heartbeat at T says "every change up to T is sent": no later change may be at or below T."""
    claimed = 0
    for env in envs:
        if env.op == Op.RESYNC_BEGIN:
            claimed = 0  # a resync starts the shard's ticks afresh (possibly from another server)
        elif env.op == Op.HEARTBEAT:
            claimed = max(claimed, int(env.tick))
        elif env.op in _CHANGES:
            assert int(env.tick) > claimed, (f"change at {env.tick} sent after a heartbeat at {claimed}: "
                                             f"{[(e.seq, e.op.value, e.tick) for e in envs]}")


async def _report_leader(arango: ArangoHttp, shard: str, leader: str | None) -> None:
    await arango.request("PUT", "/_admin/standin/leader-report",
                         json={"database": DB, "shard": shard, "leader": leader})


@pytest.mark.parametrize("report", ["none", "resigned"])
@pytest.mark.parametrize("held", [True, False], ids=["held", "beyond-the-bound"])
async def test_changes_while_the_coordinator_names_no_usable_leader_reach_the_topic(
        standin: dict[str, Any], arango: ArangoHttp, bootstrap: str, report: str, held: bool) -> None:
    await arango.request("POST", "/_api/database", json={"name": DB})
    shards = await create_collection(arango, DB, "c", shards=1)
    shard = shards[0]
    await insert(arango, DB, "c", [{"_key": f"k{i}", "r": 0} for i in range(10)])
    model = {f"k{i}": {"r": 0} for i in range(10)}
    src = new_dc_id()
    # Beyond the bound the shard resyncs; 3 write batches are more than a bound of 2.
    settings = source_settings(standin, bootstrap, src, **({} if held else {"max_held_units": 2}))
    async with SourceComponent(settings) as source:
        await caught_up(source, arango, shards)
        leader = source.shards[shard].server
        await _report_leader(arango, shard, report)
        await wait_until(lambda: source.state.leaders.get(shard) != leader, what="the worker to see no usable leader")
        for r in (1, 2, 3):
            docs = [{"_key": f"k{i}", "r": r} for i in range(r, r + 3)]
            await insert(arango, DB, "c", docs)
            model.update({d["_key"]: {"r": r} for d in docs})
        # The tail reads the changes and heartbeats go on (interval 1 s) while no leader is known.
        await caught_up(source, arango, shards)
        await asyncio.sleep(2.5)
        await _report_leader(arango, shard, None)
        await wait_until(lambda: source.state.leaders.get(shard) == leader, what="the same leader reported again")
        await wait_until(lambda: source.shards[shard].live, what="the shard live again")
        await caught_up(source, arango, shards)
        await asyncio.sleep(1.5)  # a heartbeat after the window

    streams = await read_shards(bootstrap, src, shards)
    assert_contiguous(streams[shard])
    assert_no_heartbeat_passes_an_unsent_change(streams[shard])
    assert replay_all(streams) == model
    reasons = [e.body["reason"] for e in streams[shard] if e.op == Op.RESYNC_BEGIN]
    assert reasons == (["initial"] if held else ["initial", "leader_unknown"])


async def test_a_shard_written_before_the_coordinator_lists_it_is_replicated_once_listed(
        standin: dict[str, Any], arango: ArangoHttp, bootstrap: str) -> None:
    await arango.request("POST", "/_api/database", json={"name": DB})
    src = new_dc_id()
    async with SourceComponent(source_settings(standin, bootstrap, src)) as source:
        await arango.request("PUT", "/_admin/standin/coordinator-hide",
                             json={"database": DB, "collection": "c", "hidden": True})
        shards = await create_collection(arango, DB, "c", shards=1)
        shard = shards[0]
        await insert(arango, DB, "c", [{"_key": "early", "r": 0}])
        # Longer than the worker waits for an unknown shard to appear before giving up on it.
        await wait_until(lambda: shard in source.state.orphans, timeout=30, what="the shard given up on")
        await arango.request("PUT", "/_admin/standin/coordinator-hide",
                             json={"database": DB, "collection": "c", "hidden": False})
        await wait_until(lambda: shard in source.shards and source.shards[shard].live, what="the shard live")
        model = {"early": {"r": 0}}
        for r in (1, 2, 3):
            await insert(arango, DB, "c", [{"_key": f"k{r}", "r": r}])
            model[f"k{r}"] = {"r": r}
        await caught_up(source, arango, shards)
        await asyncio.sleep(1.5)  # a heartbeat after the live changes

    streams = await read_shards(bootstrap, src, shards)
    assert_contiguous(streams[shard])
    assert_no_heartbeat_passes_an_unsent_change(streams[shard])
    assert replay_all(streams) == model


async def test_a_streaming_shard_the_coordinator_stops_listing_for_a_while_resyncs_when_listed_again(
        standin: dict[str, Any], arango: ArangoHttp, bootstrap: str) -> None:
    await arango.request("POST", "/_api/database", json={"name": DB})
    shards = await create_collection(arango, DB, "c", shards=1)
    shard = shards[0]
    await insert(arango, DB, "c", [{"_key": "k0", "r": 0}])
    model = {"k0": {"r": 0}}
    src = new_dc_id()
    async with SourceComponent(source_settings(standin, bootstrap, src)) as source:
        await caught_up(source, arango, shards)
        await arango.request("PUT", "/_admin/standin/coordinator-hide",
                             json={"database": DB, "collection": "c", "hidden": True})
        await wait_until(lambda: shard not in source.shards, what="the shard no longer followed")
        await insert(arango, DB, "c", [{"_key": "unlisted", "r": 1}])
        model["unlisted"] = {"r": 1}
        await wait_until(lambda: shard in source.state.orphans, timeout=30, what="the shard given up on")
        await arango.request("PUT", "/_admin/standin/coordinator-hide",
                             json={"database": DB, "collection": "c", "hidden": False})
        await wait_until(lambda: shard in source.shards and source.shards[shard].live, what="the shard live")
        await insert(arango, DB, "c", [{"_key": "relisted", "r": 2}])
        model["relisted"] = {"r": 2}
        await caught_up(source, arango, shards)
        await asyncio.sleep(1.5)

    streams = await read_shards(bootstrap, src, shards)
    assert_contiguous(streams[shard])
    assert_no_heartbeat_passes_an_unsent_change(streams[shard])
    assert replay_all(streams) == model
    assert [e.body["reason"] for e in streams[shard] if e.op == Op.RESYNC_BEGIN] == ["initial", "leader_unknown"]
