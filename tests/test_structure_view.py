"""The typed view of a structure snapshot reads and writes exactly the control topic's dict."""

from __future__ import annotations

from typing import Any

from dc2dc.pipeline.structure_view import CollectionView, ShardLocation, StructureView


def snapshot() -> dict[str, Any]:
    items = {"cid": "h1/10", "type": 2, "properties": {"numberOfShards": 2, "keyOptions": {"type": "traditional"}},
             "shards": ["s9", "s10"], "indexes": [{"type": "persistent", "name": "by_n", "fields": ["n"]}]}
    return {"databases": {"shop": {"options": {"replicationFactor": 1}, "collections": {"items": items},
                                   "views": {"v": {"type": "arangosearch", "properties": {}}},
                                   "analyzers": {"a": {"type": "identity", "properties": {}, "features": []}},
                                   "graphs": {}}},
            "users": {"alice": {"active": True, "extra": {}, "permissions": {"shop": {"collections": {}, "level": "rw"}}}}}


def test_a_snapshot_survives_the_view_unchanged_key_for_key() -> None:
    raw = snapshot()
    again = StructureView.parse(raw).as_snapshot()
    assert again == raw
    assert list(again["databases"]["shop"]) == list(raw["databases"]["shop"])
    assert list(again["databases"]["shop"]["collections"]["items"]) == ["cid", "type", "properties", "shards", "indexes"]


def test_the_view_names_collections_and_where_each_source_shard_goes() -> None:
    view = StructureView.parse(snapshot())
    items = view.collection("shop", "items")
    assert isinstance(items, CollectionView) and (items.name, items.cid) == ("items", "h1/10")
    assert view.collection("shop", "nope") is None and view.collection("nodb", "items") is None
    assert view.shard_locations() == {"s9": ShardLocation("shop", "items", 0, 2), "s10": ShardLocation("shop", "items", 1, 2)}


def test_missing_parts_read_as_empty() -> None:
    view = StructureView.parse({"databases": {"d": {"collections": {"c": {"cid": "1"}}}}})
    coll = view.collection("d", "c")
    assert coll is not None and (coll.type, coll.properties, coll.shards, coll.indexes) == (2, {}, [], [])
    assert StructureView.parse(None).as_snapshot() == {"databases": {}, "users": {}}
