"""Identity and topology endpoints answer like an ArangoDB cluster's."""
from __future__ import annotations

import uuid

import requests


def test_roles_of_coordinator_and_dbservers(standin):
    role = requests.get(f"{standin.coordinator}/_admin/server/role", auth=standin.auth).json()
    assert role["role"] == "COORDINATOR" and role["error"] is False and role["code"] == 200
    for url in standin.dbservers:
        assert requests.get(f"{url}/_admin/server/role", auth=standin.auth).json()["role"] == "PRIMARY"
    assert len(standin.dbservers) == 3


def test_single_server_role_and_no_server_id(standin_single):
    url = standin_single.coordinator
    assert requests.get(f"{url}/_admin/server/role", auth=standin_single.auth).json()["role"] == "SINGLE"
    r = requests.get(f"{url}/_admin/server/id", auth=standin_single.auth)
    assert r.status_code == 500


def test_version_through_python_arango(standin):
    sys_db = standin.sys_db()
    assert sys_db.version().startswith("3.12")
    details = sys_db.version(details=True)
    assert details["details"]["engine"] == "rocksdb"


def test_server_ids_and_health_agree(standin):
    health = requests.get(f"{standin.coordinator}/_admin/cluster/health", auth=standin.auth).json()
    dbserver_ids = {sid for sid, h in health["Health"].items() if h["Role"] == "DBServer"}
    assert len(dbserver_ids) == 3
    endpoints = {h["Endpoint"] for h in health["Health"].values() if h["Role"] == "DBServer"}
    for url in standin.dbservers:
        own = requests.get(f"{url}/_admin/server/id", auth=standin.auth).json()["id"]
        assert own in dbserver_ids and own.startswith("PRMR-")
        assert url.replace("http://", "tcp://") in endpoints
    assert all(h["Status"] == "GOOD" for h in health["Health"].values())


def test_shard_distribution_and_shard_details(standin, db):
    coll = db.create_collection("orders", shard_count=3, replication_factor=2)
    dist = requests.get(f"{standin.coordinator}/_db/{db.name}/_admin/cluster/shardDistribution",
                        auth=standin.auth).json()["results"]["orders"]
    assert len(dist["Plan"]) == 3 and dist["Plan"] == dist["Current"]
    for shard, placement in dist["Plan"].items():
        assert shard[0] == "s" and shard[1:].isdigit()
        assert placement["leader"].startswith("DBServer") and len(placement["followers"]) == 1
    details = requests.get(f"{standin.coordinator}/_db/{db.name}/_api/collection/orders/shards",
                           params={"details": "true"}, auth=standin.auth).json()["shards"]
    assert set(details) == set(dist["Plan"])
    assert all(len(servers) == 2 and servers[0].startswith("PRMR-") for servers in details.values())
    assert coll.shards(details=True)["shards"] == details


def test_unknown_path_and_method(standin):
    r = requests.get(f"{standin.coordinator}/_api/nothing-here", auth=standin.auth)
    assert r.status_code == 404 and r.json()["errorNum"] == 404
    r = requests.post(f"{standin.coordinator}/_api/version", auth=standin.auth)
    assert r.status_code == 405 and r.json()["errorNum"] == 405


def test_support_info_describes_the_deployment_to_system_admins_only(standin, standin_single, db):
    info = standin.sys_db().support_info()
    assert info["date"].endswith("Z") and info["deployment"]["type"] == "cluster"
    servers = info["deployment"]["servers"]
    assert sorted(s["role"] for s in servers.values()) == ["COORDINATOR", "PRIMARY", "PRIMARY", "PRIMARY"]
    assert (info["deployment"]["coordinators"], info["deployment"]["dbServers"]) == (1, 3)
    single = standin_single.sys_db().support_info()
    assert single["deployment"] == {"type": "single"} and single["host"]["role"] == "SINGLE"
    other_db = requests.get(f"{standin.coordinator}/_db/{db.name}/_admin/support-info", auth=standin.auth)
    assert (other_db.status_code, other_db.json()["errorNum"]) == (403, 1230)
    user = f"u{uuid.uuid4().hex[:8]}"
    standin.sys_db().create_user(user, "pw")
    try:
        standin.sys_db().update_permission(user, "ro", "_system")
        r = requests.get(f"{standin.coordinator}/_admin/support-info", auth=(user, "pw"))
        assert (r.status_code, r.json()["errorNum"]) == (403, 403)
    finally:
        standin.sys_db().delete_user(user)
