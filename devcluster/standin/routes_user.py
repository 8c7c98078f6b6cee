"""Users and their database / collection permissions (`/_api/user`)."""
from __future__ import annotations

import re


from . import errors, perms
from .http import COORD, Ctx, Router, json_response, ok
from .model import User

_NAME = re.compile(r"^[^\x00-\x1f/:]{1,254}$")
_GRANTS = ("rw", "ro", "none")


def _user(ctx: Ctx) -> User:
    user = ctx.cluster.users.get(ctx.params["u"])
    if user is None:
        raise errors.ArangoError(errors.USER_NOT_FOUND, "user not found", 404)
    return user


def _self_or_admin(ctx: Ctx) -> None:
    if ctx.who.user != ctx.params.get("u"):
        perms.require_admin(ctx.cluster, ctx.who)


def _public(user: User) -> dict:
    return {"user": user.name, "active": user.active, "extra": user.extra}


async def create(ctx: Ctx):  # type: ignore[no-untyped-def]
    perms.require_admin(ctx.cluster, ctx.who)
    body = await ctx.json({})
    if not isinstance(body, dict):
        raise errors.ArangoError(errors.HTTP_BAD_PARAMETER, "invalid body", 400)
    name = body.get("user")
    if not isinstance(name, str) or not _NAME.match(name):
        raise errors.ArangoError(errors.USER_INVALID_NAME, "invalid user name", 400)
    if name in ctx.cluster.users:
        raise errors.ArangoError(errors.USER_DUPLICATE, "duplicate user", 409)
    user = User(name, body.get("passwd") or "", body.get("active") is not False, body.get("extra") or {})
    ctx.cluster.users[name] = user
    return ok(_public(user), 201)


async def list_users(ctx: Ctx):  # type: ignore[no-untyped-def]
    perms.require_admin(ctx.cluster, ctx.who)
    return ok({"result": [_public(u) for u in ctx.cluster.users.values()]})


async def get(ctx: Ctx):  # type: ignore[no-untyped-def]
    _self_or_admin(ctx)
    return ok(_public(_user(ctx)))


async def _modify(ctx: Ctx, replace: bool):  # type: ignore[no-untyped-def]
    _self_or_admin(ctx)
    user = _user(ctx)
    body = await ctx.json({})
    if not isinstance(body, dict):
        raise errors.ArangoError(errors.HTTP_BAD_PARAMETER, "invalid body", 400)
    if "passwd" in body or replace:
        user.password = body.get("passwd") or ""
    if "active" in body or replace:
        user.active = body.get("active") is not False
    if "extra" in body:
        user.extra = body["extra"] if replace else {**user.extra, **(body["extra"] or {})}
    elif replace:
        user.extra = {}
    if user.name == "root":
        ctx.cluster.root_password = user.password
    return ok(_public(user))


async def replace(ctx: Ctx):  # type: ignore[no-untyped-def]
    return await _modify(ctx, True)


async def update(ctx: Ctx):  # type: ignore[no-untyped-def]
    return await _modify(ctx, False)


async def delete(ctx: Ctx):  # type: ignore[no-untyped-def]
    perms.require_admin(ctx.cluster, ctx.who)
    user = _user(ctx)
    if user.name == "root":
        raise errors.ArangoError(errors.FORBIDDEN, "cannot remove root", 403)
    del ctx.cluster.users[user.name]
    return ok({}, 202)


async def databases(ctx: Ctx):  # type: ignore[no-untyped-def]
    _self_or_admin(ctx)
    user = _user(ctx)
    who = perms.Principal(user.name, False)
    full = ctx.flag("full")
    result: dict = {}
    for name in ctx.cluster.databases:
        level = perms.database_level(ctx.cluster, who, name)
        if not full:
            if level != "none":
                result[name] = level
            continue
        # collection levels as configured, not resolved: "undefined" where none is set
        configured = user.grants.get(name, {}).get("collections", {})
        colls = {c: configured.get(c, "undefined") for c in [*ctx.cluster.databases[name].collections, "*"]}
        result[name] = {"permission": level, "collections": colls}
    if full:
        result["*"] = {"permission": user.grants.get("*", {}).get("permission", "none")}
    return ok({"result": result})


async def database_grant(ctx: Ctx):  # type: ignore[no-untyped-def]
    _self_or_admin(ctx)
    user = _user(ctx)
    who = perms.Principal(user.name, False)
    db = ctx.params["db"]
    coll = ctx.params.get("c")
    if coll is None:
        return ok({"result": perms.database_level(ctx.cluster, who, db)})
    return ok({"result": perms.collection_level(ctx.cluster, who, db, coll)})


async def set_grant(ctx: Ctx):  # type: ignore[no-untyped-def]
    perms.require_admin(ctx.cluster, ctx.who)
    user = _user(ctx)
    body = await ctx.json({})
    grant = body.get("grant") if isinstance(body, dict) else None
    if grant not in _GRANTS:
        raise errors.ArangoError(errors.BAD_PARAMETER, "invalid grant", 400)
    db, coll = ctx.params["db"], ctx.params.get("c")
    if db != "*" and db not in ctx.cluster.databases:
        raise errors.ArangoError(errors.DATABASE_NOT_FOUND, "database not found", 404)
    entry = user.grants.setdefault(db, {"collections": {}})
    if coll is None:
        entry["permission"] = grant
        return ok({db: grant})
    if coll != "*" and db != "*":
        ctx.cluster.collection(ctx.cluster.databases[db], coll)
    entry.setdefault("collections", {})[coll] = grant
    return ok({f"{db}/{coll}": grant})


async def clear_grant(ctx: Ctx):  # type: ignore[no-untyped-def]
    perms.require_admin(ctx.cluster, ctx.who)
    user = _user(ctx)
    db, coll = ctx.params["db"], ctx.params.get("c")
    entry = user.grants.get(db)
    if entry is not None:
        if coll is None:
            entry.pop("permission", None)
        else:
            entry.get("collections", {}).pop(coll, None)
    return json_response({"error": False, "code": 202}, 202)


async def config(ctx: Ctx):  # type: ignore[no-untyped-def]
    _self_or_admin(ctx)
    _user(ctx)
    return ok({"result": {}})


def register(router: Router) -> None:
    router.add("POST", "/_api/user", create, COORD)
    router.add("GET", "/_api/user", list_users, COORD)
    router.add("GET", "/_api/user/{u}", get, COORD)
    router.add("PUT", "/_api/user/{u}", replace, COORD)
    router.add("PATCH", "/_api/user/{u}", update, COORD)
    router.add("DELETE", "/_api/user/{u}", delete, COORD)
    router.add("GET", "/_api/user/{u}/config", config, COORD)
    router.add("GET", "/_api/user/{u}/database", databases, COORD)
    router.add("GET", "/_api/user/{u}/database/{db}", database_grant, COORD)
    router.add("GET", "/_api/user/{u}/database/{db}/{c}", database_grant, COORD)
    router.add("PUT", "/_api/user/{u}/database/{db}", set_grant, COORD)
    router.add("PUT", "/_api/user/{u}/database/{db}/{c}", set_grant, COORD)
    router.add("DELETE", "/_api/user/{u}/database/{db}", clear_grant, COORD)
    router.add("DELETE", "/_api/user/{u}/database/{db}/{c}", clear_grant, COORD)
