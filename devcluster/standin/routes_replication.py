"""`/_api/replication/*`: batches, inventory, clusterInventory, dump, logger-state, server-id."""
from __future__ import annotations

import orjson
from aiohttp import web

from . import batches, errors, perms, shapes
from .http import ANY, DBSERVER, Ctx, Router, json_response
from .model import COORDINATOR, Collection, Server
from .routes_admin import now_iso, server_info
from .routes_wal import DUMP_CONTENT_TYPE

_EXCLUDED = ("_statistics", "_statistics15", "_statisticsRaw", "_configuration", "_frontend",
             "_cluster_kickstarter_plans", "_routing", "_fishbowl", "_foxxlog", "_sessions")


def _target(ctx: Ctx) -> Server:
    """The server whose data a replication call addresses (coordinators forward via DBserver=).

    Batches, inventories and dumps need write access to the database, not server admin rights:
    python-arango's own tests run them as a plain database user."""
    perms.require_database(ctx.cluster, ctx.who, ctx.db_name, "rw")
    if ctx.server.role == COORDINATOR:
        ref = ctx.query.get("DBserver")
        if not ref:
            raise errors.ArangoError(errors.BAD_PARAMETER, "need DBserver parameter", 400)
        server = ctx.cluster.server(ref)
        if not server.running:
            raise errors.ArangoError(errors.CLUSTER_BACKEND_UNAVAILABLE, "DBServer not available", 503)
        return server
    return ctx.server


def _state(server: Server) -> dict:
    assert server.wal is not None
    tick = str(server.wal.last_tick)
    return {"running": True, "lastLogTick": tick, "lastUncommittedLogTick": tick,
            "totalEvents": server.wal.last_tick, "time": now_iso()}


async def batch_create(ctx: Ctx):  # type: ignore[no-untyped-def]
    server = _target(ctx)
    body = await ctx.json({}) or {}
    ttl = body.get("ttl") if isinstance(body, dict) else None
    batch = batches.create(ctx.cluster, server, float(ttl) if ttl else None)
    if server.wal is not None:
        server.wal.register_client(ctx.query.get("syncerId", ""), ctx.query.get("serverId", ""),
                                   ctx.query.get("clientInfo", ""), batch.last_tick)
    out = {"id": batch.id, "lastTick": str(batch.last_tick)}
    if ctx.flag("state"):
        out["state"] = _state(server)
    return json_response(out)


async def batch_extend(ctx: Ctx):  # type: ignore[no-untyped-def]
    server = _target(ctx)
    body = await ctx.json({}) or {}
    ttl = body.get("ttl") if isinstance(body, dict) else None
    batches.extend(server, ctx.params["id"], float(ttl) if ttl else None)
    return web.Response(status=204)


async def batch_delete(ctx: Ctx):  # type: ignore[no-untyped-def]
    batches.delete(_target(ctx), ctx.params["id"])
    return web.Response(status=204)


def _include(name: str, include_system: bool, include_foxx: bool) -> bool:
    if name in _EXCLUDED:
        return False
    if name.startswith("_") and not include_system:
        return False
    return include_foxx or name not in ("_jobs", "_queues")


def _db_inventory(ctx: Ctx, server: Server, db_name: str, only: str | None) -> dict:
    cl = ctx.cluster
    db = cl.database(db_name)
    include_system = ctx.flag("includeSystem", True)
    include_foxx = ctx.flag("includeFoxxQueues")
    colls = []
    for coll in db.collections.values():
        if not _include(coll.name, include_system, include_foxx):
            continue
        for shard in coll.shards:
            if server.id not in shard.replicas() or (only and only not in (shard.name, coll.name)):
                continue
            params = shapes.shard_definition(cl, coll, shard)
            indexes = params.pop("indexes")
            colls.append({"parameters": params, "indexes": indexes})
    views = [] if only or cl.is_cluster else list(db.views.values())
    return {"collections": colls, "views": views}


async def inventory(ctx: Ctx):  # type: ignore[no-untyped-def]
    server = _target(ctx)
    batches.get(server, ctx.query.get("batchId"))
    global_ = ctx.flag("global")
    if global_ and ctx.db_name != "_system":
        raise errors.ArangoError(errors.FORBIDDEN, "global inventory can only be fetched from within _system database", 403)
    assert server.wal is not None
    body: dict = {}
    if global_:
        body["databases"] = {}
        for name, db in ctx.cluster.databases.items():
            inv = _db_inventory(ctx, server, name, None)
            body["databases"][name] = {"name": name, "id": db.id, **inv}
    else:
        body.update(_db_inventory(ctx, server, ctx.db_name, ctx.query.get("collection")))
    body["state"] = _state(server)
    body["tick"] = str(server.wal.last_tick)
    return json_response(body)


def cluster_collection_entry(ctx: Ctx, coll: Collection) -> dict:
    cl = ctx.cluster
    params = shapes.collection_properties(cl, coll)
    params["planId"] = coll.id
    params["shards"] = {s.name: s.replicas() for s in coll.shards}
    in_sync = all(cl.servers[f].running for s in coll.shards for f in s.followers)
    indexes = [dict(ix) for ix in coll.indexes if ix["type"] not in ("primary", "edge")]
    return {"parameters": params, "indexes": indexes, "isReady": True, "allInSync": in_sync}


async def cluster_inventory(ctx: Ctx):  # type: ignore[no-untyped-def]
    if ctx.server.role != COORDINATOR:
        raise errors.ArangoError(errors.CLUSTER_ONLY_ON_COORDINATOR, "only allowed on coordinators", 501)
    perms.require_database(ctx.cluster, ctx.who, ctx.db_name, "rw")
    db = ctx.db
    include_system = ctx.flag("includeSystem", True)
    hidden = ctx.cluster.coordinator_view.hidden
    colls = [cluster_collection_entry(ctx, c) for c in db.collections.values()
             if _include(c.name, include_system, True) and (db.name, c.name) not in hidden]
    tick = max((s.wal.last_tick for s in ctx.cluster.dbservers if s.wal), default=0)
    return json_response({"properties": {"name": db.name, "id": db.id, "isSystem": db.name == "_system",
                                         **db.options},
                          "collections": colls, "views": list(db.views.values()),
                          "tick": str(tick), "state": "unused"})


async def dump(ctx: Ctx):  # type: ignore[no-untyped-def]
    server = _target(ctx)
    name = ctx.query.get("collection")
    if not name:
        raise errors.ArangoError(errors.HTTP_BAD_PARAMETER, "invalid collection parameter", 400)
    batch = batches.get(server, ctx.query.get("batchId"))
    ctx.db
    if name not in batch.snapshot:
        # a single server addresses the collection by name; so does our snapshot
        raise errors.ArangoError(errors.DATA_SOURCE_NOT_FOUND, "collection or view not found", 404)
    cursor = batch.dumps.get(name)
    if cursor is None:
        cursor = batches.DumpCursor(list(batch.snapshot[name].values()))
        batch.dumps[name] = cursor
    chunk = max(ctx.int_param("chunkSize", 16 * 1024 * 1024), 1)
    envelope = ctx.flag("useEnvelope", True)
    lines: list[bytes] = []
    size = 0
    while cursor.offset < len(cursor.docs) and size < chunk:
        doc = cursor.docs[cursor.offset]
        cursor.offset += 1
        line = orjson.dumps({"type": 2300, "data": doc} if envelope else doc) + b"\n"
        lines.append(line)
        size += len(line)
    more = cursor.offset < len(cursor.docs)
    if lines:
        cursor.chunks += 1
    headers = {"x-arango-replication-checkmore": "true" if more else "false",
               "x-arango-replication-lastincluded": str(cursor.chunks if lines else 0)}
    if not lines:
        return web.Response(status=204, headers=headers)
    headers["Content-Type"] = DUMP_CONTENT_TYPE
    return web.Response(body=b"".join(lines), status=200, headers=headers)


async def logger_state(ctx: Ctx):  # type: ignore[no-untyped-def]
    server = _target(ctx)
    assert server.wal is not None
    clients = [{"syncerId": c.syncer_id, "serverId": c.server_id, "clientInfo": c.client_info,
                "lastServedTick": str(c.last_served_tick),
                "time": now_iso()} for c in server.wal.clients.values()]
    return json_response({"state": _state(server), "server": {**server_info(ctx), "engine": "rocksdb"},
                          "clients": clients})


async def logger_first_tick(ctx: Ctx):  # type: ignore[no-untyped-def]
    server = _target(ctx)
    assert server.wal is not None
    return json_response({"firstTick": str(server.wal.tick_min)})


async def logger_tick_ranges(ctx: Ctx):  # type: ignore[no-untyped-def]
    server = _target(ctx)
    assert server.wal is not None
    return json_response([{"datafile": "archive/000001.log", "status": "collected",
                           "tickMin": str(server.wal.tick_min), "tickMax": str(server.wal.last_tick)}])


async def server_id(ctx: Ctx):  # type: ignore[no-untyped-def]
    return json_response({"serverId": ctx.server.numeric_id})


def register(router: Router) -> None:
    router.add("POST", "/_api/replication/batch", batch_create, ANY)
    router.add("PUT", "/_api/replication/batch/{id}", batch_extend, ANY)
    router.add("DELETE", "/_api/replication/batch/{id}", batch_delete, ANY)
    router.add("GET", "/_api/replication/inventory", inventory, ANY)
    router.add("GET", "/_api/replication/clusterInventory", cluster_inventory, ANY)
    router.add("GET", "/_api/replication/dump", dump, ANY)
    router.add("GET", "/_api/replication/logger-state", logger_state, DBSERVER)
    router.add("GET", "/_api/replication/logger-first-tick", logger_first_tick, DBSERVER)
    router.add("GET", "/_api/replication/logger-tick-ranges", logger_tick_ranges, DBSERVER)
    router.add("GET", "/_api/replication/server-id", server_id, ANY)
