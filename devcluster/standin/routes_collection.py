"""Collections: CRUD, properties, count, checksum, shards, truncate, rename."""
from __future__ import annotations

from . import checksums, documents, errors, perms, shapes, sharding
from .http import ANY, COORD, Ctx, Router, ok
from .model import PRIMARY, Collection, Shard


def _coll(ctx: Ctx, level: str = "ro") -> Collection:
    coll = ctx.cluster.collection(ctx.db, ctx.params["c"])
    perms.require_collection(ctx.cluster, ctx.who, ctx.db_name, coll.name, level)
    return coll


def _local_shards(ctx: Ctx) -> list[tuple[Collection, Shard]]:
    """On a DBServer, collections are its shards (leader or follower) of the database."""
    return [(coll, shard) for coll in ctx.db.collections.values() for shard in coll.shards
            if ctx.server.id in shard.replicas()]


def _shard(ctx: Ctx) -> tuple[Collection, Shard]:
    perms.require_database(ctx.cluster, ctx.who, ctx.db_name, "ro")
    for coll, shard in _local_shards(ctx):
        if shard.name == ctx.params["c"]:
            return coll, shard
    raise errors.ArangoError(errors.DATA_SOURCE_NOT_FOUND, f"collection or view not found: {ctx.params['c']}")


def _shard_properties(ctx: Ctx, coll: Collection, shard: Shard) -> dict:
    props = shapes.shard_definition(ctx.cluster, coll, shard)
    props.pop("indexes")
    return {**props, "status": 3, "statusString": "loaded"}


async def list_collections(ctx: Ctx):  # type: ignore[no-untyped-def]
    perms.require_database(ctx.cluster, ctx.who, ctx.db_name, "ro")
    if ctx.server.role == PRIMARY:
        return ok({"result": [{"id": s.name[1:], "name": s.name, "status": 3, "type": c.type,
                               "isSystem": False, "globallyUniqueId": s.cuid} for c, s in _local_shards(ctx)]})
    exclude = ctx.flag("excludeSystem")
    result = [shapes.collection_summary(c) for c in ctx.db.collections.values()
              if not (exclude and c.is_system)]
    return ok({"result": result})


async def create(ctx: Ctx):  # type: ignore[no-untyped-def]
    perms.require_database(ctx.cluster, ctx.who, ctx.db_name, "rw")
    body = await ctx.json({})
    if not isinstance(body, dict):
        raise errors.ArangoError(errors.HTTP_BAD_PARAMETER, "invalid body", 400)
    coll = ctx.cluster.create_collection(
        ctx.db, body, enforce_replication_factor=ctx.flag("enforceReplicationFactor", True))
    return ok(shapes.collection_properties(ctx.cluster, coll))


async def get(ctx: Ctx):  # type: ignore[no-untyped-def]
    if ctx.server.role == PRIMARY:
        coll, shard = _shard(ctx)
        props = _shard_properties(ctx, coll, shard)
        return ok({k: props[k] for k in ("id", "name", "status", "type", "isSystem", "globallyUniqueId")})
    return ok(shapes.collection_summary(_coll(ctx)))


async def properties(ctx: Ctx):  # type: ignore[no-untyped-def]
    if ctx.server.role == PRIMARY:
        return ok(_shard_properties(ctx, *_shard(ctx)))
    return ok(shapes.collection_properties(ctx.cluster, _coll(ctx)))


async def change_properties(ctx: Ctx):  # type: ignore[no-untyped-def]
    coll = _coll(ctx, "rw")
    perms.require_database(ctx.cluster, ctx.who, ctx.db_name, "rw")
    body = await ctx.json({})
    if not isinstance(body, dict):
        raise errors.ArangoError(errors.HTTP_BAD_PARAMETER, "invalid body", 400)
    ctx.cluster.change_collection(coll, body)
    return ok(shapes.collection_properties(ctx.cluster, coll))


async def count(ctx: Ctx):  # type: ignore[no-untyped-def]
    if ctx.server.role == PRIMARY:
        coll, shard = _shard(ctx)
        return ok({**_shard_properties(ctx, coll, shard), "count": len(shard.docs)})
    coll = _coll(ctx)
    body = shapes.collection_properties(ctx.cluster, coll)
    if ctx.flag("details") and ctx.cluster.is_cluster:
        body["count"] = {s.name: len(s.docs) for s in coll.shards}
    else:
        body["count"] = coll.count()
    return ok(body)


async def figures(ctx: Ctx):  # type: ignore[no-untyped-def]
    coll = _coll(ctx)
    body = shapes.collection_properties(ctx.cluster, coll)
    body["count"] = coll.count()
    body["figures"] = {"indexes": {"count": len(coll.indexes), "size": 0}, "documentsSize": 0,
                       "cacheInUse": False, "cacheSize": 0, "cacheUsage": 0}
    return ok(body)


def _all_docs(coll: Collection):  # type: ignore[no-untyped-def]
    for shard in coll.shards:
        yield from shard.docs.values()


async def revision(ctx: Ctx):  # type: ignore[no-untyped-def]
    coll = _coll(ctx)
    body = shapes.collection_properties(ctx.cluster, coll)
    body["revision"] = checksums.max_revision(_all_docs(coll))
    return ok(body)


async def checksum(ctx: Ctx):  # type: ignore[no-untyped-def]
    coll = _coll(ctx)
    body = shapes.collection_summary(coll)
    body["checksum"] = checksums.checksum(_all_docs(coll), with_revisions=ctx.flag("withRevisions"),
                                          with_data=ctx.flag("withData"))
    body["revision"] = checksums.max_revision(_all_docs(coll))
    return ok(body)


async def shards(ctx: Ctx):  # type: ignore[no-untyped-def]
    coll = _coll(ctx)
    if not ctx.cluster.is_cluster:
        raise errors.ArangoError(errors.CLUSTER_ONLY_ON_COORDINATOR, "only allowed on coordinators", 501)
    body = shapes.collection_properties(ctx.cluster, coll)
    # a coordinator's shard listing does not show the key generator's state
    body["keyOptions"] = {k: v for k, v in body["keyOptions"].items() if k != "lastValue"}
    if ctx.flag("details"):
        body["shards"] = {s.name: s.replicas() for s in coll.shards}
    else:
        body["shards"] = [s.name for s in coll.shards]
    return ok(body)


async def responsible_shard(ctx: Ctx):  # type: ignore[no-untyped-def]
    coll = _coll(ctx)
    doc = await ctx.json({})
    if not isinstance(doc, dict):
        raise errors.ArangoError(errors.BAD_PARAMETER, "invalid document", 400)
    if not sharding.has_all_shard_keys(doc, coll.shard_keys):
        raise errors.ArangoError(errors.CLUSTER_NOT_ALL_SHARDING_ATTRIBUTES_GIVEN,
                                 "not all sharding attributes given")
    idx = sharding.shard_index(doc, coll.shard_keys, len(coll.shards))
    return ok({"shardId": coll.shards[idx].name})


async def truncate(ctx: Ctx):  # type: ignore[no-untyped-def]
    coll = _coll(ctx, "rw")
    documents.truncate(ctx.cluster, coll)
    return ok(shapes.collection_summary(coll))


async def rename(ctx: Ctx):  # type: ignore[no-untyped-def]
    coll = _coll(ctx, "rw")
    perms.require_database(ctx.cluster, ctx.who, ctx.db_name, "rw")
    body = await ctx.json({})
    new_name = body.get("name") if isinstance(body, dict) else None
    ctx.cluster.rename_collection(coll, new_name)  # type: ignore[arg-type]
    return ok(shapes.collection_summary(coll))


async def noop(ctx: Ctx):  # type: ignore[no-untyped-def]
    coll = _coll(ctx)
    body = shapes.collection_summary(coll)
    body["count"] = coll.count()
    return ok(body)


async def summary(ctx: Ctx):  # type: ignore[no-untyped-def]
    return ok(shapes.collection_summary(_coll(ctx)))


async def simple_ok(ctx: Ctx):  # type: ignore[no-untyped-def]
    _coll(ctx)
    return ok({"result": True})


async def drop(ctx: Ctx):  # type: ignore[no-untyped-def]
    coll = _coll(ctx, "rw")
    perms.require_database(ctx.cluster, ctx.who, ctx.db_name, "rw")
    if coll.is_system and not ctx.flag("isSystem"):
        raise errors.ArangoError(errors.FORBIDDEN, "cannot drop a system collection", 403)
    ctx.cluster.drop_collection(coll)
    return ok({"id": coll.id})


def register(router: Router) -> None:
    router.add("GET", "/_api/collection", list_collections, ANY)
    router.add("POST", "/_api/collection", create, COORD)
    router.add("GET", "/_api/collection/{c}", get, ANY)
    router.add("GET", "/_api/collection/{c}/properties", properties, ANY)
    router.add("PUT", "/_api/collection/{c}/properties", change_properties, COORD)
    router.add("GET", "/_api/collection/{c}/count", count, ANY)
    router.add("GET", "/_api/collection/{c}/figures", figures, COORD)
    router.add("GET", "/_api/collection/{c}/revision", revision, COORD)
    router.add("GET", "/_api/collection/{c}/checksum", checksum, COORD)
    router.add("GET", "/_api/collection/{c}/shards", shards, COORD)
    router.add("PUT", "/_api/collection/{c}/responsibleShard", responsible_shard, COORD)
    router.add("PUT", "/_api/collection/{c}/truncate", truncate, COORD)
    router.add("PUT", "/_api/collection/{c}/rename", rename, COORD)
    router.add("PUT", "/_api/collection/{c}/load", noop, COORD)
    router.add("PUT", "/_api/collection/{c}/unload", summary, COORD)
    router.add("PUT", "/_api/collection/{c}/loadIndexesIntoMemory", simple_ok, COORD)
    router.add("PUT", "/_api/collection/{c}/recalculateCount", simple_ok, COORD)
    router.add("PUT", "/_api/collection/{c}/compact", summary, COORD)
    router.add("DELETE", "/_api/collection/{c}", drop, COORD)
