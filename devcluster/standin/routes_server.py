"""Server administration read-outs clients expect: license, options, metrics, statistics, mode,
echo, log. The stand-in has little to report, so most answers are minimal but well-formed."""
from __future__ import annotations

import hashlib
import time

from aiohttp import web

from . import errors, perms
from .http import ANY, Ctx, Router, json_response, ok

_STARTED = time.time()


async def target_version(ctx: Ctx):  # type: ignore[no-untyped-def]
    return ok({"version": "31200"})


async def license_(ctx: Ctx):  # type: ignore[no-untyped-def]
    if ctx.request.method == "PUT":
        raise errors.ArangoError(errors.NOT_IMPLEMENTED, "licenses cannot be set on the stand-in", 501)
    return json_response({"license": "none"})  # what a Community build answers


async def options(ctx: Ctx):  # type: ignore[no-untyped-def]
    perms.require_admin(ctx.cluster, ctx.who)
    return json_response({"server.authentication": True, "server.endpoint": [ctx.server.endpoint],
                          "database.extended-names": True, "rocksdb.wait-for-sync": False})


async def options_description(ctx: Ctx):  # type: ignore[no-untyped-def]
    perms.require_admin(ctx.cluster, ctx.who)
    return json_response({"server.authentication": {"type": "boolean", "description": "use authentication"}})


async def metrics(ctx: Ctx):  # type: ignore[no-untyped-def]
    lines = [f"arangodb_server_uptime_seconds {time.time() - _STARTED:.3f}"]
    if ctx.server.wal is not None:
        lines.append(f"rocksdb_wal_sequence {ctx.server.wal.last_tick}")
    return web.Response(text="\n".join(lines) + "\n", content_type="text/plain")


async def statistics(ctx: Ctx):  # type: ignore[no-untyped-def]
    now = time.time()
    return ok({"time": now, "enabled": True,
               "system": {"minorPageFaults": 0, "majorPageFaults": 0, "userTime": 0, "systemTime": 0,
                          "numberOfThreads": 1, "residentSize": 0, "virtualSize": 0},
               "client": {}, "http": {}, "server": {"uptime": now - _STARTED, "physicalMemory": 0}})


async def statistics_description(ctx: Ctx):  # type: ignore[no-untyped-def]
    return ok({"groups": [{"group": "system", "name": "Process Statistics", "description": ""}],
               "figures": []})


async def mode(ctx: Ctx):  # type: ignore[no-untyped-def]
    if ctx.request.method == "PUT":
        perms.require_admin(ctx.cluster, ctx.who)
        body = await ctx.json({})
        if not isinstance(body, dict) or body.get("mode") not in ("default", "readonly"):
            raise errors.ArangoError(errors.HTTP_BAD_PARAMETER, "mode invalid", 400)
        if body["mode"] != "default":
            raise errors.ArangoError(errors.NOT_IMPLEMENTED, "read-only mode is not supported by the stand-in", 501)
    return json_response({"mode": "default"})


async def echo(ctx: Ctx):  # type: ignore[no-untyped-def]
    raw = await ctx.raw()
    req = ctx.request
    return json_response({"authorized": True, "user": ctx.who.user or "", "isAdminUser": ctx.who.is_admin_user,
                          "database": ctx.db_name, "url": str(req.rel_url), "protocol": req.scheme,
                          "portType": "tcp", "server": {"address": "127.0.0.1", "port": 0},
                          "client": {"address": "127.0.0.1", "port": 0, "id": ""}, "internals": {},
                          "prefix": "/", "headers": {str(k): v for k, v in req.headers.items()}, "requestType": req.method,
                          "requestBody": raw.decode(errors="replace"), "rawRequestBody": list(raw),
                          "parameters": dict(req.query), "cookies": {}, "suffix": []})


async def log_entries(ctx: Ctx):  # type: ignore[no-untyped-def]
    perms.require_admin(ctx.cluster, ctx.who)
    return json_response({"total": 0, "messages": []})


async def log_legacy(ctx: Ctx):  # type: ignore[no-untyped-def]
    perms.require_admin(ctx.cluster, ctx.who)
    return json_response({"lid": [], "level": [], "timestamp": [], "text": [], "topic": [], "totalAmount": 0})


_LOG_TOPICS = ("agency", "engines", "general", "replication", "requests", "threads", "queries")


async def log_level(ctx: Ctx):  # type: ignore[no-untyped-def]
    """Log levels are only remembered (the stand-in logs through Python's logging)."""
    perms.require_admin(ctx.cluster, ctx.who)
    levels = ctx.request.app["standin"].log_levels
    if not levels or ctx.request.method == "DELETE":
        levels.clear()
        levels.update({topic: "INFO" for topic in _LOG_TOPICS})
    if ctx.request.method == "PUT":
        body = await ctx.json({})
        if not isinstance(body, dict):
            raise errors.ArangoError(errors.BAD_PARAMETER, "expecting an object", 400)
        levels.update({k: str(v).upper() for k, v in body.items()})
    return json_response(dict(levels))


async def tls(ctx: Ctx):  # type: ignore[no-untyped-def]
    perms.require_admin(ctx.cluster, ctx.who)
    return ok({"result": {"keyfile": {}, "clientCA": {}, "SNI": {}}})


async def jwt_secrets(ctx: Ctx):  # type: ignore[no-untyped-def]
    if not ctx.who.superuser:
        raise errors.ArangoError(errors.FORBIDDEN, "only superusers may see JWT secrets", 403)
    digest = hashlib.sha256(ctx.cluster.jwt_secret.encode()).hexdigest()
    return ok({"result": {"active": {"sha256": digest}, "passive": []}})


async def encryption(ctx: Ctx):  # type: ignore[no-untyped-def]
    if not ctx.who.superuser:
        raise errors.ArangoError(errors.FORBIDDEN, "only superusers may see encryption keys", 403)
    return ok({"result": {"encryption-keys": []}})


async def log_structured(ctx: Ctx):  # type: ignore[no-untyped-def]
    perms.require_admin(ctx.cluster, ctx.who)
    settings = ctx.request.app["standin"].log_structured
    if ctx.request.method == "PUT":
        body = await ctx.json({})
        if not isinstance(body, dict):
            raise errors.ArangoError(errors.BAD_PARAMETER, "expecting an object", 400)
        settings.update({k: bool(v) for k, v in body.items()})
    return json_response({k: True for k, v in settings.items() if v})  # only enabled settings are listed


async def api_calls(ctx: Ctx):  # type: ignore[no-untyped-def]
    perms.require_admin(ctx.cluster, ctx.who)
    return ok({"result": {"calls": []}})  # the stand-in keeps no call history


async def reload_routing(ctx: Ctx):  # type: ignore[no-untyped-def]
    return ok({})


def register(router: Router) -> None:
    router.add("GET", "/_admin/database/target-version", target_version, ANY)
    router.add("GET|PUT", "/_admin/license", license_, ANY)
    router.add("GET", "/_admin/options", options, ANY)
    router.add("GET", "/_admin/options-description", options_description, ANY)
    router.add("GET", "/_admin/metrics", metrics, ANY)
    router.add("GET", "/_admin/metrics/v2", metrics, ANY)
    router.add("GET", "/_admin/statistics", statistics, ANY)
    router.add("GET", "/_admin/statistics-description", statistics_description, ANY)
    router.add("GET|PUT", "/_admin/server/mode", mode, ANY)
    router.add("GET|POST", "/_admin/echo", echo, ANY)
    router.add("GET", "/_admin/log/entries", log_entries, ANY)
    router.add("GET", "/_admin/log", log_legacy, ANY)
    router.add("GET|PUT|DELETE", "/_admin/log/level", log_level, ANY)
    router.add("GET|PUT", "/_admin/log/structured", log_structured, ANY)
    router.add("POST", "/_admin/routing/reload", reload_routing, ANY)
    router.add("GET|POST", "/_admin/server/tls", tls, ANY)
    router.add("GET", "/_admin/server/api-calls", api_calls, ANY)
    router.add("GET|POST", "/_admin/server/jwt", jwt_secrets, ANY)
    router.add("GET|POST", "/_admin/server/encryption", encryption, ANY)
