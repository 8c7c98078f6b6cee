"""Indexes: idempotent creation, unique constraint enforcement (1210), drop."""
from __future__ import annotations

import pytest
import requests
from arango import errno
from arango.exceptions import DocumentInsertError, DocumentReplaceError, IndexCreateError


def test_identical_index_creation_is_idempotent(standin, db):
    db.create_collection("c")
    url = f"{standin.coordinator}/_db/{db.name}/_api/index"
    spec = {"type": "persistent", "fields": ["a", "b"], "name": "by_ab"}
    first = requests.post(url, params={"collection": "c"}, json=spec, auth=standin.auth)
    again = requests.post(url, params={"collection": "c"}, json=spec, auth=standin.auth)
    assert first.status_code == 201 and again.status_code == 200
    assert first.json()["id"] == again.json()["id"] and first.json()["id"].startswith("c/")
    assert again.json()["isNewlyCreated"] is False


def test_unique_index_rejects_duplicates_with_1210(db):
    coll = db.create_collection("c", shard_count=1)
    coll.add_index({"type": "persistent", "fields": ["email"], "unique": True, "name": "by_email"})
    coll.insert({"_key": "a", "email": "x@example.org"})
    with pytest.raises(DocumentInsertError) as exc:
        coll.insert({"_key": "b", "email": "x@example.org"})
    assert exc.value.error_code == errno.UNIQUE_CONSTRAINT_VIOLATED and exc.value.http_code == 409
    coll.update({"_key": "a", "email": "y@example.org"})
    coll.insert({"_key": "b", "email": "x@example.org"})


def test_unique_index_on_duplicate_data_fails_to_build(db):
    coll = db.create_collection("c")
    coll.insert_many([{"v": 1}, {"v": 1}])
    with pytest.raises(IndexCreateError) as exc:
        coll.add_index({"type": "persistent", "fields": ["v"], "unique": True})
    assert exc.value.error_code == errno.UNIQUE_CONSTRAINT_VIOLATED


def test_index_types_round_trip_and_drop(db):
    coll = db.create_collection("c")
    ttl = coll.add_index({"type": "ttl", "fields": ["at"], "expireAfter": 60})
    geo = coll.add_index({"type": "geo", "fields": ["loc"], "geoJson": True})
    inverted = coll.add_index({"type": "inverted", "fields": ["text"], "name": "inv"})
    types = {ix["type"] for ix in coll.indexes()}
    assert {"primary", "ttl", "geo", "inverted"} <= types
    assert coll.delete_index(ttl["id"]) is True
    assert coll.delete_index(geo["id"]) is True
    assert coll.delete_index(inverted["id"]) is True
    assert {ix["type"] for ix in coll.indexes()} == {"primary"}


def test_ttl_index_expires_documents_through_ordinary_removes(standin, db):
    import time

    from dc2dc.devcluster.standin import admin

    coll = db.create_collection("c")
    coll.add_index({"type": "ttl", "fields": ["at"], "expireAfter": 60})
    now = time.time()
    coll.insert_many([{"_key": "old", "at": now - 120}, {"_key": "iso", "at": "2001-01-01T00:00:00Z"},
                      {"_key": "fresh", "at": now}, {"_key": "untimed"}])
    assert admin.ttl_sweep(standin.info) >= 2
    assert sorted(d["_key"] for d in coll.all()) == ["fresh", "untimed"]


def test_unique_index_is_enforced_on_replace_overwrite_import_and_in_stream_transactions(db):
    coll = db.create_collection("c", shard_count=1)
    coll.add_index({"type": "persistent", "fields": ["email"], "unique": True, "name": "by_email"})
    coll.insert_many([{"_key": "a", "email": "x"}, {"_key": "b", "email": "y"}])
    with pytest.raises(DocumentReplaceError) as exc:
        coll.replace({"_key": "b", "email": "x"})
    assert exc.value.error_code == errno.UNIQUE_CONSTRAINT_VIOLATED and exc.value.http_code == 409
    with pytest.raises(DocumentInsertError) as exc:
        coll.insert({"_key": "b", "email": "x"}, overwrite_mode="replace")
    assert exc.value.error_code == errno.UNIQUE_CONSTRAINT_VIOLATED
    imported = coll.import_bulk([{"_key": "c", "email": "x"}, {"_key": "d", "email": "z"}], halt_on_error=False)
    assert (imported["created"], imported["errors"]) == (1, 1)
    # Inside a stream transaction a value is free once an earlier operation of it gave it up.
    trx = db.begin_transaction(write="c")
    tc = trx.collection("c")
    tc.replace({"_key": "a", "email": "tmp"})
    with pytest.raises(DocumentReplaceError) as exc:
        tc.replace({"_key": "b", "email": "z"})
    assert exc.value.error_code == errno.UNIQUE_CONSTRAINT_VIOLATED
    tc.replace({"_key": "b", "email": "x"})
    tc.replace({"_key": "a", "email": "y"})
    trx.commit_transaction()
    assert {d["_key"]: d["email"] for d in coll.all()} == {"a": "y", "b": "x", "d": "z"}
