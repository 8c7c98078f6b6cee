"""A -> B with workers running throughout: structure, bulk data, per-key order, collection life
cycle, large documents and Unicode names all reach B. The tests share one pipeline (each uses its
own databases); every convergence check covers the whole deployment, so it also re-checks what
earlier tests replicated."""

from __future__ import annotations

import asyncio
import hashlib
import threading

import pytest
from aiokafka import AIOKafkaConsumer

from dc2dc.topics.codec import decode
from dc2dc.topics.envelope import Op
from dc2dc.topics.names import shard_topic
from e2e.harness import Pipeline, wait_in_sync

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

UNICODE_DB = "e2e_δοκιμή_データ"


def _create_structure(pipeline: Pipeline) -> None:
    sysdb = pipeline.db("A")
    for name in ("e2e_shop", UNICODE_DB):
        sysdb.create_database(name)
        db = pipeline.db("A", name)
        db.create_analyzer("e2e_text", "text", {"locale": "en", "case": "lower", "accent": False, "stemming": True},
                           ["frequency", "norm", "position"])
        customers = db.create_collection(
            "customers", shard_count=3, write_concern=1, key_generator="traditional", user_keys=True,
            schema={"rule": {"type": "object", "properties": {"email": {"type": "string"}}}, "level": "moderate",
                    "message": "email must be a string"})
        customers.add_index({"type": "persistent", "fields": ["email"], "unique": True, "name": "by_email"})
        customers.add_index({"type": "persistent", "fields": ["city", "age"], "sparse": True, "name": "by_city_age"})
        customers.add_index({"type": "ttl", "fields": ["expiresAt"], "expireAfter": 10 * 365 * 86400,
                             "name": "expiry"})
        db.create_collection("follows", edge=True, shard_count=2)
        db.create_arangosearch_view("customers_view", properties={
            "links": {"customers": {"analyzers": ["e2e_text"], "fields": {"name": {}}}}})
    sysdb.create_user("e2e_alice", "secret", active=True)
    sysdb.update_permission("e2e_alice", "rw", "e2e_shop")
    sysdb.update_permission("e2e_alice", "ro", "e2e_shop", "customers")
    sysdb.update_permission("e2e_alice", "ro", UNICODE_DB)


def _customer(i: int) -> dict:
    return {"_key": f"c{i}", "name": f"customer number {i}", "email": f"c{i}@example.org",
            "city": ["Köln", "Oslo", "Lyon"][i % 3], "age": 20 + i % 50, "expiresAt": 4_102_444_800}


def test_structure_and_50000_documents_created_in_a_converge_in_b(shared_pipeline: Pipeline) -> None:
    _create_structure(shared_pipeline)
    shop, uni = shared_pipeline.db("A", "e2e_shop"), shared_pipeline.db("A", UNICODE_DB)
    for start in range(0, 30_000, 1000):
        shop.collection("customers").import_bulk([_customer(i) for i in range(start, start + 1000)])
    for start in range(0, 10_000, 1000):
        shop.collection("follows").import_bulk(
            [{"_key": f"f{i}", "_from": f"customers/c{i}", "_to": f"customers/c{(i * 7) % 30_000}", "since": i}
             for i in range(start, start + 1000)])
        uni.collection("customers").import_bulk([_customer(i) for i in range(start, start + 1000)])
    assert shop.collection("customers").count() + shop.collection("follows").count() \
        + uni.collection("customers").count() == 50_000

    report = wait_in_sync(shared_pipeline, timeout=420)

    compared = {(s.db, s.coll) for s in report.shards}
    assert {("e2e_shop", "customers"), ("e2e_shop", "follows"), (UNICODE_DB, "customers")} <= compared
    assert sum(s.target.count for s in report.shards if s.db in ("e2e_shop", UNICODE_DB)) == 50_000
    b_shop = shared_pipeline.db("B", "e2e_shop")
    assert len(b_shop.collection("customers").shards()["shards"]) == 3
    assert {i["name"] for i in b_shop.collection("customers").indexes()} >= {"by_email", "by_city_age", "expiry"}
    assert "customers_view" in {v["name"] for v in b_shop.views()}
    assert "e2e_shop::e2e_text" in {a["name"] for a in b_shop.analyzers()}
    b_sys = shared_pipeline.db("B")
    assert b_sys.permission("e2e_alice", "e2e_shop") == "rw"
    assert b_sys.permission("e2e_alice", "e2e_shop", "customers") == "ro"


def _responsible_shard(pipeline: Pipeline, db: str, coll: str, key: str) -> str:
    async def ask() -> str:
        async with pipeline.http("A") as http:
            resp = await http.request("PUT", f"/_api/collection/{coll}/responsibleShard", db=db, json={"_key": key})
            return resp.json()["shardId"]
    return asyncio.run(ask())


def _updates_on_topic(bootstrap: str, topic: str, key: str, last_value: int) -> list[int]:
    """The values of ``key`` in the ordinary change messages of ``topic``, in topic order (one per seq)."""
    async def read() -> list[int]:
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                    isolation_level="read_committed", enable_auto_commit=False)
        await consumer.start()
        values: list[int] = []
        seen: set[int] = set()
        try:
            while not values or values[-1] != last_value:
                batch = await consumer.getmany(timeout_ms=60_000)
                assert batch, f"{topic} ran dry before value {last_value} of {key!r}; got {values[-5:]}"
                for records in batch.values():
                    for rec in records:
                        env = decode(rec.value, rec.headers, topic=topic, offset=rec.offset)
                        # MM2 may deliver a record twice; a seq identifies it.
                        if env.seq in seen:
                            continue
                        seen.add(env.seq)
                        if env.op is Op.INSERT and env.doc and env.doc.get("_key") == key:
                            values.append(env.doc["v"])
        finally:
            await consumer.stop()
        return values
    return asyncio.run(read())


def test_1000_updates_of_one_key_arrive_in_b_in_order(shared_pipeline: Pipeline) -> None:
    shared_pipeline.db("A").create_database("e2e_order")
    counters = shared_pipeline.db("A", "e2e_order").create_collection("counters", shard_count=3)
    counters.insert({"_key": "hot", "v": 0})
    wait_in_sync(shared_pipeline)

    b_counters = shared_pipeline.db("B", "e2e_order").collection("counters")
    seen_in_b: list[int] = []
    done = threading.Event()

    def watch_b() -> None:
        while not done.is_set():
            seen_in_b.append(b_counters.get("hot")["v"])

    watcher = threading.Thread(target=watch_b)
    watcher.start()
    try:
        for v in range(1, 1001):
            counters.update({"_key": "hot", "v": v})
        wait_in_sync(shared_pipeline)
    finally:
        done.set()
        watcher.join()

    assert b_counters.get("hot")["v"] == 1000
    assert seen_in_b == sorted(seen_in_b), "B showed an older value of the key after a newer one"
    shard = _responsible_shard(shared_pipeline, "e2e_order", "counters", "hot")
    on_topic = _updates_on_topic(shared_pipeline.env.bootstrap("B"), shard_topic("A", shard), "hot", 1000)
    assert [v for v in on_topic if v >= 1] == list(range(1, 1001))


def test_collection_created_filled_truncated_dropped_and_recreated_ends_identical(
        shared_pipeline: Pipeline) -> None:
    shared_pipeline.db("A").create_database("e2e_lifecycle")
    db = shared_pipeline.db("A", "e2e_lifecycle")
    phoenix = db.create_collection("phoenix", shard_count=3)
    phoenix.import_bulk([{"_key": f"k{i}", "gen": 1, "i": i} for i in range(2000)])
    phoenix.truncate()
    phoenix.import_bulk([{"_key": f"k{i}", "gen": 1, "i": i} for i in range(500)])
    db.delete_collection("phoenix")
    phoenix = db.create_collection("phoenix", shard_count=2)
    phoenix.import_bulk([{"_key": f"k{i}", "gen": 2, "i": i} for i in range(0, 3000, 3)])
    phoenix.delete_many([{"_key": f"k{i}"} for i in range(0, 300, 3)])

    wait_in_sync(shared_pipeline)

    b_phoenix = shared_pipeline.db("B", "e2e_lifecycle").collection("phoenix")
    assert len(b_phoenix.shards()["shards"]) == 2
    assert b_phoenix.count() == 900
    assert {d["gen"] for d in b_phoenix.all()} == {2}


def test_20mb_document_and_unicode_database_and_collection_names_replicate(shared_pipeline: Pipeline) -> None:
    db_name, coll_name = "e2e_大きい_Ωmega", "документы_ü"
    shared_pipeline.db("A").create_database(db_name)
    coll = shared_pipeline.db("A", db_name).create_collection(coll_name, shard_count=2)
    blob = hashlib.sha256(b"dc2dc").hexdigest() * (20 * 1024 * 1024 // 64)
    coll.insert({"_key": "big", "blob": blob})
    coll.insert({"_key": "small", "text": "grüße, 世界"})

    wait_in_sync(shared_pipeline, timeout=300)

    b_coll = shared_pipeline.db("B", db_name).collection(coll_name)
    assert b_coll.get("big")["blob"] == blob
    assert b_coll.get("small")["text"] == "grüße, 世界"
