"""Stand-in administration (no ArangoDB equivalent): leader moves, DBServer stop/start, WAL retention,
a coordinator view that lags the DBServers, shard dumps that keep failing.

All under `/_admin/standin/`, superuser only, answered by any server of the stand-in.
"""
from __future__ import annotations

import asyncio

from . import errors, ttl
from .http import ANY, Ctx, Router, ok
from .model import Server


_background: set[asyncio.Task] = set()
# Shards whose dumps answer 503; one stand-in per process, and every server of it shares the switch.
_failing_dumps: set[str] = set()


def _require_superuser(ctx: Ctx) -> None:
    if not (ctx.who.superuser or ctx.who.user == "root"):
        raise errors.ArangoError(errors.FORBIDDEN, "stand-in administration needs the superuser", 403)


def _server_state(ctx: Ctx, s: Server) -> dict:
    standin = ctx.request.app["standin"]
    out = {"id": s.id, "name": s.short_name, "role": s.role, "running": s.running,
           "endpoint": s.endpoint, "url": standin.url(s) if s.id in standin.ports else None}
    if s.wal is not None:
        out["wal"] = {"tickMin": str(s.wal.tick_min), "lastTick": str(s.wal.last_tick),
                      "entries": len(s.wal.entries), "retainEntries": s.wal.retain_entries,
                      "retainSeconds": s.wal.retain_seconds}
    return out


async def state(ctx: Ctx):  # type: ignore[no-untyped-def]
    _require_superuser(ctx)
    return ok({"mode": ctx.cluster.mode,
               "servers": [_server_state(ctx, s) for s in ctx.cluster.servers.values()]})


def _find_shard(ctx: Ctx, db_name: str, shard_name: str):  # type: ignore[no-untyped-def]
    db = ctx.cluster.database(db_name)
    for coll in db.collections.values():
        shard = coll.shard_by_name(shard_name)
        if shard is not None:
            return coll, shard
    raise errors.ArangoError(errors.DATA_SOURCE_NOT_FOUND, f"shard '{shard_name}' not found", 404)


async def move_leader(ctx: Ctx):  # type: ignore[no-untyped-def]
    """Body {"database", "shard", "to"?}: the follower `to` (id or short name; default the first
    running follower) becomes leader; the old leader stays on as a follower."""
    _require_superuser(ctx)
    body = await ctx.json({}) or {}
    coll, shard = _find_shard(ctx, body.get("database") or ctx.db_name, body.get("shard") or "")
    cl = ctx.cluster
    if body.get("to"):
        target = cl.server(body["to"]).id
        if target not in shard.followers:
            raise errors.ArangoError(errors.BAD_PARAMETER, "target server is not a follower of the shard", 400)
    else:
        running = [f for f in shard.followers if cl.servers[f].running]
        if not running:
            raise errors.ArangoError(errors.BAD_PARAMETER, "shard has no running follower", 400)
        target = running[0]
    if not cl.servers[target].running:
        raise errors.ArangoError(errors.CLUSTER_BACKEND_UNAVAILABLE, "target server is not running", 503)
    _make_leader(cl, coll, shard, target)
    return ok({"database": coll.db.name, "collection": coll.name, "shard": shard.name,
               "leader": cl.servers[shard.leader].short_name,
               "followers": [cl.servers[f].short_name for f in shard.followers]})


def _make_leader(cl, coll, shard, target: str) -> None:  # type: ignore[no-untyped-def]
    old = shard.leader
    shard.followers = [f for f in shard.followers if f != target] + [old]
    shard.leader = target
    # collections sharded like this one move along, as distributeShardsLike demands
    for other in coll.db.collections.values():
        if other.props.get("distributeShardsLike") == coll.name:
            peer = other.shards[shard.index]
            if target in peer.followers:
                peer.followers = [f for f in peer.followers if f != target] + [peer.leader]
                peer.leader = target


async def stop_server(ctx: Ctx):  # type: ignore[no-untyped-def]
    """Stop a DBServer's listener; shards it led fail over to their first running follower."""
    _require_superuser(ctx)
    cl = ctx.cluster
    server = cl.server(ctx.params["ref"])
    if server.role != "PRIMARY":
        raise errors.ArangoError(errors.BAD_PARAMETER, "only DBServers can be stopped", 400)
    failovers = []
    for db in cl.databases.values():
        for coll in db.collections.values():
            if coll.props.get("distributeShardsLike"):
                continue
            for shard in coll.shards:
                if shard.leader != server.id:
                    continue
                running = [f for f in shard.followers if cl.servers[f].running]
                if running:
                    _make_leader(cl, coll, shard, running[0])
                    failovers.append({"database": db.name, "shard": shard.name,
                                      "leader": cl.servers[shard.leader].short_name})
    standin = ctx.request.app["standin"]
    if server is ctx.server:
        # stopping the site that serves this very request must outlive the request
        _background.add(asyncio.get_running_loop().create_task(standin.stop_server(server)))
    else:
        await standin.stop_server(server)
    return ok({"server": server.short_name, "running": False, "failovers": failovers})


async def start_server(ctx: Ctx):  # type: ignore[no-untyped-def]
    _require_superuser(ctx)
    server = ctx.cluster.server(ctx.params["ref"])
    if not server.running:
        await ctx.request.app["standin"].start_server(server)
    return ok({"server": server.short_name, "running": True, "endpoint": server.endpoint})


def _wal_servers(ctx: Ctx, body: dict) -> list[Server]:
    if body.get("server"):
        return [ctx.cluster.server(body["server"])]
    return list(ctx.cluster.dbservers)


async def wal_retention(ctx: Ctx):  # type: ignore[no-untyped-def]
    """Body {"entries": N|null, "seconds": S|null, "server"?}: keep at most N WAL entries / S seconds."""
    _require_superuser(ctx)
    body = await ctx.json({}) or {}
    for server in _wal_servers(ctx, body):
        assert server.wal is not None
        server.wal.set_retention(body.get("entries"), body.get("seconds"))
    return ok({"servers": [_server_state(ctx, s) for s in _wal_servers(ctx, body)]})


async def wal_purge(ctx: Ctx):  # type: ignore[no-untyped-def]
    """Body {"keep": N (default 0), "server"?}: drop all but the newest N WAL entries now."""
    _require_superuser(ctx)
    body = await ctx.json({}) or {}
    for server in _wal_servers(ctx, body):
        assert server.wal is not None
        server.wal.purge(int(body.get("keep") or 0))
    return ok({"servers": [_server_state(ctx, s) for s in _wal_servers(ctx, body)]})


async def leader_report(ctx: Ctx):  # type: ignore[no-untyped-def]
    """Body {"database", "shard", "leader": "none"|"resigned"|null}: the coordinator's shard
    distribution names no leader ("" as while a failover is in progress), the resigned leader
    ("_<server>", a name it lists nowhere else), or (null) the true leader again. Writes are
    unaffected: the true leader keeps taking them."""
    _require_superuser(ctx)
    body = await ctx.json({}) or {}
    coll, shard = _find_shard(ctx, body.get("database") or ctx.db_name, body.get("shard") or "")
    reports = {"none": "", "resigned": "_" + ctx.cluster.servers[shard.leader].short_name}
    key = (coll.db.name, shard.name)
    if body.get("leader") is None:
        ctx.cluster.coordinator_view.leaders.pop(key, None)
    elif body["leader"] in reports:
        ctx.cluster.coordinator_view.leaders[key] = reports[body["leader"]]
    else:
        raise errors.ArangoError(errors.BAD_PARAMETER, "leader must be none, resigned or null", 400)
    return ok({"database": coll.db.name, "shard": shard.name,
               "reported": ctx.cluster.coordinator_view.leaders.get(key)})


async def coordinator_hide(ctx: Ctx):  # type: ignore[no-untyped-def]
    """Body {"database", "collection", "hidden": bool}: the coordinator's cluster inventory and
    shard distribution leave the collection out (a coordinator lagging its DBServers); it can
    still be written to. The name may be hidden before the collection is created."""
    _require_superuser(ctx)
    body = await ctx.json({}) or {}
    db = ctx.cluster.database(body.get("database") or ctx.db_name)
    key = (db.name, str(body.get("collection") or ""))
    if body.get("hidden", True):
        ctx.cluster.coordinator_view.hidden.add(key)
    else:
        ctx.cluster.coordinator_view.hidden.discard(key)
    return ok({"database": key[0], "collection": key[1], "hidden": key in ctx.cluster.coordinator_view.hidden})


async def ttl_sweep(ctx: Ctx):  # type: ignore[no-untyped-def]
    """Run the TTL index sweep now instead of waiting for the next period."""
    _require_superuser(ctx)
    return ok({"removed": ttl.sweep(ctx.cluster)})


async def dump_fail(ctx: Ctx):  # type: ignore[no-untyped-def]
    """Body {"shard", "failing": bool}: every `/_api/replication/dump` of that shard answers 503
    (a DBServer too busy to serve it) until switched off. Not kept across a restart."""
    _require_superuser(ctx)
    body = await ctx.json({}) or {}
    shard = str(body.get("shard") or "")
    if body.get("failing", True):
        _failing_dumps.add(shard)
    else:
        _failing_dumps.discard(shard)
    return ok({"shard": shard, "failing": shard in _failing_dumps})


def _failing_when_switched(handler):  # type: ignore[no-untyped-def]
    async def dump(ctx: Ctx):  # type: ignore[no-untyped-def]
        if ctx.query.get("collection") in _failing_dumps:
            raise errors.ArangoError(errors.HTTP_SERVICE_UNAVAILABLE, "dump unavailable (stand-in switch)", 503)
        return await handler(ctx)
    return dump


def register(router: Router) -> None:
    # The dump route is registered before this module's; the switch wraps it where it stands.
    for route in router.routes:
        if route.segments == ("_api", "replication", "dump"):
            route.handler = _failing_when_switched(route.handler)
    router.add("PUT", "/_admin/standin/dump-fail", dump_fail, ANY)
    router.add("GET", "/_admin/standin/state", state, ANY)
    router.add("PUT", "/_admin/standin/move-leader", move_leader, ANY)
    router.add("PUT", "/_admin/standin/dbserver/{ref}/stop", stop_server, ANY)
    router.add("PUT", "/_admin/standin/dbserver/{ref}/start", start_server, ANY)
    router.add("PUT", "/_admin/standin/wal-retention", wal_retention, ANY)
    router.add("PUT", "/_admin/standin/wal-purge", wal_purge, ANY)
    router.add("PUT", "/_admin/standin/ttl-sweep", ttl_sweep, ANY)
    router.add("PUT", "/_admin/standin/leader-report", leader_report, ANY)
    router.add("PUT", "/_admin/standin/coordinator-hide", coordinator_hide, ANY)
