"""The source worker end to end against the stand-in cluster and real Kafka.

Each test writes to DC A through the coordinator, runs ``SourceComponent``, reads the shard
topics back and replays them the way a destination would: the replayed state must equal what
was written, seqs must be contiguous from 1, and no change may be sent twice.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from dc2dc.agents.source import SourceComponent
from dc2dc.pipeline.arango.http import ArangoHttp
from dc2dc.topics.envelope import Op
from source_helpers import (  # noqa: F401 - fixtures
    arango,
    assert_contiguous,
    bootstrap,
    caught_up,
    change_ids,
    create_collection,
    insert,
    new_dc_id,
    read_control,
    read_shards,
    remove,
    replay_all,
    run_standin,
    source_settings,
    standin,
)

DB = "shop"


async def make_db(arango: ArangoHttp, name: str = DB) -> None:
    await arango.request("POST", "/_api/database", json={"name": name})


async def test_initial_sync_then_live_changes_arrive_in_order_with_contiguous_seq(
        standin: dict[str, Any], arango: ArangoHttp, bootstrap: str) -> None:
    await make_db(arango)
    shards = await create_collection(arango, DB, "items", shards=3)
    model = {f"k{i}": {"n": i} for i in range(60)}
    await insert(arango, DB, "items", [{"_key": k, **v} for k, v in model.items()])
    src = new_dc_id()

    async with SourceComponent(source_settings(standin, bootstrap, src)) as source:
        await caught_up(source, arango, shards)
        for i in range(0, 60, 3):
            model[f"k{i}"] = {"n": i, "updated": True}
        await insert(arango, DB, "items", [{"_key": f"k{i}", "n": i, "updated": True} for i in range(0, 60, 3)])
        await remove(arango, DB, "items", [f"k{i}" for i in range(1, 60, 5)])
        for i in range(1, 60, 5):
            model.pop(f"k{i}")
        model["late"] = {"n": -1}
        await insert(arango, DB, "items", [{"_key": "late", "n": -1}])
        await caught_up(source, arango, shards)
        status = source.status()

    streams = await read_shards(bootstrap, src, shards)
    for shard, envs in streams.items():
        assert_contiguous(envs)
        assert envs[0].op == Op.RESYNC_BEGIN and envs[0].body["reason"] == "initial", shard
        end = next(i for i, e in enumerate(envs) if e.op == Op.RESYNC_END)
        assert all(e.op == Op.RESYNC_DOC for e in envs[1:end])
        t0 = int(envs[0].body["tick"])
        changes = [e for e in envs[end + 1:] if e.op != Op.HEARTBEAT]
        assert changes, f"{shard} got no live change"
        assert all(int(e.tick) > t0 for e in changes), "a change at or before T0 was sent after the snapshot"
        assert [int(e.tick) for e in changes] == sorted(int(e.tick) for e in changes)
        assert all(e.db == DB and e.coll == "items" and e.shard == shard and e.epoch >= 1 for e in envs)
        ids = change_ids(envs)
        assert len(ids) == len(set(ids)), "a change was sent twice"
    assert replay_all(streams) == model
    assert sum(status["shards"][s]["sync"]["docs"] for s in shards) == 60


@pytest.mark.parametrize("slots", [1, 4], ids=["one-sync-at-a-time", "parallel-syncs"])
async def test_writes_during_the_initial_sync_are_neither_lost_nor_reordered(
        standin: dict[str, Any], arango: ArangoHttp, bootstrap: str, slots: int) -> None:
    await make_db(arango)
    shards = await create_collection(arango, DB, "busy", shards=4)
    model: dict[str, dict[str, Any]] = {f"k{i}": {"v": 0} for i in range(400)}
    await insert(arango, DB, "busy", [{"_key": k, **v} for k, v in model.items()])
    src = new_dc_id()
    stop = asyncio.Event()

    async def keep_writing() -> None:
        round_ = 0
        while not stop.is_set():
            round_ += 1
            batch = [{"_key": f"k{(round_ * 7 + j) % 400}", "v": round_} for j in range(5)]
            for doc in batch:
                model[doc["_key"]] = {"v": round_}
            await insert(arango, DB, "busy", batch)
            await asyncio.sleep(0.005)

    writer = asyncio.create_task(keep_writing())
    try:
        settings = source_settings(standin, bootstrap, src, sync=_small_sync(), max_concurrent_syncs=slots)
        async with SourceComponent(settings) as source:
            await caught_up(source, arango, shards)
            await asyncio.sleep(0.5)
            stop.set()
            await writer
            await caught_up(source, arango, shards)
    finally:
        stop.set()
        await writer

    streams = await read_shards(bootstrap, src, shards)
    for envs in streams.values():
        assert_contiguous(envs)
    assert replay_all(streams) == model


def _small_sync() -> Any:
    from dc2dc.pipeline.source.snapshot_sync import SyncSettings
    # Small dump chunks and transactions, so the dump takes many rounds while writes go on.
    return SyncSettings(docs_per_txn=25, dump_chunk_bytes=1024)


async def test_a_transaction_stays_together_per_shard(
        standin: dict[str, Any], arango: ArangoHttp, bootstrap: str) -> None:
    await make_db(arango)
    shards = await create_collection(arango, DB, "orders", shards=1)
    src = new_dc_id()
    async with SourceComponent(source_settings(standin, bootstrap, src)) as source:
        await caught_up(source, arango, shards)
        trx = (await arango.request("POST", "/_api/transaction/begin", db=DB,
                                    json={"collections": {"write": ["orders"]}})).json()["result"]["id"]
        for i in range(3):
            await arango.request("POST", "/_api/document/orders", db=DB, json={"_key": f"t{i}", "i": i},
                                 headers={"x-arango-trx-id": trx})
        await arango.request("PUT", f"/_api/transaction/{trx}", db=DB)
        await caught_up(source, arango, shards)

    (envs,) = (await read_shards(bootstrap, src, shards)).values()
    ops = [e for e in envs if e.op not in (Op.HEARTBEAT, Op.RESYNC_BEGIN, Op.RESYNC_END)]
    assert [e.op for e in ops] == [Op.TXN_BEGIN, Op.INSERT, Op.INSERT, Op.INSERT, Op.TXN_COMMIT]
    assert len({e.tid for e in ops}) == 1 and ops[0].tid is not None
    assert int(ops[0].tick) == int(ops[1].tick), "begin shares its tick with the first operation"
    assert int(ops[-1].tick) == int(ops[-2].tick), "commit shares its tick with the last operation"


async def test_structure_epochs_are_published_only_on_change_and_data_waits_for_them(
        standin: dict[str, Any], arango: ArangoHttp, bootstrap: str) -> None:
    await make_db(arango)
    first = await create_collection(arango, DB, "first", shards=1)
    src = new_dc_id()
    async with SourceComponent(source_settings(standin, bootstrap, src)) as source:
        await caught_up(source, arango, first)
        await asyncio.sleep(2.5)  # five poll and two heartbeat intervals without a change
        assert source.publisher.epoch == source.publisher.gen, "one epoch: its generation's first"
        later = await create_collection(arango, DB, "later", shards=2)
        await insert(arango, DB, "later", [{"_key": "x", "n": 1}])
        await caught_up(source, arango, later)

    control = await read_control(bootstrap, src)
    first_epoch = control[0].gen   # a new control stream numbers its epochs from its generation id
    assert [e.epoch for e in control] == list(range(first_epoch, first_epoch + len(control)))
    assert "later" not in control[0].body["databases"][DB]["collections"]
    described = control[-1].body["databases"][DB]["collections"]["later"]
    assert described["shards"] == later
    first_with_later = next(e.epoch for e in control if "later" in e.body["databases"][DB]["collections"])
    streams = await read_shards(bootstrap, src, later)
    assert all(e.epoch >= first_with_later for envs in streams.values() for e in envs)
    assert replay_all(streams) == {"x": {"n": 1}}
    (idle,) = (await read_shards(bootstrap, src, first)).values()
    beats = [e for e in idle if e.op == Op.HEARTBEAT]
    assert len(beats) >= 2, "an idle shard gets heartbeats"
    assert [e.ts for e in beats] == sorted(e.ts for e in beats) and beats[0].ts < beats[-1].ts
    assert all(int(a.tick) <= int(b.tick) for a, b in zip(beats, beats[1:]))


async def test_a_single_server_source_replicates_its_collections_as_shards(
        tmp_path: Path, bootstrap: str) -> None:
    for info in run_standin(tmp_path, mode="single"):
        async with ArangoHttp(info["coordinator"], username=info["username"], password=info["password"]) as http:
            await make_db(http)
            shards = await create_collection(http, DB, "solo", shards=1)
            await insert(http, DB, "solo", [{"_key": "a", "n": 1}, {"_key": "b", "n": 2}])
            src = new_dc_id()
            async with SourceComponent(source_settings({**info, "jwt_secret": None}, bootstrap, src)) as source:
                await caught_up(source, http, shards)
                await insert(http, DB, "solo", [{"_key": "c", "n": 3}])
                await remove(http, DB, "solo", ["a"])
                await caught_up(source, http, shards)
            control = await read_control(bootstrap, src)

    assert shards[0].startswith("c")
    assert control[-1].body["databases"][DB]["collections"]["solo"]["shards"] == shards
    streams = await read_shards(bootstrap, src, shards)
    assert_contiguous(streams[shards[0]])
    assert replay_all(streams) == {"b": {"n": 2}, "c": {"n": 3}}


async def test_a_collection_truncated_dropped_and_recreated_mid_stream_gets_new_shards(
        standin: dict[str, Any], arango: ArangoHttp, bootstrap: str) -> None:
    await make_db(arango)
    await create_collection(arango, DB, "keep", shards=1)
    src = new_dc_id()
    async with SourceComponent(source_settings(standin, bootstrap, src)) as source:
        old = await create_collection(arango, DB, "phoenix", shards=2)
        await insert(arango, DB, "phoenix", [{"_key": f"o{i}", "n": i} for i in range(20)])
        await caught_up(source, arango, old)
        await arango.request("PUT", "/_api/collection/phoenix/truncate", db=DB)
        await insert(arango, DB, "phoenix", [{"_key": "after-truncate", "n": 0}])
        await caught_up(source, arango, old)
        truncated = await read_shards(bootstrap, src, old)
        await arango.request("DELETE", "/_api/collection/phoenix", db=DB)
        new = await create_collection(arango, DB, "phoenix", shards=2)
        await insert(arango, DB, "phoenix", [{"_key": f"n{i}", "n": i} for i in range(10)])
        await caught_up(source, arango, new)
        assert not set(old) & set(source.shards), "the dropped collection's shards are no longer followed"
        assert source._failure is None

    assert set(old).isdisjoint(new)
    assert any(e.op == Op.TRUNCATE for envs in truncated.values() for e in envs)
    assert replay_all(truncated) == {"after-truncate": {"n": 0}}
    streams = await read_shards(bootstrap, src, new)
    assert replay_all(streams) == {f"n{i}": {"n": i} for i in range(10)}
    control = await read_control(bootstrap, src)
    cids = {e.body["databases"][DB]["collections"].get("phoenix", {}).get("cid") for e in control} - {None}
    assert len(cids) == 2, "the re-created collection has a new cid"


async def test_a_document_larger_than_a_kafka_message_travels_in_chunks(
        standin: dict[str, Any], arango: ArangoHttp, bootstrap: str) -> None:
    await make_db(arango)
    shards = await create_collection(arango, DB, "big", shards=1)
    before = {"_key": "before", "blob": "a" * (12 * 1024 * 1024)}
    await insert(arango, DB, "big", [before])
    src = new_dc_id()
    async with SourceComponent(source_settings(standin, bootstrap, src)) as source:
        await caught_up(source, arango, shards)
        after = {"_key": "after", "blob": "ü" * (10 * 1024 * 1024)}
        await insert(arango, DB, "big", [after])
        await caught_up(source, arango, shards)

    streams = await read_shards(bootstrap, src, shards)
    assert_contiguous(streams[shards[0]])
    assert replay_all(streams) == {"before": {"blob": before["blob"]}, "after": {"blob": after["blob"]}}


async def test_data_of_a_new_collection_forces_a_structure_poll_instead_of_waiting_for_the_timer(
        standin: dict[str, Any], arango: ArangoHttp, bootstrap: str) -> None:
    await make_db(arango)
    src = new_dc_id()
    async with SourceComponent(source_settings(standin, bootstrap, src, structure_interval_s=3600)) as source:
        assert source.publisher.epoch == source.publisher.gen
        fresh = await create_collection(arango, DB, "fresh", shards=2)
        await insert(arango, DB, "fresh", [{"_key": f"f{i}", "n": i} for i in range(10)])
        await caught_up(source, arango, fresh)

    control = await read_control(bootstrap, src)
    assert len(control) == 2 and "fresh" in control[1].body["databases"][DB]["collections"]
    streams = await read_shards(bootstrap, src, fresh)
    assert all(e.epoch == control[1].epoch for envs in streams.values() for e in envs)
    assert replay_all(streams) == {f"f{i}": {"n": i} for i in range(10)}
