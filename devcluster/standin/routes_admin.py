"""Server identity and cluster topology: version, role, id, health, shard distribution."""
from __future__ import annotations

import os
import platform
import time
from datetime import datetime, timezone

from . import errors, perms
from .http import ANY, Ctx, Router, json_response, ok
from .model import COORDINATOR, SINGLE


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def server_info(ctx: Ctx) -> dict:
    return {"version": ctx.cluster.flavour.version, "serverId": ctx.server.numeric_id}


async def version(ctx: Ctx):  # type: ignore[no-untyped-def]
    version = ctx.cluster.flavour.version
    body = {"server": "arango", "version": version, "license": "community"}
    if ctx.flag("details"):
        body["details"] = {"architecture": "64bit", "engine": "rocksdb", "mode": "server",
                           "role": ctx.server.role, "server-version": version,
                           "host": ctx.server.id}
    return json_response(body)


async def engine(ctx: Ctx):  # type: ignore[no-untyped-def]
    return json_response({"name": "rocksdb", "supports": {"dfdb": False, "indexes": [
        "primary", "edge", "persistent", "geo", "fulltext", "ttl", "inverted", "mdi"]}})


async def role(ctx: Ctx):  # type: ignore[no-untyped-def]
    return ok({"errorNum": 0, "role": ctx.server.role, "mode": "default"})


async def server_id(ctx: Ctx):  # type: ignore[no-untyped-def]
    if ctx.server.role == SINGLE:
        raise errors.ArangoError(errors.HTTP_SERVER_ERROR, "ServerID not initialized", 500)
    return ok({"id": ctx.server.id})


async def availability(ctx: Ctx):  # type: ignore[no-untyped-def]
    return ok({"mode": "default", "readOnly": False})


async def status(ctx: Ctx):  # type: ignore[no-untyped-def]
    body = {"server": "arango", "version": ctx.cluster.flavour.version, "pid": 0, "license": "community",
            "mode": "server", "operationMode": "server", "foxxApi": True, "host": ctx.server.id,
            "serverInfo": {"role": ctx.server.role, "maintenance": False, "readOnly": False,
                           "writeOpsEnabled": True, "persistedId": ctx.server.id,
                           "address": ctx.server.endpoint, "serverId": ctx.server.id, "state": "SERVING"}}
    if ctx.server.role == COORDINATOR:
        body["coordinator"] = {"foxxmaster": ctx.server.id, "isFoxxmaster": True}
    return json_response(body)


async def time_(ctx: Ctx):  # type: ignore[no-untyped-def]
    return ok({"time": time.time()})


async def health(ctx: Ctx):  # type: ignore[no-untyped-def]
    if ctx.server.role != COORDINATOR:
        raise errors.ArangoError(errors.CLUSTER_ONLY_ON_COORDINATOR,
                                 "only allowed on coordinators", 403)
    cl = ctx.cluster
    entries: dict[str, dict] = {}
    stamp = now_iso()
    for s in cl.servers.values():
        entry = {"Role": "Coordinator" if s.role == COORDINATOR else "DBServer",
                 "ShortName": s.short_name, "Endpoint": s.endpoint,
                 "Status": "GOOD" if s.running else "FAILED",
                 "SyncStatus": "SERVING" if s.running else "SHUTDOWN",
                 "Version": cl.flavour.version, "Engine": "rocksdb", "LastAckedTime": stamp,
                 "CanBeDeleted": not s.running, "Host": "standin", "Timestamp": stamp}
        if s.role == COORDINATOR:
            entry["AdvertisedEndpoint"] = ""
        entries[s.id] = entry
    entries["AGNT-standin"] = {"Role": "Agent", "Endpoint": "tcp://127.0.0.1:0", "Leader": "AGNT-standin",
                               "Leading": True, "Status": "GOOD", "Version": cl.flavour.version, "Engine": "rocksdb"}
    return ok({"ClusterId": cl.cluster_id, "Health": entries})


def _distribution(ctx: Ctx, colls: list) -> dict:
    cl = ctx.cluster
    view = cl.coordinator_view
    out = {}
    for coll in colls:
        if (coll.db.name, coll.name) in view.hidden:
            continue
        plan, current = {}, {}
        for shard in coll.shards:
            leader = view.leaders.get((coll.db.name, shard.name), cl.servers[shard.leader].short_name)
            followers = [cl.servers[f].short_name for f in shard.followers]
            plan[shard.name] = {"leader": leader, "followers": followers}
            current[shard.name] = {"leader": leader,
                                   "followers": [cl.servers[f].short_name for f in shard.followers
                                                 if cl.servers[f].running]}
        out[coll.name] = {"Plan": plan, "Current": current}
    return out


async def shard_distribution(ctx: Ctx):  # type: ignore[no-untyped-def]
    if ctx.server.role != COORDINATOR:
        raise errors.ArangoError(errors.CLUSTER_ONLY_ON_COORDINATOR, "only allowed on coordinators", 501)
    return ok({"results": _distribution(ctx, list(ctx.db.collections.values()))})


async def collection_shard_distribution(ctx: Ctx):  # type: ignore[no-untyped-def]
    if ctx.server.role != COORDINATOR:
        raise errors.ArangoError(errors.CLUSTER_ONLY_ON_COORDINATOR, "only allowed on coordinators", 501)
    body = await ctx.json({}) or {}
    name = body.get("collection") if isinstance(body, dict) else None
    coll = ctx.cluster.collection(ctx.db, name or "")
    return ok({"results": _distribution(ctx, [coll])})


async def cluster_endpoints(ctx: Ctx):  # type: ignore[no-untyped-def]
    if ctx.server.role != COORDINATOR:
        raise errors.ArangoError(errors.CLUSTER_ONLY_ON_COORDINATOR, "only allowed on coordinators", 501)
    return ok({"endpoints": [{"endpoint": ctx.cluster.coordinator.endpoint}]})


async def maintenance(ctx: Ctx):  # type: ignore[no-untyped-def]
    return ok({"result": False, "warning": ""})


def _host_info(ctx: Ctx, server_id: str) -> dict:
    server = ctx.cluster.servers[server_id]
    return {"id": server.id, "role": server.role, "maintenance": False, "readOnly": False,
            "version": ctx.cluster.flavour.version, "license": "community", "engine": "rocksdb",
            "os": platform.platform(), "platform": "linux", "numberOfCores": os.cpu_count() or 1}


async def support_info(ctx: Ctx):  # type: ignore[no-untyped-def]
    # ArangoDB's default policy (--server.support-info-api admin): admins of _system only,
    # and only through the _system database
    if perms.database_level(ctx.cluster, ctx.who, "_system") != "rw":
        raise errors.ArangoError(errors.HTTP_FORBIDDEN, "insufficient permissions", 403)
    if ctx.db_name != "_system":
        raise errors.ArangoError(errors.USE_SYSTEM_DATABASE, "operation only allowed in system database", 403)
    body: dict = {"date": now_iso()}
    if ctx.server.role == SINGLE:
        body["deployment"] = {"type": "single"}
        body["host"] = _host_info(ctx, ctx.server.id)
        return json_response(body)
    servers = [s for s in ctx.cluster.servers.values() if s.running]
    shards = sum(len(c.shards) for db in ctx.cluster.databases.values() for c in db.collections.values())
    body["deployment"] = {
        "type": "cluster", "servers": {s.id: _host_info(ctx, s.id) for s in servers},
        "agents": 1, "coordinators": sum(s.role == COORDINATOR for s in servers),
        "dbServers": sum(s.role != COORDINATOR for s in servers), "shards": shards}
    return json_response(body)


def register(router: Router) -> None:
    router.add("GET", "/_api/version", version, ANY)
    router.add("GET", "/_admin/version", version, ANY)
    router.add("GET", "/_api/engine", engine, ANY)
    router.add("GET", "/_admin/server/role", role, ANY)
    router.add("GET", "/_admin/server/id", server_id, ANY)
    router.add("GET", "/_admin/server/availability", availability, ANY, public=True)
    router.add("GET", "/_admin/status", status, ANY)
    router.add("GET", "/_admin/time", time_, ANY)
    router.add("GET", "/_admin/support-info", support_info, ANY)
    router.add("GET", "/_admin/cluster/health", health, ANY)
    router.add("GET", "/_admin/cluster/shardDistribution", shard_distribution, ANY)
    router.add("PUT", "/_admin/cluster/collectionShardDistribution", collection_shard_distribution, ANY)
    router.add("GET", "/_admin/cluster/maintenance", maintenance, ANY)
    router.add("GET", "/_api/cluster/endpoints", cluster_endpoints, ANY)
