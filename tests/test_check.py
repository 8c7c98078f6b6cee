"""`dc2dc check sync` compares two deployments through their coordinators: equal structure and
equal per-shard digests mean in sync; any differing document, missing index or shard is named."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from arango import ArangoClient
from arango.database import StandardDatabase

from dc2dc.devcluster.standin.launcher import start_standin, stop_standin
from dc2dc.pipeline.arango.http import ArangoHttp
from dc2dc.pipeline.ops.check import compare, diff


@pytest.fixture(scope="module")
def two_clusters(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict, dict]]:
    state = tmp_path_factory.mktemp("check")
    ids = [f"chk{n}-{uuid.uuid4().hex[:6]}" for n in "AB"]
    infos = []
    try:
        for dc in ids:
            infos.append(start_standin(state, dc))
        yield infos[0], infos[1]
    finally:
        for dc in ids:
            stop_standin(state, dc)


def sys_db(info: dict) -> StandardDatabase:
    return ArangoClient(hosts=info["coordinator"]).db("_system", username=info["username"], password=info["password"])


def http(info: dict) -> ArangoHttp:
    return ArangoHttp(info["coordinator"], username=info["username"], password=info["password"])


def build_same(info: dict, db_name: str) -> StandardDatabase:
    sys_db(info).create_database(db_name)
    db = ArangoClient(hosts=info["coordinator"]).db(db_name, username=info["username"], password=info["password"])
    coll = db.create_collection("orders", shard_count=3)
    coll.add_index({"type": "persistent", "fields": ["customer"], "name": "by_customer"})
    coll.import_bulk([{"_key": f"k{i}", "customer": i % 7, "total": i} for i in range(300)])
    return db


async def test_identical_deployments_are_in_sync_and_a_changed_document_is_found(two_clusters) -> None:
    a, b = two_clusters
    name = f"shop{uuid.uuid4().hex[:6]}"
    db_a, db_b = build_same(a, name), build_same(b, name)
    # The applier writes with the source _rev kept; doing the same makes the documents equal.
    docs = list(db_a.collection("orders").all())
    requests.post(f"{b['coordinator']}/_db/{name}/_api/document/orders",
                  params={"overwriteMode": "replace", "isRestore": "true"}, json=docs,
                  auth=(b["username"], b["password"]), timeout=30).raise_for_status()
    async with http(a) as ha, http(b) as hb:
        report = await compare(ha, hb)
    mine = [s for s in report.shards if s.db == name]
    assert len(mine) == 3
    assert sum(s.source.count for s in mine) == 300
    assert report.in_sync, report.as_dict()

    db_b.collection("orders").update({"_key": "k5", "total": -1})
    async with http(a) as ha, http(b) as hb:
        report = await compare(ha, hb)
    out = [s for s in report.shards if not s.in_sync]
    assert [(s.db, s.coll) for s in out] == [(name, "orders")]
    assert out[0].source.count == out[0].target.count  # same count, different content
    assert not report.in_sync


async def test_a_missing_index_is_a_structure_difference(two_clusters) -> None:
    a, b = two_clusters
    name = f"idx{uuid.uuid4().hex[:6]}"
    build_same(a, name)
    db_b = build_same(b, name)
    index = next(i for i in db_b.collection("orders").indexes() if i["type"] == "persistent")
    db_b.collection("orders").delete_index(index["id"])
    async with http(a) as ha, http(b) as hb:
        report = await compare(ha, hb)
    assert any(f"/databases/{name}/collections/orders/indexes" in d for d in report.structure_differences)
    assert not report.in_sync


def test_diff_names_each_difference_by_path() -> None:
    assert diff({"a": 1, "b": {"c": 2}}, {"a": 1, "b": {"c": 3}, "d": 0}) == [
        "/b/c: source 2 != destination 3", "/d: only in destination"]
    assert diff({"x": [1]}, {"x": [1]}) == []
