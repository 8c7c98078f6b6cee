"""The document API: array writes, overwrite modes, per-item errors, restore semantics."""
from __future__ import annotations

import json

import pytest
import requests
from arango import errno
from arango.exceptions import DocumentInsertError, DocumentRevisionError


def _url(standin, db, coll, **_):
    return f"{standin.coordinator}/_db/{db.name}/_api/document/{coll}"


def test_array_insert_reports_per_item_errors_with_error_codes_header(standin, db):
    db.create_collection("c", shard_count=3)
    r = requests.post(_url(standin, db, "c"), auth=standin.auth,
                      json=[{"_key": "a"}, {"_key": "a"}, {"_key": "bad key!"}, "not an object"])
    assert r.status_code == 202
    body = r.json()
    assert body[0]["_id"] == "c/a" and body[0]["_rev"]
    assert body[1]["error"] is True and body[1]["errorNum"] == errno.UNIQUE_CONSTRAINT_VIOLATED
    assert body[2]["errorNum"] == errno.DOCUMENT_KEY_BAD
    assert body[3]["errorNum"] == errno.DOCUMENT_TYPE_INVALID
    assert json.loads(r.headers["X-Arango-Error-Codes"]) == {"1210": 1, "1221": 1, "1227": 1}


def test_single_insert_conflict_is_409_with_1210(standin, db):
    coll = db.create_collection("c")
    coll.insert({"_key": "k"})
    with pytest.raises(DocumentInsertError) as exc:
        coll.insert({"_key": "k"})
    assert exc.value.http_code == 409 and exc.value.error_code == errno.UNIQUE_CONSTRAINT_VIOLATED


@pytest.mark.parametrize("mode, expected", [
    ("replace", {"b": 2}), ("update", {"a": 1, "b": 2}), ("ignore", {"a": 1}),
])
def test_overwrite_modes(db, mode, expected):
    coll = db.create_collection(f"c_{mode}", shard_count=2)
    coll.insert({"_key": "k", "a": 1})
    result = coll.insert({"_key": "k", "b": 2}, overwrite_mode=mode, return_new=True, return_old=True)
    stored = {k: v for k, v in coll.get("k").items() if not k.startswith("_")}
    assert stored == expected
    if mode != "ignore":
        assert result["old"]["a"] == 1 and result["_old_rev"] == result["old"]["_rev"]


def test_update_keep_null_and_merge_objects(db):
    coll = db.create_collection("c")
    coll.insert({"_key": "k", "o": {"x": 1, "y": 2}, "n": 1})
    coll.update({"_key": "k", "o": {"y": None, "z": 3}, "n": None}, keep_none=False, merge=True)
    doc = coll.get("k")
    assert doc["o"] == {"x": 1, "z": 3} and "n" not in doc
    coll.update({"_key": "k", "o": {"w": 0}}, merge=False)
    assert coll.get("k")["o"] == {"w": 0}


def test_is_restore_keeps_the_given_rev(standin, db):
    db.create_collection("c", shard_count=3)
    rev = "_hV2m3yW---"
    r = requests.post(_url(standin, db, "c"), params={"isRestore": "true", "overwriteMode": "replace"},
                      auth=standin.auth, json=[{"_key": "k1", "_rev": rev, "v": 1}])
    assert r.json()[0]["_rev"] == rev
    assert db.collection("c").get("k1")["_rev"] == rev
    r = requests.post(_url(standin, db, "c"), auth=standin.auth, json={"_key": "k2", "_rev": rev})
    assert r.json()["_rev"] != rev


def test_ignore_revs_false_makes_rev_a_precondition(db):
    coll = db.create_collection("c")
    meta = coll.insert({"_key": "k", "v": 1})
    with pytest.raises(DocumentRevisionError) as exc:
        coll.replace({"_key": "k", "_rev": "_aaaaaaaaaa", "v": 2}, check_rev=True)
    assert exc.value.error_code == errno.CONFLICT and exc.value.http_code == 412
    coll.replace({"_key": "k", "_rev": meta["_rev"], "v": 3}, check_rev=True)
    assert coll.get("k")["v"] == 3


def test_array_remove_accepts_keys_ids_and_objects_and_reports_missing(standin, db):
    coll = db.create_collection("c", shard_count=3)
    coll.insert_many([{"_key": k} for k in ("a", "b", "c")])
    r = requests.delete(_url(standin, db, "c"), auth=standin.auth, json=["a", "c/b", {"_key": "c"}, "zz"])
    body = r.json()
    assert [item.get("_key") for item in body[:3]] == ["a", "b", "c"]
    assert body[3]["errorNum"] == errno.DOCUMENT_NOT_FOUND
    assert json.loads(r.headers["X-Arango-Error-Codes"]) == {"1202": 1}
    assert coll.count() == 0


def test_silent_returns_only_errors(standin, db):
    db.create_collection("c")
    r = requests.post(_url(standin, db, "c"), params={"silent": "true"}, auth=standin.auth,
                      json=[{"_key": "a"}, {"_key": "a"}])
    assert [item["errorNum"] for item in r.json()] == [errno.UNIQUE_CONSTRAINT_VIOLATED]


def test_documents_route_by_shard_key_deterministically(standin, db):
    """The same key lands in the same shard index in any collection of the same shape."""
    db.create_collection("one", shard_count=4)
    db.create_collection("two", shard_count=4)
    keys = [f"key{i}" for i in range(40)]
    for name in ("one", "two"):
        db.collection(name).insert_many([{"_key": k} for k in keys])
    responsible = {}
    for name in ("one", "two"):
        shards = db.collection(name).shards()["shards"]
        order = list(shards)
        for k in keys:
            r = requests.put(f"{standin.coordinator}/_db/{db.name}/_api/collection/{name}/responsibleShard",
                             auth=standin.auth, json={"_key": k})
            responsible.setdefault(k, []).append(order.index(r.json()["shardId"]))
    assert all(a == b for a, b in responsible.values())
    assert len({a for a, _ in responsible.values()}) > 1


def test_custom_shard_key_must_not_change(standin, db):
    coll = db.create_collection("c", shard_count=3, shard_fields=["region"])
    meta = coll.insert({"region": "eu", "v": 1})
    r = requests.patch(f"{_url(standin, db, 'c')}/{meta['_key']}", auth=standin.auth, json={"region": "us"})
    assert r.status_code == 400 and r.json()["errorNum"] == errno.CLUSTER_MUST_NOT_CHANGE_SHARDING_ATTRIBUTES


def test_edges_need_valid_from_and_to(standin, db):
    db.create_collection("e", edge=True)
    r = requests.post(_url(standin, db, "e"), auth=standin.auth, json={"_from": "v/1"})
    assert r.status_code == 400 and r.json()["errorNum"] == errno.INVALID_EDGE_ATTRIBUTE
    r = requests.post(_url(standin, db, "e"), auth=standin.auth, json={"_from": "v/1", "_to": "v/2"})
    assert r.status_code == 202


def test_get_missing_document_is_404_1202(standin, db):
    db.create_collection("c")
    r = requests.get(f"{_url(standin, db, 'c')}/nope", auth=standin.auth)
    assert r.status_code == 404 and r.json()["errorNum"] == errno.DOCUMENT_NOT_FOUND


def test_version_attribute_only_lets_higher_versions_through(standin, db):
    db.create_collection("c")
    url = _url(standin, db, "c")
    requests.post(url, json={"_key": "k", "version": 5, "v": "five"}, auth=standin.auth)
    for version, value in ((3, "three"), (7, "seven"), (6, "six")):
        r = requests.post(url, params={"overwriteMode": "replace", "versionAttribute": "version"},
                          json={"_key": "k", "version": version, "v": value}, auth=standin.auth)
        assert r.status_code == 202
    assert db.collection("c").get("k")["v"] == "seven"
