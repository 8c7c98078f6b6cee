"""Initial-sync APIs: batches with snapshot semantics, inventory, dump continuation, clusterInventory."""
from __future__ import annotations

import orjson
import requests
from arango import errno

from .wire import markers, tail


def _leader_of_single_shard(standin, db, coll):
    shards = requests.get(f"{standin.coordinator}/_db/{db}/_api/collection/{coll}/shards",
                          params={"details": "true"}, auth=standin.auth).json()["shards"]
    ((shard, servers),) = shards.items()
    health = requests.get(f"{standin.coordinator}/_admin/cluster/health", auth=standin.auth).json()["Health"]
    return shard, health[servers[0]]["Endpoint"].replace("tcp://", "http://")


def test_batch_snapshot_inventory_and_dump_continuation(standin, db):
    coll = db.create_collection("c", shard_count=1, replication_factor=1)
    coll.add_index({"type": "persistent", "fields": ["v"], "name": "by_v"})
    coll.insert_many([{"_key": f"k{i}", "v": i, "pad": "x" * 500} for i in range(200)])
    shard, url = _leader_of_single_shard(standin, db.name, "c")
    hdr = standin.superuser_headers()
    base = f"{url}/_db/{db.name}/_api/replication"
    batch = requests.post(f"{base}/batch", json={"ttl": 60}, headers=hdr).json()
    assert isinstance(batch["id"], str) and int(batch["lastTick"]) > 0
    coll.insert({"_key": "after-snapshot"})
    inv = requests.get(f"{base}/inventory", params={"batchId": batch["id"]}, headers=hdr).json()
    entry = next(c for c in inv["collections"] if c["parameters"]["name"] == shard)
    assert entry["parameters"]["planId"] == coll.properties()["id"]
    assert [ix["name"] for ix in entry["indexes"]] == ["by_v"]
    keys, chunks = set(), 0
    while True:
        r = requests.get(f"{base}/dump", params={"batchId": batch["id"], "collection": shard,
                                                 "chunkSize": 20000}, headers=hdr)
        if r.status_code == 204:
            break
        chunks += 1
        lines = [orjson.loads(x) for x in r.content.splitlines()]
        assert all(line["type"] == 2300 for line in lines)
        keys |= {line["data"]["_key"] for line in lines}
        if r.headers["x-arango-replication-checkmore"] == "false":
            break
    assert chunks > 1 and len(keys) == 200 and "after-snapshot" not in keys
    # dump + tail from the batch's lastTick is gap-free: the later write is in the WAL after it
    tailed = [m for m in markers(tail(url, db.name, hdr, **{"from": batch["lastTick"]})) if m["type"] == 2300]
    assert [m["data"]["_key"] for m in tailed] == ["after-snapshot"]
    assert requests.delete(f"{base}/batch/{batch['id']}", headers=hdr).status_code == 204
    second = requests.post(f"{base}/batch", json={"ttl": 60}, headers=hdr).json()["id"]
    bare = requests.get(f"{base}/dump", params={"batchId": second, "collection": shard, "useEnvelope": "false",
                                                "chunkSize": 1 << 24}, headers=hdr)
    docs = [orjson.loads(x) for x in bare.content.splitlines()]
    assert len(docs) == 201 and all("type" not in d and d["_key"] for d in docs)
    assert bare.headers["x-arango-replication-checkmore"] == "false"
    r = requests.delete(f"{base}/batch/{batch['id']}", headers=hdr)
    assert r.status_code == 404 and r.json()["errorNum"] == errno.CURSOR_NOT_FOUND


def test_cluster_inventory_names_shards_and_servers(standin, db):
    db.create_collection("c", shard_count=2, replication_factor=2)
    inv = requests.get(f"{standin.coordinator}/_db/{db.name}/_api/replication/clusterInventory",
                       auth=standin.auth).json()
    entry = next(c for c in inv["collections"] if c["parameters"]["name"] == "c")
    assert entry["parameters"]["numberOfShards"] == 2
    assert all(len(servers) == 2 for servers in entry["parameters"]["shards"].values())
    assert entry["isReady"] is True and entry["allInSync"] is True
    assert inv["properties"]["name"] == db.name


def test_count_and_checksum_are_order_independent_and_comparable(standin, db):
    one = db.create_collection("one", shard_count=3)
    two = db.create_collection("two", shard_count=1)
    docs = [{"_key": f"k{i}", "v": i} for i in range(50)]
    one.insert_many(docs)
    two.insert_many(list(reversed(docs)))
    assert one.count() == two.count() == 50
    assert one.checksum(with_rev=False, with_data=True) == two.checksum(with_rev=False, with_data=True)
    two.update({"_key": "k3", "v": -1})
    assert one.checksum(with_rev=False, with_data=True) != two.checksum(with_rev=False, with_data=True)


def test_dbservers_list_their_shards_as_collections(standin, db):
    coll = db.create_collection("c", shard_count=1, replication_factor=1)
    coll.insert_many([{} for _ in range(3)])
    shard, url = _leader_of_single_shard(standin, db.name, "c")
    hdr = standin.superuser_headers()
    listed = requests.get(f"{url}/_db/{db.name}/_api/collection", headers=hdr).json()["result"]
    assert shard in [c["name"] for c in listed]
    props = requests.get(f"{url}/_db/{db.name}/_api/collection/{shard}/count", headers=hdr).json()
    assert props["count"] == 3 and props["planId"] == coll.properties()["id"]
    assert props["globallyUniqueId"].endswith(shard)
