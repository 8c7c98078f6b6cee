"""Named graphs (`/_api/gharial`): definitions stored as documents of `_graphs`, as ArangoDB does,
and the vertex / edge document routes that delegate to the document API."""
from __future__ import annotations

from . import documents, errors, perms
from .documents import WriteOptions
from .http import COORD, Ctx, Router, ok
from .model import EDGE, Collection, Database
from .writes import Writes

GRAPH_NOT_FOUND = 1924
GRAPH_DUPLICATE = 1925
GRAPH_EDGE_COLLECTION_NOT_USED = 1930
GRAPH_VERTEX_COLLECTION_NOT_USED = 1926


def _graphs(ctx: Ctx) -> Collection:
    return ctx.cluster.collection(ctx.db, "_graphs")


def _load(ctx: Ctx, name: str) -> dict:
    _, doc = documents.locate(ctx.cluster, _graphs(ctx), name, Writes(ctx.cluster))
    if doc is None:
        raise errors.ArangoError(GRAPH_NOT_FOUND, f"graph '{name}' not found", 404)
    return doc


def _store(ctx: Ctx, graph: dict, *, new: bool) -> dict:
    writes = Writes(ctx.cluster)
    body = {k: v for k, v in graph.items() if k not in ("_id", "_rev")}
    op = documents.insert if new else documents.replace
    (result,) = op(ctx.cluster, _graphs(ctx), [body], WriteOptions(return_new=True), writes)
    writes.commit()
    if isinstance(result, errors.ArangoError):
        raise result
    return result["new"]


def _public(graph: dict) -> dict:
    return {**{k: v for k, v in graph.items()}, "name": graph["_key"]}


def _ensure(ctx: Ctx, db: Database, name: str, edge: bool, options: dict) -> None:
    coll = db.collections.get(name)
    if coll is None:
        body = {"name": name, "type": EDGE if edge else 2}
        for key in ("numberOfShards", "replicationFactor", "writeConcern"):
            if key in options:
                body[key] = options[key]
        ctx.cluster.create_collection(db, body)
    elif edge and coll.type != EDGE:
        raise errors.ArangoError(1237, "collection type mismatch", 400)


def _edge_definition(raw: object) -> dict:
    if not isinstance(raw, dict) or not isinstance(raw.get("collection"), str):
        raise errors.ArangoError(1923, "invalid edge definition", 400)
    return {"collection": raw["collection"], "from": sorted(raw.get("from") or []),
            "to": sorted(raw.get("to") or [])}


def _vertex_collections(graph: dict) -> list[str]:
    names = set(graph["orphanCollections"])
    for d in graph["edgeDefinitions"]:
        names.update(d["from"])
        names.update(d["to"])
    return sorted(names)


async def list_graphs(ctx: Ctx):  # type: ignore[no-untyped-def]
    return ok({"graphs": [_public(g) for g in _graphs(ctx).shards[0].docs.values()]
               + [_public(g) for s in _graphs(ctx).shards[1:] for g in s.docs.values()]})


async def create(ctx: Ctx):  # type: ignore[no-untyped-def]
    perms.require_database(ctx.cluster, ctx.who, ctx.db_name, "rw")
    body = await ctx.json({})
    name = body.get("name") if isinstance(body, dict) else None
    if not isinstance(name, str) or not documents.valid_key(name):
        raise errors.ArangoError(errors.BAD_PARAMETER, "invalid graph name", 400)
    _, existing = documents.locate(ctx.cluster, _graphs(ctx), name, Writes(ctx.cluster))
    if existing is not None:
        raise errors.ArangoError(GRAPH_DUPLICATE, f"graph '{name}' already exists", 409)
    options = body.get("options") or {}
    defs = [_edge_definition(d) for d in body.get("edgeDefinitions") or []]
    orphans = sorted(body.get("orphanCollections") or [])
    db = ctx.db
    for d in defs:
        _ensure(ctx, db, d["collection"], True, options)
        for v in d["from"] + d["to"]:
            _ensure(ctx, db, v, False, options)
    for v in orphans:
        _ensure(ctx, db, v, False, options)
    graph = {"_key": name, "name": name, "edgeDefinitions": defs, "orphanCollections": orphans,
             "numberOfShards": options.get("numberOfShards", 1),
             "replicationFactor": options.get("replicationFactor", 1),
             "writeConcern": options.get("writeConcern", 1), "minReplicationFactor": options.get("writeConcern", 1),
             "isSmart": False, "isDisjoint": False, "isSatellite": False}
    stored = _store(ctx, graph, new=True)
    return ok({"graph": _public(stored)}, 201 if body.get("waitForSync") else 202)


async def get(ctx: Ctx):  # type: ignore[no-untyped-def]
    return ok({"graph": _public(_load(ctx, ctx.params["g"]))})


async def drop(ctx: Ctx):  # type: ignore[no-untyped-def]
    perms.require_database(ctx.cluster, ctx.who, ctx.db_name, "rw")
    graph = _load(ctx, ctx.params["g"])
    writes = Writes(ctx.cluster)
    documents.remove(ctx.cluster, _graphs(ctx), [graph["_key"]], WriteOptions(), writes)
    writes.commit()
    if ctx.flag("dropCollections"):
        names = [d["collection"] for d in graph["edgeDefinitions"]] + _vertex_collections(graph)
        for name in names:
            coll = ctx.db.collections.get(name)
            if coll is not None:
                ctx.cluster.drop_collection(coll)
    return ok({"removed": True}, 202)


async def list_vertex(ctx: Ctx):  # type: ignore[no-untyped-def]
    return ok({"collections": _vertex_collections(_load(ctx, ctx.params["g"]))})


async def list_edge(ctx: Ctx):  # type: ignore[no-untyped-def]
    return ok({"collections": sorted(d["collection"] for d in _load(ctx, ctx.params["g"])["edgeDefinitions"])})


async def add_vertex_collection(ctx: Ctx):  # type: ignore[no-untyped-def]
    graph = _load(ctx, ctx.params["g"])
    body = await ctx.json({})
    name = body.get("collection") if isinstance(body, dict) else None
    if not isinstance(name, str):
        raise errors.ArangoError(errors.BAD_PARAMETER, "invalid collection", 400)
    if name in _vertex_collections(graph):
        raise errors.ArangoError(1938, f"collection '{name}' already used in graph", 409)
    _ensure(ctx, ctx.db, name, False, {})
    graph["orphanCollections"] = sorted(graph["orphanCollections"] + [name])
    return ok({"graph": _public(_store(ctx, graph, new=False))}, 202)


async def remove_vertex_collection(ctx: Ctx):  # type: ignore[no-untyped-def]
    graph = _load(ctx, ctx.params["g"])
    name = ctx.params["c"]
    if name not in graph["orphanCollections"]:
        raise errors.ArangoError(GRAPH_VERTEX_COLLECTION_NOT_USED, "collection not used in graph or not an orphan", 400)
    graph["orphanCollections"] = [c for c in graph["orphanCollections"] if c != name]
    stored = _store(ctx, graph, new=False)
    if ctx.flag("dropCollection") and name in ctx.db.collections:
        ctx.cluster.drop_collection(ctx.db.collections[name])
    return ok({"graph": _public(stored)}, 202)


async def add_edge_definition(ctx: Ctx):  # type: ignore[no-untyped-def]
    graph = _load(ctx, ctx.params["g"])
    definition = _edge_definition(await ctx.json({}))
    if any(d["collection"] == definition["collection"] for d in graph["edgeDefinitions"]):
        raise errors.ArangoError(1920, "multi use of edge collection in edge def", 400)
    _ensure(ctx, ctx.db, definition["collection"], True, {})
    for v in definition["from"] + definition["to"]:
        _ensure(ctx, ctx.db, v, False, {})
    graph["edgeDefinitions"] = graph["edgeDefinitions"] + [definition]
    used = set(definition["from"] + definition["to"])
    graph["orphanCollections"] = [c for c in graph["orphanCollections"] if c not in used]
    return ok({"graph": _public(_store(ctx, graph, new=False))}, 202)


async def replace_edge_definition(ctx: Ctx):  # type: ignore[no-untyped-def]
    graph = _load(ctx, ctx.params["g"])
    definition = _edge_definition(await ctx.json({}))
    if not any(d["collection"] == ctx.params["c"] for d in graph["edgeDefinitions"]):
        raise errors.ArangoError(GRAPH_EDGE_COLLECTION_NOT_USED, "edge collection not used in graph", 404)
    for v in definition["from"] + definition["to"]:
        _ensure(ctx, ctx.db, v, False, {})
    graph["edgeDefinitions"] = [definition if d["collection"] == ctx.params["c"] else d
                                for d in graph["edgeDefinitions"]]
    return ok({"graph": _public(_store(ctx, graph, new=False))}, 202)


async def remove_edge_definition(ctx: Ctx):  # type: ignore[no-untyped-def]
    graph = _load(ctx, ctx.params["g"])
    name = ctx.params["c"]
    if not any(d["collection"] == name for d in graph["edgeDefinitions"]):
        raise errors.ArangoError(GRAPH_EDGE_COLLECTION_NOT_USED, "edge collection not used in graph", 404)
    before = set(_vertex_collections(graph))
    graph["edgeDefinitions"] = [d for d in graph["edgeDefinitions"] if d["collection"] != name]
    still = set(_vertex_collections(graph))
    graph["orphanCollections"] = sorted(set(graph["orphanCollections"]) | (before - still))
    stored = _store(ctx, graph, new=False)
    if ctx.flag("dropCollections") and name in ctx.db.collections:
        ctx.cluster.drop_collection(ctx.db.collections[name])
    return ok({"graph": _public(stored)}, 202)


def _element_collection(ctx: Ctx, kind: str) -> Collection:
    graph = _load(ctx, ctx.params["g"])
    name = ctx.params["c"]
    members = _vertex_collections(graph) if kind == "vertex" else [d["collection"] for d in graph["edgeDefinitions"]]
    if name not in members:
        raise errors.ArangoError(errors.DATA_SOURCE_NOT_FOUND, "collection or view not found", 404)
    coll = ctx.cluster.collection(ctx.db, name)
    perms.require_collection(ctx.cluster, ctx.who, ctx.db_name, coll.name, "ro")
    return coll


def _element_options(ctx: Ctx) -> WriteOptions:
    if_match = ctx.request.headers.get("If-Match")
    return WriteOptions(keep_null=ctx.flag("keepNull", True), return_new=ctx.flag("returnNew"),
                        return_old=ctx.flag("returnOld"), if_match=if_match.strip('"') if if_match else None)


def _element_result(kind: str, result: object, status: int, extra: dict | None = None):  # type: ignore[no-untyped-def]
    if isinstance(result, errors.ArangoError):
        raise result
    assert isinstance(result, dict)
    meta = {k: v for k, v in result.items() if k not in ("new", "old")}
    body: dict = {kind: meta} if extra is None else dict(extra)
    for key in ("new", "old"):
        if key in result:
            body[key] = result[key]
    return ok(body, status)


async def element(ctx: Ctx):  # type: ignore[no-untyped-def]
    kind = ctx.params["kind"]
    if kind not in ("vertex", "edge"):
        raise errors.ArangoError(errors.HTTP_NOT_FOUND, "unknown path", 404)
    coll = _element_collection(ctx, kind)
    method = ctx.request.method
    key = ctx.params.get("k")
    writes = Writes(ctx.cluster)
    opts = _element_options(ctx)
    sync = ctx.flag("waitForSync") or coll.props["waitForSync"]
    status = 201 if sync else 202
    if method == "GET":
        _, doc = documents.locate(ctx.cluster, coll, key or "", writes)
        if doc is None:
            raise errors.ArangoError(errors.DOCUMENT_NOT_FOUND, "document not found", 404)
        if opts.if_match is not None and opts.if_match != doc["_rev"]:
            raise errors.ArangoError(errors.CONFLICT, "conflict, _rev values do not match", 412)
        return ok({kind: doc})
    perms.require_collection(ctx.cluster, ctx.who, ctx.db_name, coll.name, "rw")
    body = await ctx.json({})
    if method == "POST":
        (result,) = documents.insert(ctx.cluster, coll, [body], opts, writes)
    elif method == "PUT":
        (result,) = documents.replace(ctx.cluster, coll, [body], opts, writes, key)
        status = 201 if sync else 202
    elif method == "PATCH":
        (result,) = documents.update(ctx.cluster, coll, [body], opts, writes, key)
    else:
        (result,) = documents.remove(ctx.cluster, coll, [key], opts, writes, key)
        writes.commit()
        return _element_result(kind, result, status, {"removed": True})
    writes.commit()
    return _element_result(kind, result, status)


async def edges_of_vertex(ctx: Ctx):  # type: ignore[no-untyped-def]
    """`/_api/edges/<edge collection>?vertex=<id>&direction=in|out|any`."""
    coll = ctx.cluster.collection(ctx.db, ctx.params["c"])
    perms.require_collection(ctx.cluster, ctx.who, ctx.db_name, coll.name, "ro")
    if coll.type != EDGE:
        raise errors.ArangoError(errors.COLLECTION_TYPE_INVALID, "invalid collection type", 400)
    vertex = ctx.query.get("vertex")
    if not vertex:
        raise errors.ArangoError(errors.BAD_PARAMETER, "illegal document handle", 400)
    direction = ctx.query.get("direction", "any")
    attrs = {"in": ("_to",), "out": ("_from",)}.get(direction, ("_from", "_to"))
    found = [doc for shard in coll.shards for doc in shard.docs.values()
             if any(doc.get(a) == vertex for a in attrs)]
    return ok({"edges": found, "stats": {"scannedIndex": len(found), "filtered": 0}})


def register(router: Router) -> None:
    router.add("GET", "/_api/edges/{c}", edges_of_vertex, COORD)
    router.add("GET", "/_api/gharial", list_graphs, COORD)
    router.add("POST", "/_api/gharial", create, COORD)
    router.add("GET", "/_api/gharial/{g}", get, COORD)
    router.add("DELETE", "/_api/gharial/{g}", drop, COORD)
    router.add("GET", "/_api/gharial/{g}/vertex", list_vertex, COORD)
    router.add("POST", "/_api/gharial/{g}/vertex", add_vertex_collection, COORD)
    router.add("DELETE", "/_api/gharial/{g}/vertex/{c}", remove_vertex_collection, COORD)
    router.add("GET", "/_api/gharial/{g}/edge", list_edge, COORD)
    router.add("POST", "/_api/gharial/{g}/edge", add_edge_definition, COORD)
    router.add("PUT", "/_api/gharial/{g}/edge/{c}", replace_edge_definition, COORD)
    router.add("DELETE", "/_api/gharial/{g}/edge/{c}", remove_edge_definition, COORD)
    router.add("POST", "/_api/gharial/{g}/{kind}/{c}", element, COORD)
    router.add("GET|PUT|PATCH|DELETE", "/_api/gharial/{g}/{kind}/{c}/{k}", element, COORD)
