"""A coordinator lagging its DBServers: no or a resigned leader reported, a collection not listed yet."""
from __future__ import annotations

import requests

from .wire import markers, tail


def _distribution(standin, db):
    return requests.get(f"{standin.coordinator}/_db/{db}/_admin/cluster/shardDistribution",
                        auth=standin.auth).json()["results"]


def _inventory_names(standin, db):
    inv = requests.get(f"{standin.coordinator}/_db/{db}/_api/replication/clusterInventory",
                       auth=standin.auth).json()
    return [c["parameters"]["name"] for c in inv["collections"]]


def test_the_coordinator_can_report_no_leader_or_a_resigned_one_while_the_leader_keeps_writing(standin, db):
    coll = db.create_collection("c", shard_count=1, replication_factor=2)
    ((shard, truth),) = _distribution(standin, db.name)["c"]["Current"].items()
    try:
        standin.admin("PUT", "leader-report", {"database": db.name, "shard": shard, "leader": "none"})
        assert _distribution(standin, db.name)["c"]["Current"][shard]["leader"] == ""
        standin.admin("PUT", "leader-report", {"database": db.name, "shard": shard, "leader": "resigned"})
        assert _distribution(standin, db.name)["c"]["Plan"][shard]["leader"] == "_" + truth["leader"]
        coll.insert({"_key": "meanwhile"})
    finally:
        standin.admin("PUT", "leader-report", {"database": db.name, "shard": shard, "leader": None})
    assert _distribution(standin, db.name)["c"]["Current"][shard]["leader"] == truth["leader"]
    assert coll.get("meanwhile") is not None


def test_a_hidden_collection_is_written_to_but_not_listed_by_the_coordinator(standin, db):
    try:
        standin.admin("PUT", "coordinator-hide", {"database": db.name, "collection": "c", "hidden": True})
        coll = db.create_collection("c", shard_count=1, replication_factor=1)
        coll.insert({"_key": "early"})
        assert "c" not in _distribution(standin, db.name) and "c" not in _inventory_names(standin, db.name)
        urls = [s["url"] for s in standin.admin("GET", "state")["servers"] if s["role"] == "PRIMARY"]
        keys = [m["data"]["_key"] for url in urls
                for m in markers(tail(url, db.name, standin.superuser_headers(), **{"from": 0}))
                if m["type"] == 2300]
        assert "early" in keys
    finally:
        standin.admin("PUT", "coordinator-hide", {"database": db.name, "collection": "c", "hidden": False})
    assert "c" in _distribution(standin, db.name) and "c" in _inventory_names(standin, db.name)
