"""Leader moves and DBServer stops: the new leader's WAL carries on with its own ticks."""
from __future__ import annotations

import requests

from .wire import markers, tail


def _shard_leader(standin, db, coll):
    dist = requests.get(f"{standin.coordinator}/_db/{db}/_admin/cluster/shardDistribution",
                        auth=standin.auth).json()["results"][coll]["Current"]
    ((shard, placement),) = dist.items()
    return shard, placement


def _urls_by_name(standin):
    health = requests.get(f"{standin.coordinator}/_admin/cluster/health", auth=standin.auth).json()["Health"]
    return {h["ShortName"]: h["Endpoint"].replace("tcp://", "http://") for h in health.values()
            if h["Role"] == "DBServer"}


def test_leader_move_hands_the_shard_to_a_follower_with_its_own_ticks(standin, db):
    coll = db.create_collection("c", shard_count=1, replication_factor=2)
    shard, before = _shard_leader(standin, db.name, "c")
    urls = _urls_by_name(standin)
    hdr = standin.superuser_headers()
    new_url = urls[before["followers"][0]]
    start = int(requests.get(f"{new_url}/_api/wal/lastTick", headers=hdr).json()["tick"])
    standin.admin("PUT", "move-leader", {"database": db.name, "shard": shard, "to": before["followers"][0]})
    _, after = _shard_leader(standin, db.name, "c")
    assert after["leader"] == before["followers"][0] and before["leader"] in after["followers"]
    coll.insert({"_key": "after-move"})
    ms = [m for m in markers(tail(new_url, db.name, hdr, **{"from": start})) if m["type"] == 2300]
    assert [m["data"]["_key"] for m in ms] == ["after-move"] and int(ms[0]["tick"]) > start


def test_stopping_a_dbserver_fails_its_shards_over_and_start_brings_it_back(standin, db):
    coll = db.create_collection("c", shard_count=1, replication_factor=2)
    shard, before = _shard_leader(standin, db.name, "c")
    urls = _urls_by_name(standin)
    old = before["leader"]
    try:
        result = standin.admin("PUT", f"dbserver/{old}/stop")
        assert result["running"] is False
        try:
            requests.get(f"{urls[old]}/_api/version", auth=standin.auth, timeout=2)
            reachable = True
        except requests.ConnectionError:
            reachable = False
        assert not reachable
        _, during = _shard_leader(standin, db.name, "c")
        assert during["leader"] == before["followers"][0]
        coll.insert({"_key": "during"})
        health = requests.get(f"{standin.coordinator}/_admin/cluster/health", auth=standin.auth).json()["Health"]
        assert any(h.get("ShortName") == old and h["Status"] == "FAILED" for h in health.values())
    finally:
        standin.admin("PUT", f"dbserver/{old}/start")
    assert requests.get(f"{urls[old]}/_api/version", auth=standin.auth).status_code == 200
    assert coll.get("during") is not None


def test_a_shard_without_a_running_replica_is_unavailable(standin, db):
    coll = db.create_collection("c", shard_count=1, replication_factor=1)
    shard, placement = _shard_leader(standin, db.name, "c")
    assert placement["followers"] == []
    url = f"{standin.coordinator}/_db/{db.name}/_api/document/c"
    try:
        standin.admin("PUT", f"dbserver/{placement['leader']}/stop")
        r = requests.post(url, json={"_key": "lost"}, auth=standin.auth)
        assert r.status_code == 503 and r.json()["errorNum"] == 1478
    finally:
        standin.admin("PUT", f"dbserver/{placement['leader']}/start")
    assert requests.post(url, json={"_key": "back"}, auth=standin.auth).status_code == 202
    assert coll.count() == 1


def test_admin_client_and_wal_retention(standin, db):
    from dc2dc.devcluster.standin import admin

    coll = db.create_collection("c", shard_count=1, replication_factor=1)
    _, placement = _shard_leader(standin, db.name, "c")
    leader = placement["leader"]
    url = _urls_by_name(standin)[leader]
    hdr = standin.superuser_headers()
    start = int(requests.get(f"{url}/_api/wal/lastTick", headers=hdr).json()["tick"])
    try:
        admin.set_wal_retention(standin.info, entries=10, server=leader)
        coll.insert_many([{"_key": f"k{i}"} for i in range(3)])
        for i in range(20):
            coll.insert({"_key": f"s{i}"})
        r = tail(url, db.name, hdr, **{"from": start})
        assert r.headers["x-arango-replication-frompresent"] == "false"
        wal = next(s["wal"] for s in admin.state(standin.info)["servers"] if s["name"] == leader)
        assert wal["entries"] <= 10 and wal["retainEntries"] == 10
    finally:
        admin.set_wal_retention(standin.info, entries=None, server=leader)
