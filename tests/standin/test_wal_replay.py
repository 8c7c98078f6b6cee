"""Replaying what the DBServer WALs say about the shards each server leads reproduces the data:
the WAL is complete (no write is missing) and ordered per shard."""
from __future__ import annotations

import random

import requests

from .wire import markers, tail


def _leaders(standin, db, coll):
    health = requests.get(f"{standin.coordinator}/_admin/cluster/health", auth=standin.auth).json()["Health"]
    url_of = {sid: h["Endpoint"].replace("tcp://", "http://") for sid, h in health.items()}
    shards = requests.get(f"{standin.coordinator}/_db/{db}/_api/collection/{coll}/shards",
                          params={"details": "true"}, auth=standin.auth).json()["shards"]
    return {shard: url_of[servers[0]] for shard, servers in shards.items()}


def _replay(standin, db, coll, start_ticks):
    leaders = _leaders(standin, db, coll)
    hdr = standin.superuser_headers()
    state: dict[str, dict] = {}
    for url, start in start_ticks.items():
        led = {s for s, u in leaders.items() if u == url}
        last, scanned = start, 0
        while True:
            r = tail(url, db, hdr, **{"from": last, "lastScanned": scanned, "chunkSize": 16384})
            for m in markers(r):
                shard = m.get("cuid", "").rsplit("/", 1)[-1]
                if shard not in led:
                    continue  # follower copies and other collections
                if m["type"] == 2300:
                    state[m["data"]["_key"]] = {k: v for k, v in m["data"].items() if k != "_id"}
                elif m["type"] == 2302:
                    state.pop(m["data"]["_key"], None)
            scanned = int(r.headers["x-arango-replication-lastscanned"])
            last = int(r.headers["x-arango-replication-lastincluded"]) or last
            if r.status_code == 204 or r.headers["x-arango-replication-checkmore"] != "true":
                break
    return state


def test_replaying_leader_markers_reproduces_the_collection(standin, db):
    rng = random.Random(7)
    coll = db.create_collection("c", shard_count=3, replication_factor=2)
    hdr = standin.superuser_headers()
    start = {url: int(requests.get(f"{url}/_api/wal/lastTick", headers=hdr).json()["tick"])
             for url in standin.dbservers}
    keys = [f"k{i}" for i in range(60)]
    coll.insert_many([{"_key": k, "v": 0} for k in keys])
    for step in range(200):
        k = rng.choice(keys)
        op = rng.random()
        if op < 0.4:
            coll.insert({"_key": k, "v": step}, overwrite_mode="replace")
        elif op < 0.7:
            if coll.has(k):
                coll.update({"_key": k, "v": step}, check_rev=False)
        elif op < 0.85:
            coll.delete(k, ignore_missing=True)
        else:
            trx = db.begin_transaction(write="c")
            trx.collection("c").insert({"_key": f"t{step}", "v": step})
            if rng.random() < 0.5:
                trx.commit_transaction()
            else:
                trx.abort_transaction()
    expected = {d["_key"]: {k: v for k, v in d.items() if k != "_id"} for d in coll.all()}
    assert _replay(standin, db.name, "c", start) == expected
