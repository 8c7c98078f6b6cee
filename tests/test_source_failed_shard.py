"""Retries of the source end: a resync that keeps failing fails its shard, a structure poll the worker.

The stand-in's ``dump-fail`` switch makes every dump of one shard answer 503 (retriable), so its
initial sync can never finish; a stopped stand-in takes the coordinator away. Kafka is real.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from dc2dc.agents.metrics import StatusCollector
from dc2dc.agents.source import SourceComponent
from dc2dc.pipeline.arango.http import ArangoHttp
from dc2dc.devcluster.standin.launcher import start_standin, stop_standin
from dc2dc.pipeline.retry import RetryBudgetSpent, RetryPolicy
from dc2dc.topics.codec import encode
from dc2dc.topics.envelope import Envelope, Op
from dc2dc.topics.names import feedback_topic
from source_helpers import (  # noqa: F401 - fixtures
    arango,
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

DB = "shop"
SHORT_BUDGET = RetryPolicy(first_delay_s=0.05, max_delay_s=0.2, budget_s=2.0)


async def test_a_resync_that_spends_its_retry_budget_fails_its_shard_visibly_and_other_shards_go_on(
        standin: dict[str, Any], arango: ArangoHttp, bootstrap: str) -> None:
    await arango.request("POST", "/_api/database", json={"name": DB})
    (stuck,) = await create_collection(arango, DB, "stuck", shards=1)
    (healthy,) = await create_collection(arango, DB, "healthy", shards=1)
    await insert(arango, DB, "stuck", [{"_key": f"s{i}", "n": i} for i in range(10)])
    model = {f"h{i}": {"n": i} for i in range(10)}
    await insert(arango, DB, "healthy", [{"_key": k, **v} for k, v in model.items()])
    await arango.request("PUT", "/_admin/standin/dump-fail", json={"shard": stuck})
    src = new_dc_id()
    settings = source_settings(standin, bootstrap, src, resync_retry=SHORT_BUDGET)

    async with SourceComponent(settings) as source:
        def phase() -> Any:
            return source.status()["shards"].get(stuck, {}).get("phase")

        await wait_until(lambda: phase() == "failed", timeout=30, what="the stuck shard shown failed")
        failed = source.status()["shards"][stuck]
        assert failed["sync"]["reason"] == "initial"
        assert "503" in failed["error"], "the status says what kept failing"
        assert source.stats["resync_retries"] >= 2, "the budget was spent on retries, not on one attempt"
        metrics = {f.name: f for f in StatusCollector(lambda: {"SourceComponent": source.status()}).collect()}
        assert metrics["dc2dc_source_failed_shards"].samples[0].value == 1

        model["late"] = {"n": -1}
        await insert(arango, DB, "healthy", [{"_key": "late", "n": -1}])
        await caught_up(source, arango, [healthy])
        assert phase() == "failed", "a spent budget is not retried again behind the status"
        assert source._failure is None, "one failed shard does not stop the worker"

    streams = await read_shards(bootstrap, src, [healthy, stuck])
    assert replay_all({healthy: streams[healthy]}) == model
    assert replay_all({stuck: streams[stuck]}) == {}


async def test_a_failed_shard_resyncs_when_a_destination_asks_for_it(
        standin: dict[str, Any], arango: ArangoHttp, bootstrap: str) -> None:
    await arango.request("POST", "/_api/database", json={"name": DB})
    (shard,) = await create_collection(arango, DB, "items", shards=1)
    model = {f"k{i}": {"n": i} for i in range(10)}
    await insert(arango, DB, "items", [{"_key": k, **v} for k, v in model.items()])
    await arango.request("PUT", "/_admin/standin/dump-fail", json={"shard": shard})
    src = new_dc_id()
    settings = source_settings(standin, bootstrap, src, destinations=("B",), resync_retry=SHORT_BUDGET)

    async with SourceComponent(settings) as source:
        await wait_until(lambda: source.status()["shards"][shard]["phase"] == "failed", timeout=30,
                         what="the shard failed")
        await arango.request("PUT", "/_admin/standin/dump-fail", json={"shard": shard, "failing": False})
        request = Envelope(op=Op.RESYNC_REQUEST, src=src, seq=1, body={"dst": "B", "shard": shard, "reason": "failed"})
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
        await producer.start()
        try:
            value, headers = encode(request)
            await producer.send_and_wait(feedback_topic(src, "B"), value=value, headers=headers)
        finally:
            await producer.stop()
        await caught_up(source, arango, [shard])
        assert source.status()["shards"][shard]["error"] is None

    streams = await read_shards(bootstrap, src, [shard])
    reasons = [e.body["reason"] for e in streams[shard] if e.op == Op.RESYNC_BEGIN]
    assert reasons[-1] == "gap" and set(reasons[:-1]) == {"initial"}, "each failed attempt began, none ended"
    assert replay_all(streams) == model


async def test_a_structure_poll_that_spends_its_retry_budget_fails_the_worker(tmp_path: Path, bootstrap: str) -> None:
    dc = new_dc_id()
    info = await asyncio.to_thread(start_standin, tmp_path, dc, mode="cluster", dbservers=1)
    try:
        settings = source_settings(info, bootstrap, new_dc_id(), structure_retry=SHORT_BUDGET)
        async with SourceComponent(settings) as source:
            await asyncio.to_thread(stop_standin, tmp_path, dc)  # the coordinator is gone for good
            with pytest.raises(RetryBudgetSpent, match="structure poll"):
                await asyncio.wait_for(source.wait(), 30)
    finally:
        await asyncio.to_thread(stop_standin, tmp_path, dc)
