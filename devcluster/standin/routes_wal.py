"""`/_api/wal/*`: range, lastTick, tail — on DBServers and single servers; 501 on coordinators."""
from __future__ import annotations

from aiohttp import web

from . import errors, perms
from .http import ANY, Ctx, Router, json_response
from .model import COORDINATOR, Server
from .routes_admin import now_iso, server_info
from .wal import Live

DUMP_CONTENT_TYPE = "application/x-arango-dump"
_MIN_CHUNK = 16 * 1024
_MAX_CHUNK = 128 * 1024 * 1024
_DEFAULT_CHUNK = 1024 * 1024


def _server(ctx: Ctx) -> Server:
    if ctx.server.role == COORDINATOR:
        raise errors.ArangoError(errors.CLUSTER_UNSUPPORTED, "'/_api/wal' is not yet supported in a cluster", 501)
    perms.require_admin(ctx.cluster, ctx.who)
    return ctx.server


async def wal_range(ctx: Ctx):  # type: ignore[no-untyped-def]
    wal = _server(ctx).wal
    assert wal is not None
    # ArangoDB answers range and lastTick without the error/code envelope
    return json_response({"time": now_iso(), "tickMin": str(wal.tick_min), "tickMax": str(wal.last_tick),
                          "server": server_info(ctx)})


async def last_tick(ctx: Ctx):  # type: ignore[no-untyped-def]
    wal = _server(ctx).wal
    assert wal is not None
    return json_response({"time": now_iso(), "tick": str(wal.last_tick), "server": server_info(ctx)})


async def open_transactions(ctx: Ctx):  # type: ignore[no-untyped-def]
    wal = _server(ctx).wal
    assert wal is not None
    tick = str(wal.last_tick)
    return web.Response(body=b"[]", status=200, content_type="application/json", headers={
        "x-arango-replication-lastincluded": "0", "x-arango-replication-lastscanned": tick,
        "x-arango-replication-lasttick": tick, "x-arango-replication-frompresent": "true",
        "x-arango-replication-checkmore": "false"})


async def tail(ctx: Ctx):  # type: ignore[no-untyped-def]
    server = _server(ctx)
    wal = server.wal
    assert wal is not None
    from_tick = ctx.int_param("from", 0)
    to_raw = ctx.query.get("to")
    to_tick = ctx.int_param("to", 0) if to_raw is not None else None
    if to_tick is not None and (to_tick == 0 or from_tick > to_tick):
        raise errors.ArangoError(errors.HTTP_BAD_PARAMETER, "invalid from/to values", 400)
    global_ = ctx.flag("global")
    if global_ and ctx.db_name != "_system":
        raise errors.ArangoError(errors.FORBIDDEN, "global tailing is only possible from within _system database", 403)
    if not global_:
        ctx.db  # raises 1228 for an unknown database
    chunk = ctx.int_param("chunkSize", _DEFAULT_CHUNK)
    chunk = min(max(chunk, _MIN_CHUNK), _MAX_CHUNK)
    cuid = None
    coll_name = ctx.query.get("collection")
    if coll_name and not global_:
        cuid = _shard_cuid(ctx, server, coll_name)
    result = wal.tail(from_tick, to_tick, chunk, ctx.int_param("lastScanned", 0),
                      None if global_ else ctx.db_name, cuid, ctx.flag("includeSystem", True),
                      _live(ctx, server))
    wal.register_client(ctx.query.get("syncerId", ""), ctx.query.get("serverId", ""),
                        ctx.query.get("clientInfo", ""), result.last_included or from_tick)
    headers = {
        "x-arango-replication-lastincluded": str(result.last_included),
        "x-arango-replication-lastscanned": str(result.last_scanned),
        "x-arango-replication-lasttick": str(result.last_tick),
        "x-arango-replication-frompresent": "true" if result.from_present else "false",
        "x-arango-replication-checkmore": "true" if 0 < result.last_included < result.last_tick else "false",
        # ArangoDB names the dump type on its empty 204 answer too
        "Content-Type": DUMP_CONTENT_TYPE,
    }
    if not result.lines:
        return web.Response(status=204, headers=headers)
    return web.Response(body=b"".join(result.lines), status=200, headers=headers)


def _live(ctx: Ctx, server: Server) -> Live:
    views = {v["globallyUniqueId"] for db in ctx.cluster.databases.values() for v in db.views.values()}
    return Live(frozenset(ctx.cluster.live_cuids(server) | views), frozenset(ctx.cluster.databases))


def _shard_cuid(ctx: Ctx, server: Server, name: str) -> str:
    db = ctx.db
    for coll in db.collections.values():
        for shard in coll.shards:
            if shard.name == name and server.id in shard.replicas():
                return shard.cuid
    raise errors.ArangoError(errors.DATA_SOURCE_NOT_FOUND, "collection or view not found", 404)


def register(router: Router) -> None:
    router.add("GET", "/_api/wal/range", wal_range, ANY)
    router.add("GET", "/_api/wal/lastTick", last_tick, ANY)
    router.add("GET", "/_api/wal/tail", tail, ANY)
    router.add("GET", "/_api/wal/open-transactions", open_transactions, ANY)
