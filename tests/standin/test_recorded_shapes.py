"""Answers the stand-in must shape as real ArangoDB 3.11/3.12 servers do (issue 10): each case was
found by replaying recorded real answers (tests/fidelity) or another client's suite."""
from __future__ import annotations

import json
import threading
import time
import uuid

import requests


def _api(standin, db, path: str) -> str:
    return f"{standin.coordinator}/_db/{db.name}{path}"


def test_array_error_codes_header_is_a_json_object_of_counts(standin, db):
    db.create_collection("c")
    r = requests.post(_api(standin, db, "/_api/document/c"), auth=standin.auth,
                      json=[{"_key": "a"}, {"_key": "a"}, {"_key": "a"}, {"_key": "bad key!"}])
    assert json.loads(r.headers["x-arango-error-codes"]) == {"1210": 2, "1221": 1}


def test_writes_that_waited_for_sync_answer_201_and_200_otherwise_202(standin, db):
    db.create_collection("synced", sync=True)
    db.create_collection("plain")
    docs = _api(standin, db, "/_api/document")
    assert requests.post(f"{docs}/synced", auth=standin.auth, json={"_key": "a"}).status_code == 201
    assert requests.post(f"{docs}/synced", auth=standin.auth, json=[{"_key": "b"}, {"_key": "c"}]).status_code == 201
    assert requests.delete(f"{docs}/synced/a", auth=standin.auth).status_code == 200
    assert requests.delete(f"{docs}/synced", auth=standin.auth, json=["b"]).status_code == 200
    # nothing was written, so nothing waited for a sync
    assert requests.delete(f"{docs}/synced", auth=standin.auth, json=["zz", "yy"]).status_code == 202
    assert requests.post(f"{docs}/plain", auth=standin.auth, json={"_key": "a"}).status_code == 202
    assert requests.post(f"{docs}/plain", params={"waitForSync": "true"}, auth=standin.auth,
                         json={"_key": "b"}).status_code == 201
    assert requests.delete(f"{docs}/plain/a", auth=standin.auth).status_code == 202


def test_cluster_collection_guid_ends_with_a_slash_and_shard_cuids_are_plan_id_slash_shard(standin, db):
    db.create_collection("c", shard_count=2)
    details = requests.get(_api(standin, db, "/_api/collection/c/shards"), params={"details": "true"},
                           auth=standin.auth).json()
    assert details["globallyUniqueId"] == f"c{details['id']}/"
    cuids = set()
    for server in standin.dbservers:
        listing = requests.get(f"{server}/_db/{db.name}/_api/collection", headers=standin.superuser_headers()).json()
        cuids |= {c["globallyUniqueId"] for c in listing["result"] if c["name"] in details["shards"]}
    assert cuids == {f"c{details['id']}/{shard}" for shard in details["shards"]}


def test_user_databases_full_reports_configured_levels_not_effective_ones(standin, db):
    sys_db = standin.sys_db()
    user = f"perm_{uuid.uuid4().hex[:6]}"
    sys_db.create_user(user, "pw")
    try:
        db.create_collection("c")
        sys_db.update_permission(user, "rw", db.name)
        result = requests.get(f"{standin.coordinator}/_api/user/{user}/database", params={"full": "true"},
                              auth=standin.auth).json()["result"]
        assert result["*"] == {"permission": "none"}
        assert result[db.name]["permission"] == "rw"
        # no collection level is configured: every collection, system ones included, is undefined
        assert set(result[db.name]["collections"].values()) == {"undefined"}
        assert {"c", "*"} <= set(result[db.name]["collections"])
    finally:
        sys_db.delete_user(user)


def test_import_duplicate_with_complete_is_409_1210_and_success_has_no_code(standin, db):
    db.create_collection("c")
    url = _api(standin, db, "/_api/import")
    lines = '{"_key": "abc"}\n{"_key": "abc"}'
    r = requests.post(url, params={"collection": "c", "type": "documents", "complete": "true"},
                      auth=standin.auth, data=lines)
    assert (r.status_code, r.json()["errorNum"]) == (409, 1210)
    ok = requests.post(url, params={"collection": "c", "type": "documents"}, auth=standin.auth, data='{"_key": "x"}')
    assert ok.status_code == 201 and "code" not in ok.json() and ok.json()["error"] is False


def test_inverted_index_keeps_consolidation_commit_and_write_buffer_settings(standin, db):
    db.create_collection("c")
    given = {"consolidationPolicy": {"type": "tier", "segmentsBytesMax": 1 << 30, "maxSkewThreshold": 0.3,
                                     "minDeletionRatio": 0.4},
             "commitIntervalMsec": 1500, "consolidationIntervalMsec": 7000, "cleanupIntervalStep": 3,
             "writebufferIdle": 16, "writebufferActive": 2, "writebufferSizeMax": 1 << 20}
    created = requests.post(_api(standin, db, "/_api/index"), params={"collection": "c"}, auth=standin.auth,
                            json={"type": "inverted", "fields": ["a"], **given}).json()
    stored = requests.get(_api(standin, db, f"/_api/index/{created['id']}"), auth=standin.auth).json()
    assert {k: stored[k] for k in given} == given
    default = requests.post(_api(standin, db, "/_api/index"), params={"collection": "c"}, auth=standin.auth,
                            json={"type": "inverted", "fields": ["b"]}).json()
    assert default["consolidationPolicy"]["type"] == "tier" and default["writebufferSizeMax"] == 33554432


def test_view_properties_put_replaces_and_resets_what_it_leaves_out(standin, db):
    db.create_collection("c")
    views = _api(standin, db, "/_api/view")
    requests.post(views, auth=standin.auth, json={"name": "v", "type": "arangosearch", "commitIntervalMsec": 5000,
                                                  "links": {"c": {"includeAllFields": True}}}).raise_for_status()
    r = requests.put(f"{views}/v/properties", auth=standin.auth, json={"consolidationIntervalMsec": 2000})
    props = r.json()
    assert props["consolidationIntervalMsec"] == 2000
    assert props["commitIntervalMsec"] == 1000 and props["links"] == {}
    patched = requests.patch(f"{views}/v/properties", auth=standin.auth, json={"commitIntervalMsec": 3000}).json()
    assert patched["consolidationIntervalMsec"] == 2000 and patched["commitIntervalMsec"] == 3000


def test_streaming_cursor_has_no_count(standin, db):
    r = requests.post(_api(standin, db, "/_api/cursor"), auth=standin.auth,
                      json={"query": "FOR i IN 1..5 RETURN i", "count": True, "batchSize": 2,
                            "options": {"stream": True}})
    assert r.status_code == 201 and "count" not in r.json()


def test_running_queries_say_whether_they_modify_and_stream(standin, db):
    db.create_collection("c")
    cursor = _api(standin, db, "/_api/cursor")
    runs = [{"query": "FOR i IN 1..1 LET s = SLEEP(1.5) INSERT {s} INTO c", "options": {"stream": True}},
            {"query": "RETURN SLEEP(1.5)"}]
    threads = [threading.Thread(target=requests.post, args=(cursor,), kwargs={"auth": standin.auth, "json": body})
               for body in runs]
    for t in threads:
        t.start()
    try:
        deadline = time.monotonic() + 5
        current: list = []
        while len(current) < 2 and time.monotonic() < deadline:
            current = requests.get(_api(standin, db, "/_api/query/current"), auth=standin.auth).json()
        shapes = {q["query"]: (q["modificationQuery"], q["stream"]) for q in current}
        assert shapes == {runs[0]["query"]: (True, True), runs[1]["query"]: (False, False)}
    finally:
        for t in threads:
            t.join()


def test_access_token_without_expiry_authenticates_with_an_empty_user_name(standin):
    sys_db = standin.sys_db()
    user = f"tok_{uuid.uuid4().hex[:6]}"
    sys_db.create_user(user, "pw")
    try:
        url = standin.coordinator
        r = requests.post(f"{url}/_api/token/{user}", auth=standin.auth, json={"name": "forever"})
        assert r.status_code == 200, r.text
        token = r.json()["token"]
        me = requests.get(f"{url}/_api/user/{user}", auth=("", token))
        assert me.status_code == 200 and me.json()["user"] == user
        assert requests.get(f"{url}/_api/version", auth=("", "v1.not-a-token")).status_code == 401
    finally:
        sys_db.delete_user(user)


def test_checksum_and_compact_answer_the_collection_summary_only(standin, db):
    db.create_collection("c")
    summary = {"id", "name", "type", "status", "isSystem", "globallyUniqueId"}
    checksum = requests.get(_api(standin, db, "/_api/collection/c/checksum"), auth=standin.auth).json()
    assert set(checksum) - {"error", "code"} == summary | {"checksum", "revision"}
    compact = requests.put(_api(standin, db, "/_api/collection/c/compact"), auth=standin.auth).json()
    assert set(compact) - {"error", "code"} == summary


def test_cluster_shards_listing_shows_no_key_generator_state(standin, db):
    db.create_collection("c", shard_count=2)
    listing = requests.get(_api(standin, db, "/_api/collection/c/shards"), auth=standin.auth).json()
    assert "lastValue" not in listing["keyOptions"] and listing["supportsRBAC"] is True


def test_single_server_collection_properties_name_object_id_and_smart_child(standin_single):
    sys_db = standin_single.sys_db()
    name = f"c_{uuid.uuid4().hex[:6]}"
    sys_db.create_collection(name)
    try:
        props = requests.get(f"{standin_single.coordinator}/_api/collection/{name}/properties",
                             auth=standin_single.auth).json()
        assert props["isSmartChild"] is False and isinstance(props["objectId"], str)
        assert props["supportsRBAC"] is True
    finally:
        sys_db.delete_collection(name)


def test_import_type_list_reads_a_json_array_and_refuses_other_bodies_with_400(standin, db):
    db.create_collection("c")
    db.create_collection("links", edge=True)
    url = _api(standin, db, "/_api/import")
    r = requests.post(url, params={"collection": "c", "type": "list"}, auth=standin.auth, data='[{"a": 1}, {"b": 2}]')
    assert r.status_code == 201 and r.json()["created"] == 2
    bad = requests.post(url, params={"collection": "c", "type": "list"}, auth=standin.auth, data="{ }")
    assert (bad.status_code, bad.json()["errorNum"]) == (400, 400)
    edge = requests.post(url, params={"collection": "links", "type": "list", "details": "true"}, auth=standin.auth,
                         data='[{"name": "no ends"}]')
    assert edge.status_code == 201 and (edge.json()["created"], edge.json()["errors"]) == (0, 1)


def test_view_answers_carry_no_error_or_code(standin, db):
    views = _api(standin, db, "/_api/view")
    created = requests.post(views, auth=standin.auth, json={"name": "v", "type": "arangosearch"}).json()
    changed = requests.put(f"{views}/v/properties", auth=standin.auth, json={}).json()
    patched = requests.patch(f"{views}/v/properties", auth=standin.auth, json={}).json()
    assert not {"error", "code"} & (set(created) | set(changed) | set(patched))


def test_head_of_a_document_is_typed_json_like_its_get(standin, db):
    db.create_collection("c").insert({"_key": "k"})
    r = requests.head(_api(standin, db, "/_api/document/c/k"), auth=standin.auth)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
