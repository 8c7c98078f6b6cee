"""Databases: list, create (with initial users), drop, current."""
from __future__ import annotations

from . import errors, perms
from .http import ANY, Ctx, Router, ok
from .model import User


def _require_system(ctx: Ctx) -> None:
    if ctx.db_name != "_system":
        raise errors.ArangoError(errors.USE_SYSTEM_DATABASE, "operation only allowed in system database", 403)


async def list_databases(ctx: Ctx):  # type: ignore[no-untyped-def]
    _require_system(ctx)
    perms.require_admin(ctx.cluster, ctx.who)
    return ok({"result": sorted(ctx.cluster.databases)})


async def user_databases(ctx: Ctx):  # type: ignore[no-untyped-def]
    names = [n for n in sorted(ctx.cluster.databases)
             if perms.database_level(ctx.cluster, ctx.who, n) != "none"]
    return ok({"result": names})


async def current(ctx: Ctx):  # type: ignore[no-untyped-def]
    db = ctx.db
    result = {"name": db.name, "id": db.id, "path": "none", "isSystem": db.name == "_system"}
    if ctx.cluster.is_cluster:
        result.update(sharding=db.options["sharding"], replicationFactor=db.options["replicationFactor"],
                      writeConcern=db.options["writeConcern"])
    return ok({"result": result})


async def create(ctx: Ctx):  # type: ignore[no-untyped-def]
    _require_system(ctx)
    perms.require_admin(ctx.cluster, ctx.who)
    body = await ctx.json({})
    if not isinstance(body, dict):
        raise errors.ArangoError(errors.HTTP_BAD_PARAMETER, "invalid body", 400)
    name = body.get("name")
    users = body.get("users") or []
    if not isinstance(users, list):
        raise errors.ArangoError(errors.BAD_PARAMETER, "invalid users", 400)
    cl = ctx.cluster
    cl.create_database(name, body.get("options") or {})  # type: ignore[arg-type]
    for spec in users:
        uname = spec.get("username") or spec.get("user")
        if not uname:
            continue
        user = cl.users.get(uname)
        if user is None:
            user = User(uname, spec.get("passwd", spec.get("password", "")) or "",
                        spec.get("active") is not False, spec.get("extra") or {})
            cl.users[uname] = user
        user.grants.setdefault(name, {"collections": {}})["permission"] = "rw"
    if ctx.who.user and ctx.who.user != "root" and ctx.who.user in cl.users:
        cl.users[ctx.who.user].grants.setdefault(name, {"collections": {}})["permission"] = "rw"
    return ok({"result": True}, 201)


async def drop(ctx: Ctx):  # type: ignore[no-untyped-def]
    _require_system(ctx)
    perms.require_admin(ctx.cluster, ctx.who)
    name = ctx.params["name"]
    ctx.cluster.drop_database(name)
    for user in ctx.cluster.users.values():
        user.grants.pop(name, None)
    return ok({"result": True})


def register(router: Router) -> None:
    router.add("GET", "/_api/database", list_databases, ANY)
    router.add("GET", "/_api/database/user", user_databases, ANY)
    router.add("GET", "/_api/database/current", current, ANY)
    router.add("POST", "/_api/database", create, ANY)
    router.add("DELETE", "/_api/database/{name}", drop, ANY)
