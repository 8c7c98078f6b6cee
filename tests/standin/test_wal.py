"""Per-DBServer WAL: own ticks with gaps, followers log too, headers, chunking, purge, access."""
from __future__ import annotations

import requests
from arango import errno

from .wire import markers, tail


def _placement(standin, db, coll):
    """shard -> (leader url, [follower urls]) from the public topology APIs."""
    health = requests.get(f"{standin.coordinator}/_admin/cluster/health", auth=standin.auth).json()["Health"]
    url_of = {sid: h["Endpoint"].replace("tcp://", "http://") for sid, h in health.items()}
    shards = requests.get(f"{standin.coordinator}/_db/{db}/_api/collection/{coll}/shards",
                          params={"details": "true"}, auth=standin.auth).json()["shards"]
    return {s: (url_of[servers[0]], [url_of[f] for f in servers[1:]]) for s, servers in shards.items()}


def _last_tick(url, headers):
    return int(requests.get(f"{url}/_api/wal/lastTick", headers=headers).json()["tick"])


def test_coordinator_refuses_wal_access(standin):
    for path in ("tail", "range", "lastTick"):
        r = requests.get(f"{standin.coordinator}/_api/wal/{path}", headers=standin.superuser_headers())
        assert r.status_code == 501 and r.json()["errorNum"] == errno.CLUSTER_UNSUPPORTED


def test_ticks_increase_with_gaps_and_shards_are_logged_on_leader_and_followers(standin, db):
    db.create_collection("c", shard_count=3, replication_factor=2)
    hdr = standin.superuser_headers()
    start = {url: _last_tick(url, hdr) for url in standin.dbservers}
    db.collection("c").insert_many([{"_key": f"k{i}", "v": i} for i in range(30)])
    placement = _placement(standin, db.name, "c")
    seen: dict[str, set[str]] = {url: set() for url in standin.dbservers}
    for url in standin.dbservers:
        r = tail(url, db.name, hdr, **{"from": start[url]})
        assert r.status_code == 200
        assert r.headers["Content-Type"].startswith("application/x-arango-dump")
        ms = markers(r)
        ticks = [int(m["tick"]) for m in ms]
        assert ticks == sorted(ticks) and ticks[0] > start[url]
        doc_ticks = [int(m["tick"]) for m in ms if m["type"] == 2300]
        assert any(b - a > 1 for a, b in zip(doc_ticks, doc_ticks[1:])), "ticks must have gaps"
        for m in ms:
            if m["type"] == 2300:
                seen[url].add(m["cuid"].rsplit("/", 1)[1])
    for shard, (leader, followers) in placement.items():
        assert shard in seen[leader]
        for f in followers:
            assert shard in seen[f]


def test_multi_document_write_is_a_transaction_sharing_ticks(standin, db):
    db.create_collection("c", shard_count=1, replication_factor=1)
    hdr = standin.superuser_headers()
    ((leader, _),) = _placement(standin, db.name, "c").values()
    start = _last_tick(leader, hdr)
    db.collection("c").insert_many([{"_key": "a"}, {"_key": "b"}, {"_key": "c"}])
    db.collection("c").insert({"_key": "single"})
    ms = markers(tail(leader, db.name, hdr, **{"from": start}))
    assert [m["type"] for m in ms] == [2200, 2300, 2300, 2300, 2201, 2300]
    begin, first, *_, last, commit, single = ms
    assert begin["tid"] == first["tid"] == commit["tid"] != "0"
    assert begin["tick"] == first["tick"] and commit["tick"] == last["tick"]
    assert single["tid"] == "0" and single["data"]["_key"] == "single"
    assert all(isinstance(m["tick"], str) for m in ms)


def test_headers_204_and_checkmore(standin, db):
    db.create_collection("c", shard_count=1, replication_factor=1)
    hdr = standin.superuser_headers()
    ((leader, _),) = _placement(standin, db.name, "c").values()
    start = _last_tick(leader, hdr)
    r = tail(leader, db.name, hdr, **{"from": start})
    assert r.status_code == 204 and r.content == b""
    assert r.headers["x-arango-replication-lastincluded"] == "0"
    assert r.headers["x-arango-replication-frompresent"] == "true"
    for h in ("lastscanned", "lasttick", "checkmore"):
        assert f"x-arango-replication-{h}" in r.headers
    db.collection("c").insert_many([{"_key": f"k{i}", "pad": "x" * 1000} for i in range(100)])
    for i in range(100):
        db.collection("c").insert({"_key": f"single{i}", "pad": "y" * 1000})
    r = tail(leader, db.name, hdr, **{"from": start, "chunkSize": 16384})
    assert r.status_code == 200 and r.headers["x-arango-replication-checkmore"] == "true"
    # the first write batch (a 100-document transaction) is never split without lastScanned
    assert len(markers(r)) >= 102
    last = int(r.headers["x-arango-replication-lastincluded"])
    seen = len(markers(r))
    while r.headers["x-arango-replication-checkmore"] == "true":
        r = tail(leader, db.name, hdr, **{"from": last, "chunkSize": 16384,
                                          "lastScanned": r.headers["x-arango-replication-lastscanned"]})
        seen += len(markers(r))
        last = int(r.headers["x-arango-replication-lastincluded"]) or last
    assert seen == 102 + 100  # begin + 100 + commit, then 100 single operations


def test_purged_wal_reports_from_not_present(standin, db):
    db.create_collection("c", shard_count=1, replication_factor=1)
    hdr = standin.superuser_headers()
    ((leader, _),) = _placement(standin, db.name, "c").values()
    start = _last_tick(leader, hdr)
    db.collection("c").insert_many([{"_key": f"k{i}"} for i in range(5)])
    db.collection("c").insert({"_key": "after"})
    server_id = requests.get(f"{leader}/_admin/server/id", auth=standin.auth).json()["id"]
    standin.admin("PUT", "wal-purge", {"server": server_id, "keep": 1})
    r = tail(leader, db.name, hdr, **{"from": start})
    assert r.headers["x-arango-replication-frompresent"] == "false"
    rng = requests.get(f"{leader}/_api/wal/range", headers=hdr).json()
    assert int(rng["tickMin"]) > start
    r = tail(leader, db.name, hdr, **{"from": rng["tickMin"]})
    assert r.headers["x-arango-replication-frompresent"] == "true"


def test_tail_needs_admin_and_valid_ranges(standin, db):
    url = standin.dbservers[0]
    r = requests.get(f"{url}/_api/wal/tail", params={"from": 10, "to": 5}, headers=standin.superuser_headers())
    assert r.status_code == 400
    r = requests.get(f"{url}/_api/wal/tail")
    assert r.status_code == 401 and r.json()["errorNum"] == errno.FORBIDDEN
    r = requests.get(f"{url}/_db/{db.name}/_api/wal/tail", params={"global": "true"},
                     headers=standin.superuser_headers())
    assert r.status_code == 403


def test_ddl_markers_for_collections_and_indexes(standin, db):
    hdr = standin.superuser_headers()
    start = {url: _last_tick(url, hdr) for url in standin.dbservers}
    coll = db.create_collection("c", shard_count=1, replication_factor=1)
    coll.add_index({"type": "persistent", "fields": ["x"], "name": "by_x"})
    coll.truncate()

    def ddl_types() -> list[int]:
        types = []
        for url in standin.dbservers:
            types += [m["type"] for m in markers(tail(url, db.name, hdr, **{"from": start[url]}))]
        return [t for t in types if t >= 2000]

    assert ddl_types() == [2000, 2100, 2004]
    db.delete_collection("c")
    # as on a real server, a dropped collection's earlier markers can no longer be resolved
    assert ddl_types() == [2001]


def test_logger_state_lists_registered_clients(standin):
    url = standin.dbservers[0]
    hdr = standin.superuser_headers()
    tail(url, "_system", hdr, **{"from": _last_tick(url, hdr), "global": "true", "syncerId": "4242",
                                 "clientInfo": "dc2dc-test"})
    state = requests.get(f"{url}/_api/replication/logger-state", headers=hdr).json()
    assert any(c["syncerId"] == "4242" and c["clientInfo"] == "dc2dc-test" for c in state["clients"])
    assert int(state["state"]["lastLogTick"]) > 0


def test_a_stream_transaction_is_one_batch_per_dbserver_across_its_shards(standin, db):
    db.create_collection("c", shard_count=6, replication_factor=1)
    hdr = standin.superuser_headers()
    start = {url: _last_tick(url, hdr) for url in standin.dbservers}
    trx = db.begin_transaction(write="c")
    trx.collection("c").insert_many([{"_key": f"k{i}"} for i in range(30)])
    trx.commit_transaction()
    for url in standin.dbservers:
        ms = markers(tail(url, db.name, hdr, **{"from": start[url]}))
        docs = [m for m in ms if m["type"] == 2300]
        if not docs:
            continue
        assert [m["type"] for m in ms].count(2200) == 1 and ms[0]["type"] == 2200 and ms[-1]["type"] == 2201
        assert len({m["cuid"] for m in docs}) > 1, "several shards in one transaction"
        assert {m["tid"] for m in ms} == {ms[0]["tid"]}
