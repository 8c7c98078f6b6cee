"""The destination worker end to end on real Kafka and a stand-in cluster.

Each test plays the source side by hand: it produces structure epochs and shard messages
(``topics.codec``/``chunking``) into DC B's Kafka, as MirrorMaker 2 would deliver them, runs a
``DestinationWorker`` and checks B's ArangoDB. Every test uses its own source DC id, so topics,
consumer groups and positions never clash.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest_asyncio
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from dc2dc.agents.destination import DestinationConfig, DestinationWorker
from dc2dc.pipeline.arango.http import ArangoHttp
from dc2dc.pipeline.ops.lag import read_heads, shard_lags
from dc2dc.pipeline.destination.positions import Position, PositionStore
from dc2dc.pipeline.destination.structure_requests import StructureError
from dc2dc.topics import codec
from dc2dc.topics.admin import ensure_topics
from dc2dc.topics.chunking import MAX_MESSAGE_BYTES, ChunkLimits, to_records
from dc2dc.topics.envelope import Envelope, Op
from dc2dc.topics.names import control_topic, feedback_topic, shard_topic
from dc2dc.topics.signing import Signer, Verifier
from dest_helpers import all_docs, http, kafka_b, keys_in_shard, shard_ids, standin_b  # noqa: F401 (fixtures)

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


async def eventually(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


def coll(cid: str, shards: list[str]) -> dict[str, Any]:
    return {"cid": cid, "type": 2, "shards": shards, "indexes": [],
            "properties": {"numberOfShards": len(shards), "shardKeys": ["_key"], "replicationFactor": 1,
                           "writeConcern": 1, "shardingStrategy": "hash",
                           "keyOptions": {"type": "traditional", "allowUserKeys": True}}}


class Source:
    """Plays DC A: produces what A's workers would, straight into B's Kafka."""

    def __init__(self, bootstrap: str, producer: AIOKafkaProducer, src: str, signer: Signer | None = None) -> None:
        self.bootstrap, self.producer, self.src, self.signer = bootstrap, producer, src, signer
        self.seqs: dict[str, int] = {}
        self.limits = ChunkLimits(max_message_bytes=256 * 1024)

    async def topics(self, *shards: str) -> None:
        await ensure_topics(self.bootstrap, [control_topic(self.src), *(shard_topic(self.src, s) for s in shards)])

    async def structure(self, epoch: int, db: str, collections: dict[str, Any]) -> None:
        snap = {"databases": {db: {"options": {}, "collections": collections}}, "users": {}}
        await self.send(control_topic(self.src), Envelope(op=Op.STRUCTURE, src=self.src, seq=epoch, epoch=epoch,
                                                          ts=_now(), body=snap))

    async def data(self, shard: str, op: Op, *, epoch: int = 1, seq: int | None = None, **fields: Any) -> int:
        if seq is None:
            seq = self.seqs.get(shard, 0) + 1
        self.seqs[shard] = max(seq, self.seqs.get(shard, 0))
        await self.send(shard_topic(self.src, shard), Envelope(op=op, src=self.src, seq=seq, epoch=epoch,
                                                               shard=shard, ts=_now(), tick=str(seq), **fields))
        return seq

    async def insert(self, shard: str, key: str, *, epoch: int = 1, **doc: Any) -> int:
        return await self.data(shard, Op.INSERT, doc={"_key": key, **doc}, epoch=epoch)

    async def send(self, topic: str, env: Envelope) -> None:
        for value, headers in to_records(env, self.limits):
            if self.signer is not None:
                headers = self.signer.sign(value, headers)
            await self.producer.send(topic, value, headers=headers)
        await self.producer.flush()


def _now() -> int:
    return int(time.time() * 1000)


@pytest_asyncio.fixture(loop_scope="function")
async def source(kafka_b: str) -> AsyncIterator[Source]:
    producer = AIOKafkaProducer(bootstrap_servers=kafka_b, max_request_size=MAX_MESSAGE_BYTES)
    await producer.start()
    try:
        yield Source(kafka_b, producer, f"A{uuid.uuid4().hex[:8]}")
    finally:
        await producer.stop()


def config(source: Source, **kw: Any) -> DestinationConfig:
    return DestinationConfig(src=source.src, dst="B", bootstrap=source.bootstrap, metadata_max_age_ms=1000,
                             feedback_interval_s=0.5, **kw)


async def applied_seq(http: ArangoHttp, src: str, shard: str) -> int:
    pos = (await PositionStore(http, src).load()).get(shard)
    return pos.seq if pos else 0


async def test_structure_documents_hot_key_large_document_and_duplicates(http: ArangoHttp, source: Source) -> None:
    db = f"d{source.src}"
    await source.topics("s11", "s12", "s13")
    await source.structure(1, db, {"orders": coll("c1", ["s11", "s12", "s13"])})
    for i in range(20):
        await source.insert(f"s1{1 + i % 3}", f"k{i}", n=i, _rev=f"_hV2m3y{i:02d}--")
    for n in range(1, 1001):
        await source.insert("s11", "hot", n=n)
    big = "x" * 600_000
    await source.insert("s12", "big", blob=big)
    # MirrorMaker 2 redelivers: the same seqs again, here with other content so applying them would show
    for seq in range(3, 8):
        await source.data("s11", Op.INSERT, seq=seq, doc={"_key": "k0", "n": -1})

    async with DestinationWorker(config(source), http) as worker:
        await eventually(lambda: _at(http, source, {"s11": 1007, "s12": 8, "s13": 6}), "all shards applied")
        assert worker.stats.duplicates == 5
        assert worker.stats.stopped == {}

    props = (await http.request("GET", "/_api/collection/orders/properties", db=db)).json()
    assert props["numberOfShards"] == 3
    docs = await all_docs(http, db, "orders")
    assert len(docs) == 22
    assert docs["hot"]["n"] == 1000
    assert docs["k0"]["n"] == 0, "a redelivered (duplicate) message was applied again"
    assert docs["k5"]["_rev"] == "_hV2m3y05--"
    assert docs["big"]["blob"] == big


async def _at(http: ArangoHttp, source: Source, want: dict[str, int]) -> bool:
    positions = await PositionStore(http, source.src).load()
    return all(s in positions and positions[s].seq >= seq for s, seq in want.items())


async def test_data_waits_for_its_epoch_truncate_hits_one_shard_and_a_recreated_collection_starts_empty(
    http: ArangoHttp, source: Source
) -> None:
    db = f"d{source.src}"
    await source.topics("s11", "s12", "s21")
    for i in range(30):   # data before its structure exists
        await source.insert("s11" if i % 2 else "s12", f"k{i}")
    async with DestinationWorker(config(source), http) as worker:
        await asyncio.sleep(1.5)
        assert worker.stats.applied == 0 and worker.structure_epoch == 0
        await source.structure(1, db, {"orders": coll("c1", ["s11", "s12"])})
        await eventually(lambda: _at(http, source, {"s11": 15, "s12": 15}), "data applied after its epoch")
        assert len(await all_docs(http, db, "orders")) == 30

        second_shard = (await shard_ids(http, db, "orders"))[1]
        kept_in_first = await keys_in_shard(http, db, "orders", (await shard_ids(http, db, "orders"))[0])
        await source.data("s12", Op.TRUNCATE)
        await eventually(lambda: _at(http, source, {"s12": 16}), "truncate applied")
        assert await keys_in_shard(http, db, "orders", second_shard) == []
        assert sorted(await all_docs(http, db, "orders")) == sorted(kept_in_first)

        # The source drops "orders" and creates a new one with the same name (other id and shards).
        await source.insert("s21", "new", epoch=3)
        await source.structure(2, db, {})
        await source.structure(3, db, {"orders": coll("c2", ["s21", "s22"])})
        await source.insert("s11", "late-old-shard")   # epoch 1, produced before the drop: voided
        await eventually(lambda: _at(http, source, {"s21": 1, "s11": 16}), "new collection applied")
        assert worker.structure_epoch == 3
        assert list(await all_docs(http, db, "orders")) == ["new"]
        assert worker.stats.discarded == 1
        assert worker.stats.stopped == {}


async def test_a_gap_stops_the_shard_asks_for_a_resync_and_the_resync_heals_it(
    http: ArangoHttp, source: Source
) -> None:
    db = f"d{source.src}"
    await source.topics("s11")
    await ensure_topics(source.bootstrap, [feedback_topic(source.src, "B")])
    await source.structure(1, db, {"c": coll("c1", ["s11"])})
    await source.insert("s11", "a")
    await source.insert("s11", "b")
    await source.data("s11", Op.TXN_BEGIN, tid="7")
    await source.data("s11", Op.INSERT, tid="7", doc={"_key": "in-txn"})
    await source.data("s11", Op.INSERT, seq=6, doc={"_key": "after-gap"})   # seq 5 (the commit) lost

    feedback = AIOKafkaConsumer(feedback_topic(source.src, "B"), bootstrap_servers=source.bootstrap,
                                auto_offset_reset="earliest", group_id=None)
    await feedback.start()
    try:
        async with DestinationWorker(config(source), http) as worker:
            await eventually(lambda: _at(http, source, {"s11": 2}), "messages before the gap applied")
            requests = await _feedback(feedback, Op.RESYNC_REQUEST)
            assert requests[0].body["shard"] == "s11" and requests[0].body["dst"] == "B"
            assert "s11" in worker.stats.stopped
            assert sorted(await all_docs(http, db, "c")) == ["a", "b"]

            # The source answers with a full resync of the shard: "a" is gone there, "c" is new.
            await source.data("s11", Op.RESYNC_BEGIN, seq=7, body={"tick": "5", "reason": "gap"})
            await source.data("s11", Op.RESYNC_DOC, doc={"_key": "b", "v": 2})
            await source.data("s11", Op.RESYNC_DOC, doc={"_key": "c"})
            await source.data("s11", Op.RESYNC_END, body={"count": 2, "full": True})
            await source.insert("s11", "d")
            await eventually(lambda: _at(http, source, {"s11": 11}), "resync applied")
            assert worker.stats.stopped == {}
            assert sorted(await all_docs(http, db, "c")) == ["b", "c", "d"]
            applied = await _feedback(feedback, Op.APPLIED, lambda e: e.body["positions"]["s11"]["seq"] == 11)
            assert applied[-1].body["dst"] == "B"
    finally:
        await feedback.stop()


async def _feedback(consumer: AIOKafkaConsumer, op: Op, match: Callable[[Envelope], bool] = lambda e: True,
                    timeout: float = 20.0) -> list[Envelope]:
    found: list[Envelope] = []
    deadline = time.monotonic() + timeout
    while not found and time.monotonic() < deadline:
        for records in (await consumer.getmany(timeout_ms=500)).values():
            envs = [codec.decode(r.value, list(r.headers)) for r in records]
            found += [e for e in envs if e.op is op and match(e)]
    assert found, f"no {op.value} on the feedback topic"
    return found


async def test_a_restarted_worker_resumes_from_the_stored_position_without_loss(
    http: ArangoHttp, source: Source
) -> None:
    db = f"d{source.src}"
    await source.topics("s11")
    await source.structure(1, db, {"c": coll("c1", ["s11"])})
    for i in range(1, 51):
        await source.insert("s11", f"k{i}", v=i)
    async with DestinationWorker(config(source), http):
        await eventually(lambda: _at(http, source, {"s11": 50}), "first half applied")
    for i in range(51, 101):
        await source.insert("s11", f"k{i}", v=i)
    for seq in range(45, 51):   # redelivered by MirrorMaker 2 after its own restart
        await source.data("s11", Op.INSERT, seq=seq, doc={"_key": f"k{seq}", "v": -1})
    async with DestinationWorker(config(source), http) as worker:
        await eventually(lambda: _at(http, source, {"s11": 100}), "second half applied")
        assert worker.stats.applied == 50, "only messages after the stored position are applied"
        assert worker.stats.duplicates == 6
    docs = await all_docs(http, db, "c")
    assert {k: d["v"] for k, d in docs.items()} == {f"k{i}": i for i in range(1, 101)}


async def _true(value: bool) -> bool:
    return value


async def test_a_worker_restarted_inside_a_resync_replays_it_from_its_beginning(
    http: ArangoHttp, source: Source
) -> None:
    db = f"d{source.src}"
    await source.topics("s11")
    await source.structure(1, db, {"c": coll("c1", ["s11"])})
    for key in ("stale", "kept"):
        await source.insert("s11", key)
    await source.data("s11", Op.RESYNC_BEGIN, body={"tick": "3", "reason": "leader_move"})
    await source.data("s11", Op.RESYNC_DOC, doc={"_key": "kept", "v": 2})
    async with DestinationWorker(config(source), http):
        await eventually(lambda: _at(http, source, {"s11": 4}), "first half of the resync applied")
    stored = (await PositionStore(http, source.src).load())["s11"]
    assert (stored.seq, stored.resync_from) == (4, 3)

    await source.data("s11", Op.RESYNC_DOC, doc={"_key": "new"})
    await source.data("s11", Op.RESYNC_END, body={"count": 2, "full": True})
    async with DestinationWorker(config(source), http) as worker:
        await eventually(lambda: _at(http, source, {"s11": 6}), "resync finished")
        assert worker.stats.stopped == {}
    assert (await PositionStore(http, source.src).load())["s11"].resync_from is None
    docs = await all_docs(http, db, "c")
    assert sorted(docs) == ["kept", "new"] and docs["kept"]["v"] == 2


async def test_a_transaction_becomes_visible_only_with_its_commit(http: ArangoHttp, source: Source) -> None:
    db = f"d{source.src}"
    await source.topics("s11")
    await source.structure(1, db, {"c": coll("c1", ["s11"])})
    await source.insert("s11", "before")
    await source.data("s11", Op.TXN_BEGIN, tid="42")
    for i in range(5):
        await source.data("s11", Op.INSERT, tid="42", doc={"_key": f"t{i}"})
    async with DestinationWorker(config(source), http):
        await eventually(lambda: _at(http, source, {"s11": 1}), "the message before the transaction")
        await asyncio.sleep(1.0)
        assert sorted(await all_docs(http, db, "c")) == ["before"], "a transaction without its commit was applied"
        await source.data("s11", Op.TXN_COMMIT, tid="42")
        await eventually(lambda: _at(http, source, {"s11": 8}), "the committed transaction")
    assert sorted(await all_docs(http, db, "c")) == ["before", "t0", "t1", "t2", "t3", "t4"]


async def test_lag_shows_what_is_behind_and_then_in_sync(http: ArangoHttp, source: Source) -> None:
    db = f"d{source.src}"
    await source.topics("s11", "s12")
    await source.structure(1, db, {"c": coll("c1", ["s11", "s12"])})
    for i in range(10):
        await source.insert("s11", f"k{i}")
    await source.data("s12", Op.HEARTBEAT)
    await source.data("s11", Op.INSERT, seq=4, doc={"_key": "k3"})   # a redelivery is never the head
    heads = await read_heads(source.bootstrap, source.src)
    assert {s: h.seq for s, h in heads.items()} == {"s11": 10, "s12": 1}
    before = {lag.shard: lag for lag in shard_lags(heads, await PositionStore(http, source.src).load())}
    assert (before["s11"].behind, before["s12"].behind) == (10, 1)
    async with DestinationWorker(config(source), http):
        await eventually(lambda: _at(http, source, {"s11": 10, "s12": 1}), "all applied")
    after = shard_lags(heads, await PositionStore(http, source.src).load())
    assert [(lag.shard, lag.in_sync, lag.lag_ms) for lag in after] == [("s11", True, 0), ("s12", True, 0)]


async def test_a_wrong_offset_hint_makes_the_shard_read_from_the_beginning(http: ArangoHttp, source: Source) -> None:
    db = f"d{source.src}"
    await source.topics("s11")
    await source.structure(1, db, {"c": coll("c1", ["s11"])})
    for i in range(1, 11):
        await source.insert("s11", f"k{i}")
    # Applied up to seq 2, but the hint says offset 6 (as if the topic had been re-created).
    store = PositionStore(http, source.src)
    await store.ensure()
    await store.save([Position(src=source.src, shard="s11", seq=2, offset=6)])
    async with DestinationWorker(config(source), http) as worker:
        await eventually(lambda: _at(http, source, {"s11": 10}), "the shard applied to its end")
        assert worker.stats.stopped == {} and worker.stats.duplicates == 2
    assert sorted(await all_docs(http, db, "c")) == sorted(f"k{i}" for i in range(3, 11))


async def test_stopping_a_worker_mid_stream_and_restarting_converges(http: ArangoHttp, source: Source) -> None:
    db = f"d{source.src}"
    shards = ["s11", "s12", "s13"]
    await source.topics(*shards)
    await source.structure(1, db, {"c": coll("c1", shards)})
    for i in range(3000):   # a key always lives in one shard, as the source's sharding guarantees
        await source.data(shards[(i % 700) % 3], Op.INSERT, doc={"_key": f"k{i % 700}", "i": i})

    cfg = config(source, max_ops=50)
    first = DestinationWorker(cfg, http)
    await first.start()
    try:
        await eventually(lambda: _true(first.stats.applied >= 300), "some progress")
    finally:
        await first.stop()   # cancels in-flight batches: their data may be applied, positions not yet
    applied_before = first.stats.applied
    async with DestinationWorker(cfg, http) as second:
        await eventually(lambda: _at(http, source, dict(source.seqs)), "every shard applied")
        reapplied = applied_before + second.stats.applied - 3000
    assert reapplied >= 0, "a message was neither applied before the stop nor after the restart"
    print(f"re-applied after the stop: {reapplied} of 3000 messages")
    docs = await all_docs(http, db, "c")
    assert {k: d["i"] for k, d in docs.items()} == {f"k{j}": max(i for i in range(3000) if i % 700 == j)
                                                   for j in range(700)}


async def test_a_structure_that_cannot_be_applied_fails_the_worker_loudly_and_applies_no_data(
    http: ArangoHttp, source: Source
) -> None:
    db = f"d{source.src}"
    await http.request("POST", "/_api/database", json={"name": db})
    await http.request("POST", "/_api/collection", db=db, json={"name": "c", "numberOfShards": 2})
    await source.topics("s11")
    await source.structure(1, db, {"c": coll("c1", ["s11", "s12", "s13"])})
    await source.insert("s11", "k")
    async with DestinationWorker(config(source), http) as worker:
        with pytest.raises(StructureError, match="numberOfShards"):
            await asyncio.wait_for(worker.wait(), 30)
        assert "numberOfShards" in (worker.stats.control_error or "")
        assert worker.structure_epoch == 0 and worker.stats.applied == 0
    assert await all_docs(http, db, "c") == {}


async def test_a_second_worker_of_the_flow_stands_by_and_takes_over(http: ArangoHttp, source: Source) -> None:
    db = f"d{source.src}"
    await source.topics("s11", "s12")
    await source.structure(1, db, {"c": coll("c1", ["s11", "s12"])})
    for i in range(40):
        await source.insert(f"s1{1 + i % 2}", f"k{i}")
    one, two = DestinationWorker(config(source), http), DestinationWorker(config(source), http)
    await one.start()
    try:
        await eventually(lambda: _at(http, source, {"s11": 20, "s12": 20}), "applied by the first worker")
        await two.start()
        await eventually(lambda: _true(one.stats.active != two.stats.active), "exactly one active worker")
        active, standby = (one, two) if one.stats.active else (two, one)
        await active.stop()
        await eventually(lambda: _true(standby.stats.active), "the standby took over")
        for i in range(40, 60):
            await source.insert(f"s1{1 + i % 2}", f"k{i}")
        await eventually(lambda: _at(http, source, {"s11": 30, "s12": 30}), "applied after the take-over")
        assert standby.stats.stopped == {}
    finally:
        await one.stop()
        await two.stop()
    await asyncio.wait_for(asyncio.gather(one.wait(), two.wait()), 5)   # a stopped worker has ended cleanly
    assert sorted(await all_docs(http, db, "c")) == sorted(f"k{i}" for i in range(60))


async def test_a_20_mb_document_in_chunks_is_applied_whole(http: ArangoHttp, source: Source) -> None:
    db = f"d{source.src}"
    source.limits = ChunkLimits()   # the production limit: 8 MiB messages
    await source.topics("s11")
    await source.structure(1, db, {"c": coll("c1", ["s11"])})
    blob = "é" * (10 * 1024 * 1024)   # 20 MiB of UTF-8
    await source.insert("s11", "big", blob=blob)
    await source.insert("s11", "after")
    async with DestinationWorker(config(source), http) as worker:
        await eventually(lambda: _at(http, source, {"s11": 2}), "the large document applied", timeout=60)
        assert worker.stats.stopped == {}
    doc = (await http.request("GET", "/_api/document/c/big", db=db)).json()
    assert doc["blob"] == blob
