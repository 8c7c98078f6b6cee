"""Cluster administration calls of the coordinator that the stand-in answers trivially:
per-node version/engine/statistics, server count, maintenance modes, rebalancing, and
the VPack sort migration. The stand-in never needs rebalancing, so plans have no moves."""
from __future__ import annotations

import time

from . import errors, perms
from .http import ANY, Ctx, Router, json_response, ok
from .routes_admin import engine

_MAINTENANCE: dict[str, float] = {}  # server id -> maintenance end (epoch seconds)


def _node(ctx: Ctx) -> str:
    ref = ctx.query.get("ServerID") or ""
    return ctx.cluster.server(ref).id


async def node_version(ctx: Ctx):  # type: ignore[no-untyped-def]
    _node(ctx)
    return json_response({"server": "arango", "version": ctx.cluster.flavour.version, "license": "community"})


async def node_engine(ctx: Ctx):  # type: ignore[no-untyped-def]
    _node(ctx)
    return await engine(ctx)


async def node_statistics(ctx: Ctx):  # type: ignore[no-untyped-def]
    _node(ctx)
    return ok({"time": time.time(), "enabled": True, "system": {}, "client": {}, "http": {}, "server": {}})


async def number_of_servers(ctx: Ctx):  # type: ignore[no-untyped-def]
    cl = ctx.cluster
    return ok({"numberOfCoordinators": 1, "numberOfDBServers": len(cl.dbservers),
               "cleanedServers": [], "toBeCleanedServers": []})


async def cluster_maintenance(ctx: Ctx):  # type: ignore[no-untyped-def]
    perms.require_admin(ctx.cluster, ctx.who)
    body = await ctx.json(None)
    if body not in ("on", "off") and not isinstance(body, dict):
        raise errors.ArangoError(errors.BAD_PARAMETER, "state string must be \"on\" or \"off\"", 400)
    return ok({"warning": "the stand-in has no supervision to pause"})


async def server_maintenance(ctx: Ctx):  # type: ignore[no-untyped-def]
    perms.require_admin(ctx.cluster, ctx.who)
    sid = ctx.cluster.server(ctx.params["id"]).id
    if ctx.request.method == "PUT":
        body = await ctx.json({}) or {}
        if body.get("mode") == "maintenance":
            _MAINTENANCE[sid] = time.time() + float(body.get("timeout") or 3600)
        else:
            _MAINTENANCE.pop(sid, None)
        return ok({})
    until = _MAINTENANCE.get(sid)
    if until is None or until < time.time():
        _MAINTENANCE.pop(sid, None)
        return ok({"result": {}})
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(until))
    return ok({"result": {"Mode": "maintenance", "Until": stamp}})


def _imbalance() -> dict:
    part = {"sizeUsed": [], "targetSize": [], "numberShards": [], "imbalance": 0, "totalUsed": 0,
            "totalShards": 0}
    return {"leader": {**part, "leaderDupl": [], "weightUsed": []}, "shards": part}


async def rebalance(ctx: Ctx):  # type: ignore[no-untyped-def]
    perms.require_admin(ctx.cluster, ctx.who)
    if ctx.request.method == "GET":
        return ok({"result": {**_imbalance(), "pendingMoveShards": 0, "todoMoveShards": 0}})
    return ok({"result": {"imbalanceBefore": _imbalance(), "imbalanceAfter": _imbalance(), "moves": []}})


async def rebalance_execute(ctx: Ctx):  # type: ignore[no-untyped-def]
    perms.require_admin(ctx.cluster, ctx.who)
    return ok({}, 200)


async def vpack_sort_migration(ctx: Ctx):  # type: ignore[no-untyped-def]
    perms.require_admin(ctx.cluster, ctx.who)
    return ok({"result": {"error": False, "errorCode": 0, "errorMessage": "", "affected": []}})


async def wal_flush(ctx: Ctx):  # type: ignore[no-untyped-def]
    perms.require_admin(ctx.cluster, ctx.who)
    return ok({})


async def wal_properties(ctx: Ctx):  # type: ignore[no-untyped-def]
    raise errors.ArangoError(errors.NOT_IMPLEMENTED, "not implemented for the RocksDB engine", 501)


def register(router: Router) -> None:
    router.add("GET", "/_admin/cluster/nodeVersion", node_version, ANY)
    router.add("GET", "/_admin/cluster/nodeEngine", node_engine, ANY)
    router.add("GET", "/_admin/cluster/nodeStatistics", node_statistics, ANY)
    router.add("GET", "/_admin/cluster/numberOfServers", number_of_servers, ANY)
    router.add("PUT", "/_admin/cluster/maintenance", cluster_maintenance, ANY)
    router.add("GET|PUT", "/_admin/cluster/maintenance/{id}", server_maintenance, ANY)
    router.add("GET|POST|PUT", "/_admin/cluster/rebalance", rebalance, ANY)
    router.add("POST", "/_admin/cluster/rebalance/execute", rebalance_execute, ANY)
    router.add("GET|PUT", "/_admin/cluster/vpackSortMigration/{step}", vpack_sort_migration, ANY)
    router.add("PUT", "/_admin/wal/flush", wal_flush, ANY)
    router.add("GET|PUT", "/_admin/wal/properties", wal_properties, ANY)
