"""AQL through /_api/cursor: the subset works, anything else is refused with an ArangoDB error."""
from __future__ import annotations

import pytest
import requests
from arango.exceptions import AQLQueryExecuteError


def test_filter_sort_limit_and_batches(db):
    coll = db.create_collection("c", shard_count=3)
    coll.insert_many([{"_key": f"k{i:02d}", "v": i} for i in range(30)])
    cursor = db.aql.execute("FOR d IN @@c FILTER d.v >= @lo SORT d.v DESC LIMIT 12 RETURN d.v",
                            bind_vars={"@c": "c", "lo": 5}, batch_size=5, count=True)
    assert cursor.count() == 12
    assert list(cursor) == list(range(29, 17, -1))


def test_length_of_collection(db):
    db.create_collection("c").insert_many([{} for _ in range(7)])
    assert list(db.aql.execute("RETURN LENGTH(@@c)", bind_vars={"@c": "c"})) == [7]


def test_remove_restricted_to_one_shard_truncates_only_that_shard(standin, db):
    coll = db.create_collection("c", shard_count=3)
    coll.insert_many([{"_key": f"k{i}"} for i in range(60)])
    shards = coll.shards(details=True)["shards"]
    target = next(iter(shards))
    counts = requests.get(f"{standin.coordinator}/_db/{db.name}/_api/collection/c/count",
                          params={"details": "true"}, auth=standin.auth).json()["count"]
    r = requests.post(f"{standin.coordinator}/_db/{db.name}/_api/cursor", auth=standin.auth,
                      json={"query": "FOR d IN @@c REMOVE d IN @@c", "bindVars": {"@c": "c"},
                            "options": {"shardIds": [target]}})
    assert r.status_code == 201, r.text
    after = requests.get(f"{standin.coordinator}/_db/{db.name}/_api/collection/c/count",
                         params={"details": "true"}, auth=standin.auth).json()["count"]
    assert after[target] == 0
    assert all(after[s] == counts[s] for s in shards if s != target)


def test_unsupported_aql_is_an_error_not_a_wrong_answer(db):
    db.create_collection("c")
    with pytest.raises(AQLQueryExecuteError) as exc:
        db.aql.execute("FOR d IN c COLLECT g = d.x WITH COUNT INTO n RETURN {g, n}")
    assert exc.value.http_code in (400, 501)


def test_unknown_collection_is_1203(db):
    with pytest.raises(AQLQueryExecuteError) as exc:
        db.aql.execute("FOR d IN nope RETURN d")
    assert exc.value.error_code == 1203


def test_python_arango_simple_query_helpers_over_a_sharded_collection(db):
    coll = db.create_collection("places", shard_count=3)
    coll.add_index({"type": "geo", "fields": ["loc"]})
    coll.import_bulk([{"_key": "1", "loc": [1, 1], "a": {"b": 1}}, {"_key": "2", "loc": [1, 4], "a.b": 1},
                      {"_key": "3", "loc": [4, 4], "a": {"b": 2}}, {"_key": "4", "loc": [4, 4]}])
    assert [d["_key"] for d in coll.find_near(latitude=4, longitude=4, limit=3)] == ["3", "4", "2"]
    assert [(d["_key"], d["dist"]) for d in coll.find_in_radius(1, 1, 10, distance_field="dist")] == [("1", 0)]
    assert sorted(d["_key"] for d in coll.find({"a.b": 1})) == ["1", "2"]  # nested or literal dotted name
    assert {coll.random()["_key"] for _ in range(40)} == {"1", "2", "3", "4"}
