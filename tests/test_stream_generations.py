"""Streams that lose their history: a control or shard topic emptied or re-created at the source.

A restarted source worker that finds a topic empty starts a new *generation* of that stream
(seq from 1 again on a shard, epochs above every earlier one on the control topic). The
destination must take it for what it is — new data that replaces its state — never for old
news it already applied. Real source and destination workers on one real Kafka (MirrorMaker 2
copies records unchanged) and the stand-in as both ArangoDBs; topics are deleted for real.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from dc2dc.agents.destination import DestinationConfig, DestinationWorker
from dc2dc.agents.source import SourceComponent
from dc2dc.pipeline.arango.http import ArangoHttp
from dc2dc.pipeline.destination.positions import PositionStore
from dc2dc.pipeline.ops.lag import read_heads, shard_lags
from dc2dc.topics.names import control_topic, shard_topic
from dest_helpers import all_docs, http, kafka_b, standin_b  # noqa: F401 (fixtures)
from source_helpers import create_collection, insert, new_dc_id, remove, run_standin, source_settings, wait_until


@pytest.fixture
def standin_a(tmp_path: Path) -> Iterator[dict[str, Any]]:
    yield from run_standin(tmp_path)


async def same_documents(a: ArangoHttp, b: ArangoHttp, db: str, coll: str) -> bool:
    try:
        want, have = await all_docs(a, db, coll), await all_docs(b, db, coll)
    except Exception:   # the database or collection is not in B yet
        return False
    strip = lambda docs: {k: {f: v for f, v in d.items() if f != "_id"} for k, d in docs.items()}  # noqa: E731
    return bool(want) and strip(want) == strip(have)


async def delete_topic(bootstrap: str, topic: str) -> None:
    """Delete a topic and wait until the broker no longer lists it (as retention or an operator would)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_topics([topic])

        async def gone() -> bool:
            return topic not in await admin.list_topics()
        await wait_until(gone, what=f"{topic} deleted")
    finally:
        await admin.close()


async def topic_config(bootstrap: str, topic: str, name: str) -> str | None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (response,) = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic, {name: None})])
        return {e[0]: e[1] for e in response.resources[0][4]}.get(name)
    finally:
        await admin.close()


def dest_config(src: str, kafka: str) -> DestinationConfig:
    return DestinationConfig(src=src, dst="B", bootstrap=kafka, metadata_max_age_ms=1000, feedback_interval_s=1)


async def test_a_shard_topic_lost_while_the_source_was_down_is_resynced_into_b_as_a_new_generation(
    standin_a: dict[str, Any], http: ArangoHttp, kafka_b: str
) -> None:
    src = new_dc_id()
    async with ArangoHttp(standin_a["coordinator"], username=standin_a["username"],
                          password=standin_a["password"]) as a:
        db = f"d{src}"   # B is shared by this module's tests
        await a.request("POST", "/_api/database", json={"name": db})
        (shard,) = await create_collection(a, db, "items", shards=1)
        await insert(a, db, "items", [{"_key": f"k{i}", "n": i} for i in range(4)])
        async with SourceComponent(source_settings(standin_a, kafka_b, src)), \
                DestinationWorker(dest_config(src, kafka_b), http):
            await wait_until(lambda: same_documents(a, http, db, "items"), what="first generation in B")
            # A long first stream (100 changes) for a short second one (a dozen documents): every
            # seq of the new generation's resync is one B has stored already.
            await insert(a, db, "items", [{"_key": f"t{i}"} for i in range(50)])
            await remove(a, db, "items", [f"t{i}" for i in range(50)])
            await insert(a, db, "items", [{"_key": f"k{i}", "n": i} for i in range(4, 12)])
            await wait_until(lambda: same_documents(a, http, db, "items"), what="live changes in B")
        applied_before = (await PositionStore(http, src).load())[shard]

        # Everything down; the shard topic is lost (retention ran out, or it was re-created),
        # and A changes meanwhile.
        await delete_topic(kafka_b, shard_topic(src, shard))
        await remove(a, db, "items", ["k0", "k1"])
        await insert(a, db, "items", [{"_key": "k2", "n": -2}, {"_key": "new", "n": 99}])

        async with SourceComponent(source_settings(standin_a, kafka_b, src)) as source:
            await wait_until(lambda: source.shards[shard].live, what="the new generation's initial sync sent")
            (lag,) = [x for x in shard_lags(await read_heads(kafka_b, src), await PositionStore(http, src).load())
                      if x.shard == shard]
            assert lag.head_seq < applied_before.seq, "the test needs a new stream shorter than the old one"
            assert not lag.in_sync and lag.alarm, f"a generation mismatch showed as {lag}"

            async with DestinationWorker(dest_config(src, kafka_b), http) as worker:
                await wait_until(lambda: same_documents(a, http, db, "items"), timeout=60,
                                 what="the new generation applied in B")
                assert worker.stats.stopped == {} and worker.stats.failed is None
                await wait_until(lambda: _in_sync(kafka_b, http, src, shard), what="lag in sync again")
    assert sorted(await all_docs(http, db, "items")) == sorted(["k2", "new", *(f"k{i}" for i in range(3, 12))])


async def _in_sync(kafka: str, http: ArangoHttp, src: str, shard: str) -> bool:
    lags = shard_lags(await read_heads(kafka, src), await PositionStore(http, src).load())
    return any(x.shard == shard and x.in_sync and x.alarm is None for x in lags)


async def test_a_control_topic_lost_while_the_source_was_down_gives_epochs_b_applies_and_data_is_kept(
    standin_a: dict[str, Any], http: ArangoHttp, kafka_b: str
) -> None:
    src = new_dc_id()
    async with ArangoHttp(standin_a["coordinator"], username=standin_a["username"],
                          password=standin_a["password"]) as a:
        db = f"d{src}"   # B is shared by this module's tests
        await a.request("POST", "/_api/database", json={"name": db})
        await create_collection(a, db, "items", shards=2)
        await insert(a, db, "items", [{"_key": f"k{i}"} for i in range(10)])
        async with SourceComponent(source_settings(standin_a, kafka_b, src)):
            async with DestinationWorker(dest_config(src, kafka_b), http) as worker:
                await wait_until(lambda: same_documents(a, http, db, "items"), what="items in B")
                for name in ("more1", "more2"):   # several epochs, so B's stored epoch is > 1
                    await create_collection(a, db, name, shards=1)
                    await insert(a, db, name, [{"_key": "x"}])
                    await wait_until(lambda: same_documents(a, http, db, name), what=f"{name} in B")
                old_epoch = worker.structure_epoch
                assert old_epoch >= 3

        await delete_topic(kafka_b, control_topic(src))   # re-created by the source's restart

        async with SourceComponent(source_settings(standin_a, kafka_b, src)) as source, \
                DestinationWorker(dest_config(src, kafka_b), http) as worker:
            await create_collection(a, db, "later", shards=2)
            await insert(a, db, "later", [{"_key": f"l{i}"} for i in range(20)])
            await insert(a, db, "items", [{"_key": "after-restart"}])
            await wait_until(lambda: same_documents(a, http, db, "later"), timeout=60,
                             what="a collection created after the restart in B")
            await wait_until(lambda: same_documents(a, http, db, "items"), what="items changes in B")
            assert source.publisher.epoch > old_epoch and worker.structure_epoch == source.publisher.epoch
            assert worker.stats.discarded == 0 and worker.stats.stopped == {}
    # Retention can never take the structure away: the control topic keeps it forever.
    assert await topic_config(kafka_b, control_topic(src), "retention.ms") == "-1"
