"""Indexes (`/_api/index`): list, get, idempotent create (200 for an identical index), drop."""
from __future__ import annotations

import orjson

from . import errors, indexes, perms, wal as walmod
from .http import COORD, Ctx, Router, ok
from .model import Collection
from .routes_view import SEARCH_DEFAULTS
from .shapes import public_index

# attributes that make two index definitions "the same index" for idempotent creation
_IDENTITY = ("type", "fields", "unique", "sparse", "expireAfter", "geoJson", "minLength")

# what ArangoDB 3.12 stores for an inverted index; each is kept when given (a replicated
# definition must come back with its consolidation, commit and write-buffer settings)
_INVERTED_DEFAULTS = {
    "analyzer": "identity", "features": ["frequency", "norm"], "includeAllFields": False,
    "trackListPositions": False, "searchField": False, "storedValues": [],
    "primarySort": {"fields": [], "compression": "lz4"}, "sparse": True, "version": 1, **SEARCH_DEFAULTS,
}


def _collection(ctx: Ctx, name: str | None, level: str) -> Collection:
    if not name:
        raise errors.ArangoError(errors.COLLECTION_PARAMETER_MISSING, "collection parameter missing", 400)
    coll = ctx.cluster.collection(ctx.db, name)
    perms.require_collection(ctx.cluster, ctx.who, ctx.db_name, coll.name, level)
    return coll


def _normalise(coll: Collection, body: dict) -> dict:
    kind = body.get("type")
    if kind == "hash" or kind == "skiplist":
        kind = "persistent"
    if kind not in indexes.INDEX_TYPES:
        raise errors.ArangoError(errors.BAD_PARAMETER, "invalid index type", 400)
    fields = body.get("fields")
    if kind == "inverted" and fields is None:
        fields = []
    if not isinstance(fields, list) or (kind != "inverted" and not fields):
        raise errors.ArangoError(errors.BAD_PARAMETER, "invalid index fields", 400)
    if kind == "inverted":
        fields = [f if isinstance(f, dict) else {"name": f} for f in fields]
    elif not all(isinstance(f, str) and f for f in fields):
        raise errors.ArangoError(errors.BAD_PARAMETER, "invalid index fields", 400)
    out: dict = {"type": kind, "fields": fields, "unique": bool(body.get("unique", False)),
                 "sparse": bool(body.get("sparse", False))}
    if kind == "persistent":
        out.update(deduplicate=bool(body.get("deduplicate", True)), estimates=bool(body.get("estimates", True)),
                   cacheEnabled=bool(body.get("cacheEnabled", False)))
        if body.get("storedValues"):
            out["storedValues"] = body["storedValues"]
        out["selectivityEstimate"] = 1
    elif kind == "ttl":
        if not isinstance(body.get("expireAfter"), (int, float)) or len(fields) != 1:
            raise errors.ArangoError(errors.BAD_PARAMETER, "expireAfter attribute must be a number", 400)
        out.update(expireAfter=body["expireAfter"], sparse=True, unique=False)
    elif kind == "geo":
        if len(fields) not in (1, 2):
            raise errors.ArangoError(errors.BAD_PARAMETER, "geo index needs one or two fields", 400)
        out.update(geoJson=bool(body.get("geoJson", False)), legacyPolygons=bool(body.get("legacyPolygons", False)),
                   sparse=True, unique=False, bestIndexedLevel=17, worstIndexedLevel=4, maxNumCoverCells=8)
    elif kind == "fulltext":
        out.update(minLength=int(body.get("minLength", 2) or 2), sparse=True, unique=False)
    elif kind == "inverted":
        out.update(orjson.loads(orjson.dumps(_INVERTED_DEFAULTS)))
        for key in (*_INVERTED_DEFAULTS, "cache", "primaryKeyCache", "parallelism"):
            if key in body and key not in ("sparse", "version"):
                out[key] = body[key]
    elif kind in ("zkd", "mdi", "mdi-prefixed"):
        if body.get("fieldValueTypes") != "double":
            raise errors.ArangoError(errors.BAD_PARAMETER, "fieldValueTypes must be \"double\"", 400)
        out["fieldValueTypes"] = "double"
        for key, value in body.items():
            if key not in out and key not in ("name", "id", "inBackground"):
                out[key] = value
    else:
        for key, value in body.items():
            if key not in out and key not in ("name", "id", "inBackground"):
                out[key] = value
    return out


def _same(a: dict, b: dict) -> bool:
    return all(a.get(k) == b.get(k) for k in _IDENTITY)


async def list_indexes(ctx: Ctx):  # type: ignore[no-untyped-def]
    coll = _collection(ctx, ctx.query.get("collection"), "ro")
    listed = [public_index(coll, ix) for ix in coll.indexes]
    return ok({"indexes": listed, "identifiers": {ix["id"]: ix for ix in listed}})


def _find(coll: Collection, ref: str) -> dict:
    for ix in coll.indexes:
        if ix["id"] == ref or ix["name"] == ref:
            return ix
    raise errors.ArangoError(errors.INDEX_NOT_FOUND, "index not found", 404)


async def get_index(ctx: Ctx):  # type: ignore[no-untyped-def]
    coll = _collection(ctx, ctx.params["c"], "ro")
    return ok(public_index(coll, _find(coll, ctx.params["id"])))


async def create(ctx: Ctx):  # type: ignore[no-untyped-def]
    coll = _collection(ctx, ctx.query.get("collection"), "rw")
    perms.require_database(ctx.cluster, ctx.who, ctx.db_name, "rw")
    body = await ctx.json({})
    if not isinstance(body, dict):
        raise errors.ArangoError(errors.HTTP_BAD_PARAMETER, "invalid body", 400)
    if body.get("type") in ("primary", "edge"):
        raise errors.ArangoError(errors.BAD_PARAMETER, "cannot create index of this type", 400)
    spec = _normalise(coll, body)
    name = body.get("name")
    for existing in coll.indexes:
        if _same(existing, spec) and (not name or name == existing["name"]):
            return ok({**public_index(coll, existing), "isNewlyCreated": False})
        if name and existing["name"] == name:
            raise errors.ArangoError(errors.DUPLICATE_NAME, "duplicate value", 409)
    coll.index_counter = max(coll.index_counter, 100) + 1 + int(ctx.cluster.ids.next() % 7)
    spec["id"] = str(coll.index_counter)
    spec["name"] = name or f"idx_{ctx.cluster.ids.next()}"
    if indexes.is_unique(spec):
        indexes.build_unique(coll, spec)  # raises 1210 on existing duplicates
    coll.indexes.append(spec)
    ctx.cluster.structure_version += 1
    for shard in coll.shards:
        ctx.cluster.log_shard(shard, [walmod.Op(walmod.INDEX_CREATE, coll.db.name, shard.cuid, shard.name,
                                                orjson.dumps(spec))])
    return ok({**public_index(coll, spec), "isNewlyCreated": True}, 201)


async def drop(ctx: Ctx):  # type: ignore[no-untyped-def]
    coll = _collection(ctx, ctx.params["c"], "rw")
    perms.require_database(ctx.cluster, ctx.who, ctx.db_name, "rw")
    ix = _find(coll, ctx.params["id"])
    if ix["type"] in ("primary", "edge"):
        raise errors.ArangoError(errors.FORBIDDEN, "cannot drop primary or edge index", 403)
    coll.indexes.remove(ix)
    coll.unique.pop(ix["id"], None)
    ctx.cluster.structure_version += 1
    for shard in coll.shards:
        ctx.cluster.log_shard(shard, [walmod.Op(walmod.INDEX_DROP, coll.db.name, shard.cuid, shard.name,
                                                orjson.dumps({"id": ix["id"]}))])
    return ok({"id": f"{coll.name}/{ix['id']}"})


def register(router: Router) -> None:
    router.add("GET", "/_api/index", list_indexes, COORD)
    router.add("POST", "/_api/index", create, COORD)
    router.add("GET", "/_api/index/{c}/{id}", get_index, COORD)
    router.add("DELETE", "/_api/index/{c}/{id}", drop, COORD)
