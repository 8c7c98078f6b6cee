"""Destination apply against a stand-in cluster: structure snapshots, document steps, positions."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from dc2dc.pipeline.destination.apply_batch import Received, Step, plan
from dc2dc.pipeline.destination.document_apply import DocumentWriter, ShardApplier, Target
from dc2dc.pipeline.arango.http import ArangoHttp
from dc2dc.pipeline.errors import ArangoError
from dc2dc.pipeline.destination.positions import COLLECTION, AppliedStructure, Position, PositionStore
from dc2dc.pipeline.destination.structure_apply import StructureApplier
from dc2dc.pipeline.destination.structure_requests import StructureError
from dc2dc.topics.envelope import Envelope, Op

from dest_helpers import all_docs, collection_props, http, keys_in_shard, shard_ids, standin_b  # noqa: F401 (fixtures)


def _uid() -> str:
    return uuid.uuid4().hex[:8]


def coll_spec(cid: str, shards: int, *, ctype: int = 2, wait: bool = False,
              indexes: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "cid": cid, "type": ctype,
        "properties": {"waitForSync": wait, "keyOptions": {"type": "traditional", "allowUserKeys": True},
                       "cacheEnabled": False, "numberOfShards": shards, "shardKeys": ["_key"],
                       "replicationFactor": 1, "writeConcern": 1, "shardingStrategy": "hash"},
        "shards": [f"s{cid}{i}" for i in range(shards)],
        "indexes": indexes or [],
    }


def snapshot(db: str, user: str) -> dict[str, Any]:
    return {
        "databases": {
            db: {
                "options": {"replicationFactor": 1, "writeConcern": 1, "sharding": ""},
                "collections": {
                    "orders": coll_spec("100", 5, indexes=[{"type": "persistent", "fields": ["customer"],
                                                            "unique": False, "sparse": False, "name": "by_customer"}]),
                    "links": coll_spec("101", 2, ctype=3),
                    "plain_c": coll_spec("102", 1),
                },
                "views": {"search": {"type": "arangosearch",
                                     "properties": {"links": {"orders": {"includeAllFields": True}}}}},
                "analyzers": {"comma": {"type": "delimiter", "properties": {"delimiter": ","},
                                        "features": ["frequency"]}},
            },
            f"Ωmega-{db}": {"options": {}, "collections": {"c": coll_spec("103", 3)}},
        },
        "users": {user: {"active": True, "extra": {"team": "blue"},
                         "permissions": {db: {"level": "rw", "collections": {"orders": "ro"}}}}},
    }


async def test_a_snapshot_creates_the_whole_structure_with_the_source_shard_counts(http: ArangoHttp) -> None:
    db, user = f"shop-{_uid()}", f"app-{_uid()}"
    want = snapshot(db, user)
    want["users"]["root"] = {"active": False, "extra": {}, "permissions": {db: {"level": "none"}}}
    actions = await StructureApplier(http).apply(want)
    assert f"create database {db}" in actions
    assert (await http.request("GET", "/_api/user/root")).json()["active"] is True, "root is the destination's own"

    dbs = (await http.request("GET", "/_api/database")).json()["result"]
    assert {db, f"Ωmega-{db}"} <= set(dbs)
    for name, shards, ctype in (("orders", 5, 2), ("links", 2, 3), ("plain_c", 1, 2)):
        props = await collection_props(http, db, name)
        assert (props["numberOfShards"], props["type"]) == (shards, ctype)
        assert len(await shard_ids(http, db, name)) == shards
    assert (await collection_props(http, f"Ωmega-{db}", "c"))["numberOfShards"] == 3
    indexes = (await http.request("GET", "/_api/index", db=db, params={"collection": "orders"})).json()["indexes"]
    assert [i["fields"] for i in indexes if i["name"] == "by_customer"] == [["customer"]]
    views = (await http.request("GET", "/_api/view", db=db)).json()["result"]
    assert [v["name"] for v in views] == ["search"]
    analyzers = (await http.request("GET", "/_api/analyzer", db=db)).json()["result"]
    assert f"{db}::comma" in {a["name"] for a in analyzers}
    perms = (await http.request("GET", f"/_api/user/{user}/database", params={"full": True})).json()["result"]
    assert perms[db]["permission"] == "rw" and perms[db]["collections"]["orders"] == "ro"
    assert (await http.request("GET", f"/_api/user/{user}")).json()["extra"] == {"team": "blue"}

    assert await StructureApplier(http).apply(want, want) == [], "a second apply must change nothing"


async def test_the_next_snapshot_drops_changes_and_recreates_only_what_replication_owns(http: ArangoHttp) -> None:
    db, user = f"shop-{_uid()}", f"app-{_uid()}"
    first = snapshot(db, user)
    applier = StructureApplier(http)
    await applier.apply(first)
    # Things that exist only in the destination: never touched.
    await http.request("POST", "/_api/collection", db=db, json={"name": "local_only"})
    await http.request("POST", "/_api/document/orders", db=db, json={"_key": "old"})
    await PositionStore(http, "T").ensure()
    marker_key = f"marker-{_uid()}"
    await http.request("POST", f"/_api/document/{COLLECTION}", db="_system", json={"_key": marker_key})

    second = snapshot(db, user)
    dbspec = second["databases"][db]
    dbspec["collections"]["orders"] = coll_spec("200", 5, wait=True)      # dropped and re-created in the source
    del dbspec["collections"]["links"]
    dbspec["collections"]["plain_c"]["properties"]["waitForSync"] = True
    del dbspec["views"]["search"]
    del second["databases"][f"Ωmega-{db}"]
    del second["users"][user]
    actions = await applier.apply(second, first)

    assert f"drop collection {db}/orders" in actions and f"create collection {db}/orders" in actions
    count = (await http.request("GET", "/_api/collection/orders/count", db=db)).json()["count"]
    assert count == 0, "the re-created collection must not keep the old one's documents"
    names = {c["name"] for c in (await http.request("GET", "/_api/collection", db=db)).json()["result"]}
    assert {"orders", "plain_c", "local_only"} <= names and "links" not in names
    assert (await collection_props(http, db, "plain_c"))["waitForSync"] is True
    assert (await http.request("GET", "/_api/view", db=db)).json()["result"] == []
    assert f"Ωmega-{db}" not in (await http.request("GET", "/_api/database")).json()["result"]
    with pytest.raises(ArangoError) as err:
        await http.request("GET", f"/_api/user/{user}")
    assert err.value.http_code == 404
    marker = await http.request("GET", f"/_api/document/{COLLECTION}/{marker_key}", db="_system")
    assert marker.json()["_key"] == marker_key, "dc2dc's own bookkeeping must survive any snapshot"
    assert await applier.apply(second, second) == []


async def test_an_existing_collection_with_another_shard_count_is_refused_not_replaced(http: ArangoHttp) -> None:
    db = f"pre-{_uid()}"
    await http.request("POST", "/_api/database", json={"name": db})
    await http.request("POST", "/_api/collection", db=db, json={"name": "c", "numberOfShards": 2})
    await http.request("POST", "/_api/document/c", db=db, json={"_key": "keep"})
    want = {"databases": {db: {"options": {}, "collections": {"c": coll_spec("1", 3)}}}, "users": {}}
    with pytest.raises(StructureError, match="numberOfShards"):
        await StructureApplier(http).apply(want)
    assert (await http.request("GET", "/_api/document/c/keep", db=db)).json()["_key"] == "keep"


# ---- documents -------------------------------------------------------------------------------

async def _fresh_collection(http: ArangoHttp, shards: int = 3) -> Target:
    db = f"docs-{_uid()}"
    want = {"databases": {db: {"options": {}, "collections": {"c": coll_spec("1", shards)}}}, "users": {}}
    await StructureApplier(http).apply(want)
    return Target(db, "c", (await shard_ids(http, db, "c"))[0])


def _rec(seq: int, op: Op, key: str | None = None, doc: dict[str, Any] | None = None, **kw: Any) -> Received:
    return Received(Envelope(op=op, src="A", seq=seq, shard="s1", key=key, doc=doc, **kw), offset=seq)


async def _apply(http: ArangoHttp, target: Target, records: list[Received], applier: ShardApplier | None = None) -> None:
    applier = applier or ShardApplier(DocumentWriter(http))
    steps, rest = plan(records)
    assert rest == []
    for step in steps:
        await applier.apply(step, target)


async def test_documents_keep_their_source_key_and_revision(http: ArangoHttp) -> None:
    target = await _fresh_collection(http)
    rev = "_hV2m3yW---"
    await _apply(http, target, [_rec(1, Op.INSERT, doc={"_key": "k1", "_rev": rev, "_id": "src/k1", "v": 1}),
                                _rec(2, Op.INSERT, doc={"_key": "k2", "_rev": "_hV2m3yX---", "v": 2})])
    doc = (await http.request("GET", "/_api/document/c/k1", db=target.db)).json()
    assert (doc["_key"], doc["_rev"], doc["_id"], doc["v"]) == ("k1", rev, "c/k1", 1)
    # replace with a newer revision, then remove a key that is already gone: both succeed
    await _apply(http, target, [_rec(3, Op.INSERT, doc={"_key": "k1", "_rev": "_hV2m3yZ---", "v": 3}),
                                _rec(4, Op.REMOVE, key="k2"), _rec(5, Op.REMOVE, key="never-existed")])
    doc = (await http.request("GET", "/_api/document/c/k1", db=target.db)).json()
    assert (doc["_rev"], doc["v"]) == ("_hV2m3yZ---", 3)
    assert (await http.request("GET", "/_api/collection/c/count", db=target.db)).json()["count"] == 1


async def test_a_per_item_error_is_raised_never_ignored(http: ArangoHttp) -> None:
    target = await _fresh_collection(http)
    with pytest.raises(ArangoError) as err:
        await _apply(http, target, [_rec(1, Op.INSERT, doc={"_key": "ok"}), _rec(2, Op.INSERT, doc={"_key": "bad key/"})])
    assert err.value.error_num == 1221


async def test_truncate_empties_only_the_shard_at_the_same_index(http: ArangoHttp) -> None:
    target = await _fresh_collection(http, shards=3)
    await _apply(http, target, [_rec(i, Op.INSERT, doc={"_key": f"k{i}"}) for i in range(1, 61)])
    ids = await shard_ids(http, target.db, "c")
    in_first = await keys_in_shard(http, target.db, "c", ids[0])
    assert 0 < len(in_first) < 60
    await _apply(http, target, [_rec(61, Op.TRUNCATE)])
    assert await keys_in_shard(http, target.db, "c", ids[0]) == []
    assert (await http.request("GET", "/_api/collection/c/count", db=target.db)).json()["count"] == 60 - len(in_first)


async def test_a_source_transaction_is_applied_in_one_stream_transaction(http: ArangoHttp) -> None:
    target = await _fresh_collection(http)
    await _apply(http, target, [_rec(1, Op.INSERT, doc={"_key": "gone"})])
    await _apply(http, target, [
        _rec(2, Op.TXN_BEGIN, tid="77"), _rec(3, Op.INSERT, doc={"_key": "a", "n": 1}, tid="77"),
        _rec(4, Op.INSERT, doc={"_key": "a", "n": 2}, tid="77"), _rec(5, Op.REMOVE, key="gone", tid="77"),
        _rec(6, Op.TXN_COMMIT, tid="77")])
    assert (await http.request("GET", "/_api/document/c/a", db=target.db)).json()["n"] == 2
    assert (await http.request("GET", "/_api/collection/c/count", db=target.db)).json()["count"] == 1
    running = (await http.request("GET", "/_api/transaction", db=target.db)).json()["transactions"]
    assert [t for t in running if t.get("state") == "running"] == []


async def test_a_full_resync_removes_what_it_did_not_send_from_its_shard(http: ArangoHttp) -> None:
    target = await _fresh_collection(http, shards=1)
    await _apply(http, target, [_rec(i, Op.INSERT, doc={"_key": f"k{i}"}) for i in range(1, 6)])
    await _apply(http, target, [
        _rec(6, Op.RESYNC_BEGIN, body={"tick": "9", "reason": "gap"}),
        _rec(7, Op.RESYNC_DOC, doc={"_key": "k1", "v": "fresh"}), _rec(8, Op.RESYNC_DOC, doc={"_key": "k9"}),
        _rec(9, Op.RESYNC_END, body={"count": 2, "full": True}), _rec(10, Op.INSERT, doc={"_key": "k10"})])
    assert sorted(await keys_in_shard(http, target.db, "c", target.shard)) == ["k1", "k10", "k9"]


# ---- positions -------------------------------------------------------------------------------

async def test_positions_round_trip_per_source_and_the_structure_epoch_with_them(http: ArangoHttp) -> None:
    src = f"S{_uid()}"
    store, other = PositionStore(http, src), PositionStore(http, f"O{_uid()}")
    await store.ensure()
    await store.ensure()   # idempotent
    assert await store.load() == {} and await store.load_structure() is None
    p1 = Position(src=src, shard="s1", seq=5, tick=77, server="PRMR-1", offset=9, epoch=2, ts=123)
    p2 = Position(src=src, shard="s2", seq=1, resync_from=1, resync_offset=0)
    await store.save([p1, p2])
    await other.save([Position(src=other.src, shard="s1", seq=99)])
    await store.save([Position(src=src, shard="s1", seq=6, offset=10)])
    assert await store.load() == {"s1": Position(src=src, shard="s1", seq=6, offset=10), "s2": p2}
    await store.save_structure(AppliedStructure(3, {"databases": {"d": {}}}))
    assert await store.load_structure() == AppliedStructure(3, {"databases": {"d": {}}})
    names = {c["name"] for c in (await http.request("GET", "/_api/collection", db="_system",
                                                    params={"excludeSystem": True})).json()["result"]}
    assert COLLECTION not in names, "the position store must be a system collection"


async def test_a_positions_tick_is_stored_as_a_string_and_read_back_as_an_int_from_either_form(
        http: ArangoHttp) -> None:
    src = f"T{_uid()}"
    store = PositionStore(http, src)
    await store.ensure()
    await store.save([Position(src=src, shard="s1", seq=5, tick=18446744073709551615)])
    doc = (await http.request("GET", f"/_api/document/{COLLECTION}/{src}__s1", db="_system")).json()
    assert doc["tick"] == "18446744073709551615", "stored positions keep the tick as a string"
    # A document written with an int tick (by hand, or by a tool) loads the same.
    await http.request("POST", f"/_api/document/{COLLECTION}", db="_system", params={"overwriteMode": "replace"},
                       json={"_key": f"{src}__s2", "src": src, "shard": "s2", "seq": 1, "tick": 77})
    loaded = await store.load()
    assert (loaded["s1"].tick, loaded["s2"].tick) == (18446744073709551615, 77)


async def test_changed_indexes_views_analyzers_users_and_graphs_follow_the_source(http: ArangoHttp) -> None:
    db, user = f"chg-{_uid()}", f"app-{_uid()}"
    first = snapshot(db, user)
    first["databases"][db]["graphs"] = {"g": {"edgeDefinitions": [{"collection": "links", "from": ["orders"],
                                                                   "to": ["orders"]}], "orphanCollections": []}}
    applier = StructureApplier(http)
    await applier.apply(first)

    second = snapshot(db, user)
    dbspec = second["databases"][db]
    dbspec["collections"]["orders"]["indexes"] = [{"type": "persistent", "fields": ["customer", "day"],
                                                   "unique": False, "sparse": False, "name": "by_customer"}]
    dbspec["views"]["search"]["properties"]["links"] = {"plain_c": {"includeAllFields": True}}
    dbspec["analyzers"]["comma"]["properties"] = {"delimiter": ";"}
    second["users"][user] = {"active": False, "extra": {}, "permissions": {db: {"level": "ro", "collections": {}}}}
    dbspec["graphs"] = {"g": {"edgeDefinitions": [{"collection": "links", "from": ["orders"], "to": ["plain_c"]}],
                              "orphanCollections": []}}
    actions = await applier.apply(second, first)
    assert await applier.apply(second, second) == [], f"not idempotent after {actions}"

    indexes = (await http.request("GET", "/_api/index", db=db, params={"collection": "orders"})).json()["indexes"]
    assert [i["fields"] for i in indexes if i["name"] == "by_customer"] == [["customer", "day"]]
    links = (await http.request("GET", "/_api/view/search/properties", db=db)).json()["links"]
    assert list(links) == ["plain_c"]
    analyzers = {a["name"]: a for a in (await http.request("GET", "/_api/analyzer", db=db)).json()["result"]}
    assert analyzers[f"{db}::comma"]["properties"]["delimiter"] == ";"
    assert (await http.request("GET", f"/_api/user/{user}")).json()["active"] is False
    perms = (await http.request("GET", f"/_api/user/{user}/database", params={"full": True})).json()["result"]
    assert perms[db]["permission"] == "ro" and perms[db]["collections"].get("orders") in ("ro", "undefined")
    graph = (await http.request("GET", "/_api/gharial/g", db=db)).json()["graph"]
    assert graph["edgeDefinitions"][0]["to"] == ["plain_c"]

    third = snapshot(db, user)
    del third["databases"][db]["collections"]["orders"]["indexes"][0]
    third["databases"][db]["graphs"] = {}
    await applier.apply(third, second)
    indexes = (await http.request("GET", "/_api/index", db=db, params={"collection": "orders"})).json()["indexes"]
    assert [i["type"] for i in indexes] == ["primary"]
    assert (await http.request("GET", "/_api/gharial", db=db)).json()["graphs"] == []
    names = {c["name"] for c in (await http.request("GET", "/_api/collection", db=db)).json()["result"]}
    assert {"orders", "links", "plain_c"} <= names, "dropping a graph must keep its collections"


async def test_a_unique_value_moving_between_keys_in_one_batch_applies_but_a_real_conflict_stops(
    http: ArangoHttp,
) -> None:
    db = f"uniq-{_uid()}"
    spec = coll_spec("1", 1, indexes=[{"type": "persistent", "fields": ["email"], "unique": True, "sparse": False,
                                       "name": "by_email"}])
    await StructureApplier(http).apply({"databases": {db: {"options": {}, "collections": {"c": spec}}}, "users": {}})
    target = Target(db, "c", (await shard_ids(http, db, "c"))[0])
    await _apply(http, target, [_rec(1, Op.INSERT, doc={"_key": "k1", "email": "x"})])
    # In the source k1 gave up "x" before k2 took it; a batch may reach the server in either order.
    moved = Step(last=_rec(3, Op.INSERT, doc={"_key": "k1", "email": "y"}), first_seq=2,
                 upserts={"k2": {"_key": "k2", "email": "x"}, "k1": {"_key": "k1", "email": "y"}})
    await ShardApplier(DocumentWriter(http)).apply(moved, target)
    docs = await all_docs(http, db, "c")
    assert {k: d["email"] for k, d in docs.items()} == {"k1": "y", "k2": "x"}
    with pytest.raises(ArangoError) as err:
        await _apply(http, target, [_rec(4, Op.INSERT, doc={"_key": "k3", "email": "y"})])
    assert err.value.error_num == 1210 and not err.value.retriable
