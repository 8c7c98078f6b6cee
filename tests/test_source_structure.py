"""The structure snapshot read from a stand-in coordinator (the control topic's payload)."""

from __future__ import annotations

from typing import Any

from dc2dc.pipeline.arango.http import ArangoHttp
from dc2dc.pipeline.source.cluster import SourceCluster
from dc2dc.pipeline.source.structure_read import read_structure
from source_helpers import arango, create_collection, endpoint, standin  # noqa: F401 - fixtures

DB = "Ünïcødé-db"


async def _cluster(info: dict[str, Any], http: ArangoHttp) -> SourceCluster:
    cluster = SourceCluster(http, endpoint(info))
    await cluster.detect()
    return cluster


async def test_snapshot_describes_user_collections_with_their_shards_and_leaves_system_ones_out(
        standin: dict[str, Any], arango: ArangoHttp) -> None:
    await arango.request("POST", "/_api/database", json={"name": DB, "options": {"writeConcern": 1}})
    shards = await create_collection(arango, DB, "edges", shards=4, type=3, waitForSync=True,
                                     keyOptions={"type": "traditional", "allowUserKeys": True})
    await arango.request("POST", "/_api/document/edges", db=DB,
                         json={"_key": "e1", "_from": "v/1", "_to": "v/2"})
    await arango.request("POST", "/_api/index", db=DB, params={"collection": "edges"},
                         json={"type": "persistent", "fields": ["w"], "name": "by_w", "unique": False})

    cluster = await _cluster(standin, arango)
    structure = await read_structure(cluster)

    db = structure.snapshot["databases"][DB]
    assert set(db["collections"]) == {"edges"}, "system collections are never in 'collections'"
    edges = db["collections"]["edges"]
    assert edges["type"] == 3
    assert edges["shards"] == shards == sorted(shards, key=lambda s: int(s[1:]))
    assert edges["properties"]["numberOfShards"] == 4 and edges["properties"]["waitForSync"] is True
    assert edges["properties"]["keyOptions"] == {"type": "traditional", "allowUserKeys": True}
    assert [ix["name"] for ix in edges["indexes"]] == ["by_w"]
    assert all("id" not in ix and ix["type"] not in ("primary", "edge") for ix in edges["indexes"])
    assert db["options"]["writeConcern"] == 1
    assert {i.shard: (i.db, i.coll, i.index) for i in structure.shards.values()} == {
        s: (DB, "edges", n) for n, s in enumerate(shards)}
    system_shards = {s for s in structure.leaders if s not in structure.shards}
    assert system_shards and system_shards <= structure.ignored
    servers = await cluster.data_servers()
    assert all(structure.leaders[s] in servers for s in shards)


async def test_snapshot_carries_users_with_their_grants(standin: dict[str, Any], arango: ArangoHttp) -> None:
    await arango.request("POST", "/_api/database", json={"name": "app"})
    await create_collection(arango, "app", "secret", shards=1)
    await arango.request("POST", "/_api/user", json={"user": "alice", "passwd": "pw", "extra": {"team": "x"}})
    await arango.request("PUT", "/_api/user/alice/database/app", json={"grant": "ro"})
    await arango.request("PUT", "/_api/user/alice/database/app/secret", json={"grant": "none"})

    structure = await read_structure(await _cluster(standin, arango))

    alice = structure.snapshot["users"]["alice"]
    assert alice["active"] is True and alice["extra"] == {"team": "x"}
    assert alice["permissions"]["app"] == {"level": "ro", "collections": {"secret": "none"}}
    assert "passwd" not in str(alice) and "pw" not in alice.values()


async def test_snapshot_grants_only_levels_that_change_access(standin: dict[str, Any], arango: ArangoHttp) -> None:
    """ArangoDB reports effective database levels and ``"*": {"permission": "none"}`` for a user
    without grants; copying those would create grants the source does not have."""
    await arango.request("POST", "/_api/database", json={"name": "closed"})
    for user in ("carol", "dave"):
        await arango.request("POST", "/_api/user", json={"user": user, "passwd": "pw"})
    await arango.request("PUT", "/_api/user/carol/database/*", json={"grant": "ro"})
    await arango.request("PUT", "/_api/user/carol/database/closed", json={"grant": "none"})

    users = (await read_structure(await _cluster(standin, arango))).snapshot["users"]

    assert users["carol"]["permissions"] == {"*": {"level": "ro", "collections": {}},
                                             "closed": {"level": "none", "collections": {}}}
    assert users["dave"]["permissions"] == {}


async def test_an_unchanged_source_reads_as_an_equal_snapshot(standin: dict[str, Any], arango: ArangoHttp) -> None:
    await arango.request("POST", "/_api/database", json={"name": "same"})
    await create_collection(arango, "same", "c", shards=2)
    cluster = await _cluster(standin, arango)
    first = await read_structure(cluster)
    assert (await read_structure(cluster)).snapshot == first.snapshot
    await create_collection(arango, "same", "d", shards=1)
    assert (await read_structure(cluster)).snapshot != first.snapshot


async def test_snapshot_carries_views_and_analyzers_of_each_database(standin: dict[str, Any], arango: ArangoHttp) -> None:
    await arango.request("POST", "/_api/database", json={"name": "search"})
    await create_collection(arango, "search", "texts", shards=1)
    await arango.request("POST", "/_api/analyzer", db="search",
                         json={"name": "csv", "type": "delimiter", "properties": {"delimiter": ","},
                               "features": ["norm", "frequency"]})
    await arango.request("POST", "/_api/view", db="search",
                         json={"name": "find", "type": "arangosearch",
                               "links": {"texts": {"analyzers": ["csv"], "includeAllFields": True}}})

    db = (await read_structure(await _cluster(standin, arango))).snapshot["databases"]["search"]

    assert db["analyzers"] == {"csv": {"type": "delimiter", "properties": {"delimiter": ","},
                                       "features": ["frequency", "norm"]}}, "built-ins are not listed"
    assert db["views"]["find"]["type"] == "arangosearch"
    assert db["views"]["find"]["properties"]["links"]["texts"]["analyzers"] == ["csv"]
    assert not {"id", "name", "globallyUniqueId"} & set(db["views"]["find"]["properties"])
