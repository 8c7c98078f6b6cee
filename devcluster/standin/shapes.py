"""The JSON shapes of collections and indexes as the HTTP API and WAL markers show them."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .model import Cluster, Collection, Shard


def shard_definition(cluster: Cluster, coll: Collection, shard: Shard) -> dict:
    """The definition a DBServer stores for one shard (what 2000/2003 markers carry)."""
    local_name = shard.name
    cid = shard.name[1:] if cluster.is_cluster else coll.id
    out = {
        "name": local_name, "cid": cid, "id": cid, "globallyUniqueId": shard.cuid,
        "type": coll.type, "isSystem": coll.is_system, "deleted": False, "version": 7,
        "waitForSync": coll.props["waitForSync"], "cacheEnabled": coll.props["cacheEnabled"],
        "keyOptions": {**coll.props["keyOptions"], "lastValue": coll.key_last},
        "schema": coll.props["schema"], "computedValues": coll.props["computedValues"],
        "syncByRevision": True, "usesRevisionsAsDocumentIds": True,
        "indexes": [dict(ix) for ix in coll.indexes if ix["type"] not in ("primary", "edge")],
    }
    if cluster.is_cluster:
        out.update(planId=coll.id, numberOfShards=coll.props["numberOfShards"],
                   replicationFactor=coll.props["replicationFactor"],
                   writeConcern=coll.props["writeConcern"], shardKeys=coll.shard_keys,
                   shardingStrategy=coll.props["shardingStrategy"], isSmart=False)
        if "distributeShardsLike" in coll.props:
            out["distributeShardsLike"] = coll.props["distributeShardsLike"]
    return out


def collection_properties(cluster: Cluster, coll: Collection) -> dict:
    """What GET /_api/collection/<c>/properties answers (without error/code)."""
    p = coll.props
    out = {
        "id": coll.id, "name": coll.name, "type": coll.type, "status": 3, "statusString": "loaded",
        "isSystem": coll.is_system, "globallyUniqueId": coll.guid,
        "waitForSync": p["waitForSync"], "keyOptions": public_key_options(coll),
        "schema": p["schema"], "computedValues": p["computedValues"], "cacheEnabled": p["cacheEnabled"],
        "syncByRevision": True, "usesRevisionsAsDocumentIds": True, "internalValidatorType": 0,
        "writeConcern": p["writeConcern"], "isSmartChild": False,
    }
    if cluster.flavour.supports_rbac:
        out["supportsRBAC"] = True
    if not cluster.is_cluster:
        out["objectId"] = coll.id  # RocksDB's own id in ArangoDB; the stand-in has none other
    else:
        out.update(numberOfShards=p["numberOfShards"], shardKeys=p["shardKeys"],
                   replicationFactor=p["replicationFactor"], minReplicationFactor=p["writeConcern"],
                   shardingStrategy=p["shardingStrategy"], isSmart=False, isDisjoint=False)
        if "distributeShardsLike" in p:
            out["distributeShardsLike"] = p["distributeShardsLike"]
    return out


def collection_summary(coll: Collection) -> dict:
    return {"id": coll.id, "name": coll.name, "status": 3, "type": coll.type,
            "isSystem": coll.is_system, "globallyUniqueId": coll.guid}


def public_key_options(coll: Collection) -> dict:
    return {**coll.props["keyOptions"], "lastValue": coll.key_last}


def public_index(coll: Collection, index: dict) -> dict:
    return {**index, "id": f"{coll.name}/{index['id']}"}
