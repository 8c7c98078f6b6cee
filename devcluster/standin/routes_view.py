"""arangosearch and search-alias views (`/_api/view`); logged as 2110/2111/2112 on single servers
(in a cluster, views live in the coordinator's plan, not in DBServer WALs)."""
from __future__ import annotations

import orjson

from . import errors, perms, wal as walmod
from .http import COORD, Ctx, Router, json_response, ok

# ArangoDB 3.12's defaults, shared by arangosearch views and inverted indexes
SEARCH_DEFAULTS = {
    "cleanupIntervalStep": 2, "commitIntervalMsec": 1000, "consolidationIntervalMsec": 5000,
    "consolidationPolicy": {"type": "tier", "segmentsBytesMax": 8589934592, "maxSkewThreshold": 0.4,
                            "minDeletionRatio": 0.5},
    "optimizeTopK": [], "writebufferIdle": 64, "writebufferActive": 0, "writebufferSizeMax": 33554432,
}
_ARANGOSEARCH_DEFAULTS = {
    "links": {}, "primarySort": [], "primarySortCompression": "lz4", "storedValues": [], **SEARCH_DEFAULTS,
}
_IMMUTABLE = ("primarySort", "primarySortCompression", "storedValues", "optimizeTopK", "writebufferIdle",
              "writebufferActive", "writebufferSizeMax")


def _view(ctx: Ctx) -> dict:
    view = ctx.db.views.get(ctx.params["v"])
    if view is None:
        view = next((v for v in ctx.db.views.values() if v["id"] == ctx.params["v"]), None)
    if view is None:
        raise errors.ArangoError(errors.DATA_SOURCE_NOT_FOUND, "collection or view not found", 404)
    return view


def _summary(view: dict) -> dict:
    return {k: view[k] for k in ("name", "type", "id", "globallyUniqueId")}


def _log(ctx: Ctx, type_: int, view: dict, data: dict | None) -> None:
    if ctx.cluster.is_cluster:
        return
    server = ctx.cluster.dbservers[0]
    assert server.wal is not None
    server.wal.write_batch([walmod.Op(type_, ctx.db_name, view["globallyUniqueId"], view["name"],
                                      orjson.dumps(data) if data is not None else None)])


def _apply(view: dict, body: dict, replace: bool) -> None:
    if view["type"] == "search-alias":
        if "indexes" in body:
            view["indexes"] = list(body["indexes"]) if replace else view["indexes"] + list(body["indexes"])
        return
    if replace:  # PUT: a property left out goes back to its default
        view.update({k: v for k, v in orjson.loads(orjson.dumps(_ARANGOSEARCH_DEFAULTS)).items()
                     if k not in _IMMUTABLE})
    for key, value in body.items():
        if key in ("name", "type", "id", "globallyUniqueId") or key in _IMMUTABLE:
            continue
        if key == "links" and not replace:
            links = dict(view["links"])
            for coll, link in value.items():
                if link is None:
                    links.pop(coll, None)
                else:
                    links[coll] = link
            view["links"] = links
        else:
            view[key] = value


async def list_views(ctx: Ctx):  # type: ignore[no-untyped-def]
    perms.require_database(ctx.cluster, ctx.who, ctx.db_name, "ro")
    return ok({"result": [_summary(v) for v in ctx.db.views.values()]})


async def create(ctx: Ctx):  # type: ignore[no-untyped-def]
    perms.require_database(ctx.cluster, ctx.who, ctx.db_name, "rw")
    body = await ctx.json({})
    if not isinstance(body, dict) or not isinstance(body.get("name"), str) or not body["name"]:
        raise errors.ArangoError(errors.BAD_PARAMETER, "invalid view name", 400)
    kind = body.get("type")
    if kind not in ("arangosearch", "search-alias"):
        raise errors.ArangoError(errors.BAD_PARAMETER, "invalid view type", 400)
    db = ctx.db
    if body["name"] in db.views or body["name"] in db.collections:
        raise errors.ArangoError(errors.DUPLICATE_NAME, "duplicate name", 409)
    vid = str(ctx.cluster.ids.next())
    view: dict = {"name": body["name"], "type": kind, "id": vid,
                  "globallyUniqueId": f"h{int(ctx.server.numeric_id):X}/{vid}"}
    if kind == "arangosearch":
        view.update(orjson.loads(orjson.dumps(_ARANGOSEARCH_DEFAULTS)))
        for key in _IMMUTABLE:
            if key in body:
                view[key] = body[key]
    else:
        view["indexes"] = []
    _apply(view, body, True)
    db.views[view["name"]] = view
    ctx.cluster.structure_version += 1
    _log(ctx, walmod.VIEW_CREATE, view, view)
    return json_response(view, 201)  # view definitions come without error / code


async def get(ctx: Ctx):  # type: ignore[no-untyped-def]
    return ok(_summary(_view(ctx)))


async def properties(ctx: Ctx):  # type: ignore[no-untyped-def]
    return ok(_view(ctx))


async def change(ctx: Ctx, replace: bool):  # type: ignore[no-untyped-def]
    perms.require_database(ctx.cluster, ctx.who, ctx.db_name, "rw")
    view = _view(ctx)
    body = await ctx.json({})
    if not isinstance(body, dict):
        raise errors.ArangoError(errors.BAD_PARAMETER, "invalid body", 400)
    _apply(view, body, replace)
    ctx.cluster.structure_version += 1
    _log(ctx, walmod.VIEW_CHANGE, view, view)
    return json_response(view)


async def replace(ctx: Ctx):  # type: ignore[no-untyped-def]
    return await change(ctx, True)


async def update(ctx: Ctx):  # type: ignore[no-untyped-def]
    return await change(ctx, False)


async def rename(ctx: Ctx):  # type: ignore[no-untyped-def]
    perms.require_database(ctx.cluster, ctx.who, ctx.db_name, "rw")
    if ctx.cluster.is_cluster:
        raise errors.ArangoError(errors.CLUSTER_UNSUPPORTED, "rename is not supported in a cluster", 501)
    view = _view(ctx)
    body = await ctx.json({})
    new = body.get("name") if isinstance(body, dict) else None
    db = ctx.db
    if not isinstance(new, str) or not new:
        raise errors.ArangoError(errors.ILLEGAL_NAME, "illegal name", 400)
    if new in db.views or new in db.collections:
        raise errors.ArangoError(errors.DUPLICATE_NAME, "duplicate name", 409)
    del db.views[view["name"]]
    view["name"] = new
    db.views[new] = view
    _log(ctx, walmod.VIEW_CHANGE, view, view)
    return ok(view)


async def drop(ctx: Ctx):  # type: ignore[no-untyped-def]
    perms.require_database(ctx.cluster, ctx.who, ctx.db_name, "rw")
    view = _view(ctx)
    del ctx.db.views[view["name"]]
    ctx.cluster.structure_version += 1
    _log(ctx, walmod.VIEW_DROP, view, None)
    return ok({"result": True})


def register(router: Router) -> None:
    router.add("GET", "/_api/view", list_views, COORD)
    router.add("POST", "/_api/view", create, COORD)
    router.add("GET", "/_api/view/{v}", get, COORD)
    router.add("GET", "/_api/view/{v}/properties", properties, COORD)
    router.add("PUT", "/_api/view/{v}/properties", replace, COORD)
    router.add("PATCH", "/_api/view/{v}/properties", update, COORD)
    router.add("PUT", "/_api/view/{v}/rename", rename, COORD)
    router.add("DELETE", "/_api/view/{v}", drop, COORD)
