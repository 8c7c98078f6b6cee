"""Views, analyzers, bulk import and stream transactions."""
from __future__ import annotations

import pytest
import requests
from arango import errno
from arango.exceptions import ViewGetError

from .wire import markers, tail


def test_arangosearch_view_crud(db):
    db.create_collection("c")
    view = db.create_arangosearch_view("v", properties={"links": {"c": {"includeAllFields": True}}})
    assert view["name"] == "v" and view["type"] == "arangosearch"
    assert "c" in db.view("v")["links"]
    db.update_arangosearch_view("v", {"links": {"c": None}})
    assert db.view("v")["links"] == {}
    assert [v["name"] for v in db.views()] == ["v"]
    db.delete_view("v")
    with pytest.raises(ViewGetError) as exc:
        db.view("v")
    assert exc.value.error_code == errno.DATA_SOURCE_NOT_FOUND


def test_analyzer_create_is_idempotent_and_prefixed(db):
    first = db.create_analyzer("my", "delimiter", {"delimiter": ","}, ["frequency"])
    again = db.create_analyzer("my", "delimiter", {"delimiter": ","}, ["frequency"])
    assert first["name"] == again["name"] == f"{db.name}::my"
    assert any(a["name"] == "identity" for a in db.analyzers())
    assert db.delete_analyzer("my") is True


def test_import_documents_counts_created_updated_and_errors(standin, db):
    db.create_collection("c")
    url = f"{standin.coordinator}/_db/{db.name}/_api/import"
    body = b'{"_key":"a","v":1}\n{"_key":"b"}\n\n{"_key":"bad key"}\n'
    r = requests.post(url, params={"collection": "c", "type": "documents", "details": "true"},
                      data=body, auth=standin.auth)
    stats = r.json()
    assert r.status_code == 201
    assert (stats["created"], stats["errors"], stats["empty"]) == (2, 1, 1) and len(stats["details"]) == 1
    r = requests.post(url, params={"collection": "c", "type": "array", "onDuplicate": "update"},
                      json=[{"_key": "a", "w": 2}], auth=standin.auth)
    assert r.json()["updated"] == 1 and db.collection("c").get("a") == {**db.collection("c").get("a"), "v": 1, "w": 2}


def test_stream_transaction_is_invisible_until_commit_and_logged_with_markers(standin, db):
    coll = db.create_collection("c", shard_count=1, replication_factor=1)
    shards = coll.shards(details=True)["shards"]
    ((shard, servers),) = shards.items()
    health = requests.get(f"{standin.coordinator}/_admin/cluster/health", auth=standin.auth).json()["Health"]
    leader = health[servers[0]]["Endpoint"].replace("tcp://", "http://")
    hdr = standin.superuser_headers()
    start = requests.get(f"{leader}/_api/wal/lastTick", headers=hdr).json()["tick"]
    trx = db.begin_transaction(write="c")
    trx.collection("c").insert({"_key": "t1"})
    assert trx.collection("c").get("t1") is not None
    assert coll.get("t1") is None
    assert tail(leader, db.name, hdr, **{"from": start}).status_code == 204
    trx.commit_transaction()
    assert coll.get("t1") is not None
    types = [m["type"] for m in markers(tail(leader, db.name, hdr, **{"from": start}))]
    assert types == [2200, 2300, 2201]
    aborted = db.begin_transaction(write="c")
    aborted.collection("c").insert({"_key": "t2"})
    aborted.abort_transaction()
    assert coll.get("t2") is None


def test_revision_tree_ranges_and_documents_on_a_dbserver(standin, db):
    coll = db.create_collection("c", shard_count=1, replication_factor=1)
    coll.insert_many([{"_key": f"k{i}", "v": i} for i in range(20)])
    ((shard, servers),) = coll.shards(details=True)["shards"].items()
    health = requests.get(f"{standin.coordinator}/_admin/cluster/health", auth=standin.auth).json()["Health"]
    url = health[servers[0]]["Endpoint"].replace("tcp://", "http://")
    hdr = standin.superuser_headers()
    base = f"{url}/_db/{db.name}/_api/replication"
    batch = requests.post(f"{base}/batch", json={"ttl": 30}, headers=hdr).json()["id"]
    q = {"collection": shard, "batchId": batch}
    tree = requests.get(f"{base}/revisions/tree", params=q, headers=hdr).json()
    assert tree["nodes"][0]["count"] == 20 and tree["branchingFactor"] == 8
    ranges = requests.put(f"{base}/revisions/ranges", params=q, headers=hdr,
                          json=[[tree["rangeMin"], tree["rangeMax"]]]).json()
    revs = ranges["ranges"][0]
    assert len(revs) == 20 and "resume" not in ranges
    docs = requests.put(f"{base}/revisions/documents", params=q, headers=hdr, json=revs[:3]).json()
    assert [d["_rev"] for d in docs] == revs[:3]


def test_schema_rejects_invalid_documents_with_1620_but_not_restores(standin, db):
    schema = {"rule": {"type": "object", "properties": {"n": {"type": "number"}}, "required": ["n"]},
              "level": "strict", "message": "n must be a number"}
    coll = db.create_collection("c", schema=schema)
    assert coll.properties()["schema"]["type"] == "json"
    coll.insert({"n": 1})
    url = f"{standin.coordinator}/_db/{db.name}/_api/document/c"
    r = requests.post(url, json={"n": "x"}, auth=standin.auth)
    assert r.status_code == 400 and r.json()["errorNum"] == 1620
    assert r.json()["errorMessage"] == "n must be a number"
    r = requests.post(url, params={"isRestore": "true"}, json={"_key": "old", "n": "x"}, auth=standin.auth)
    assert r.status_code == 202


def test_computed_values_are_filled_on_the_configured_operations(db):
    coll = db.create_collection("c")
    coll.configure(computed_values=[
        {"name": "copy", "expression": "RETURN @doc.v", "overwrite": True, "computeOn": ["insert", "update"]}])
    coll.insert({"_key": "k", "v": 1})
    assert coll.get("k")["copy"] == 1
    coll.update({"_key": "k", "v": 2})
    assert coll.get("k")["copy"] == 2
    coll.replace({"_key": "k", "v": 3})
    assert "copy" not in coll.get("k")


def test_one_shard_database_puts_every_collection_on_one_shard_like_graphs(standin):
    sys_db = standin.sys_db()
    name = "one_shard_db"
    sys_db.create_database(name, sharding="single")
    try:
        db = standin.client().db(name, username=standin.auth[0], password=standin.auth[1])
        props = db.create_collection("c", shard_count=5).properties()
        assert props["shard_count"] == 1
        dist = requests.get(f"{standin.coordinator}/_db/{name}/_admin/cluster/shardDistribution",
                            auth=standin.auth).json()["results"]
        (graphs_shard,) = dist["_graphs"]["Plan"].values()
        (c_shard,) = dist["c"]["Plan"].values()
        assert c_shard["leader"] == graphs_shard["leader"]
    finally:
        sys_db.delete_database(name, ignore_missing=True)


def test_a_document_written_by_a_running_transaction_conflicts_with_other_writers(standin, db):
    coll = db.create_collection("c")
    coll.insert({"_key": "k", "v": 0})
    trx = db.begin_transaction(write="c")
    trx.collection("c").update({"_key": "k", "v": 1})
    r = requests.patch(f"{standin.coordinator}/_db/{db.name}/_api/document/c/k", json={"v": 2},
                       auth=standin.auth)
    assert r.status_code == 409 and r.json()["errorNum"] == 1200
    trx.commit_transaction()
    coll.update({"_key": "k", "v": 3})
    assert coll.get("k")["v"] == 3
