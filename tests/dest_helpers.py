"""Fixtures and read helpers shared by the destination tests (a stand-in cluster as DC B)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from dc2dc.devcluster.standin.launcher import start_standin, stop_standin
from dc2dc.devcluster.up import DevEnvironment
from dc2dc.pipeline.arango.http import ArangoHttp
from dc2dc.pipeline.snapshot import shard_order


@pytest.fixture(scope="module")
def standin_b(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A 3-DBServer stand-in cluster playing the destination DC, one per test module."""
    state = tmp_path_factory.mktemp("dest-standin")
    try:
        yield start_standin(Path(state), "B", mode="cluster", dbservers=3)
    finally:
        stop_standin(Path(state), "B")


@pytest_asyncio.fixture(loop_scope="function")
async def http(standin_b: dict[str, Any]) -> AsyncIterator[ArangoHttp]:
    async with ArangoHttp(standin_b["coordinator"], username=standin_b["username"],
                          password=standin_b["password"]) as client:
        yield client


async def collection_props(http: ArangoHttp, db: str, coll: str) -> dict[str, Any]:
    return (await http.request("GET", f"/_api/collection/{coll}/properties", db=db)).json()


async def shard_ids(http: ArangoHttp, db: str, coll: str) -> list[str]:
    """Destination shard ids in hash-slot (numeric) order."""
    shards = (await http.request("GET", f"/_api/collection/{coll}/shards", db=db)).json()["shards"]
    return sorted(shards, key=shard_order)


async def keys_in_shard(http: ArangoHttp, db: str, coll: str, shard: str) -> list[str]:
    body = (await http.request("POST", "/_api/cursor", db=db, json={
        "query": "FOR d IN @@c RETURN d._key", "bindVars": {"@c": coll}, "batchSize": 100000,
        "options": {"shardIds": [shard]}})).json()
    assert not body.get("hasMore")
    return list(body["result"])


async def all_docs(http: ArangoHttp, db: str, coll: str) -> dict[str, dict[str, Any]]:
    body = (await http.request("POST", "/_api/cursor", db=db, json={
        "query": "FOR d IN @@c RETURN d", "bindVars": {"@c": coll}, "batchSize": 100000})).json()
    assert not body.get("hasMore")
    return {d["_key"]: d for d in body["result"]}


@pytest.fixture
def kafka_b(kafka_two_dc: DevEnvironment) -> str:
    """DC B's Kafka from the shared backbone (tests use their own source DC ids, so topics never clash)."""
    return kafka_two_dc.bootstrap("B")
