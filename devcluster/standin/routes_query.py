"""AQL management around the cursor API: parse/validate, explain, query tracking (running
queries are listed and can be killed; the slow-query list stays empty), the query results
cache (always off and empty in the stand-in), the plan cache (its entries, `plan_cache`), and
user-defined AQL functions, which are stored as documents of `_aqlfunctions` like ArangoDB
does (the stand-in cannot run them)."""
from __future__ import annotations

import re

from . import aql, documents, errors, perms
from .documents import WriteOptions
from .http import COORD, Ctx, Router, json_response, ok
from .plan_cache import PlanCache
from .running_queries import RunningQueries
from .writes import Writes

QUERY_NOT_FOUND = 1591
FUNCTION_INVALID_NAME = 1580
FUNCTION_INVALID_CODE = 1581
FUNCTION_NOT_FOUND = 1582
_FUNCTION_NAME = re.compile(r"^[a-zA-Z0-9_]+(::[a-zA-Z0-9_]+)+$")


async def _parse(ctx: Ctx) -> tuple[dict, aql.Plan]:
    body = await ctx.json({})
    if not isinstance(body, dict) or not isinstance(body.get("query"), str):
        raise errors.ArangoError(errors.QUERY_EMPTY, "query is empty", 400)
    return body, aql.parse(body["query"])


def _collections(plan: aql.Plan) -> list[str]:
    return sorted({ref.name for ref in plan.collections if not ref.param})


async def validate(ctx: Ctx):  # type: ignore[no-untyped-def]
    _, plan = await _parse(ctx)
    return ok({"parsed": True, "collections": _collections(plan),
               "bindVars": [p.lstrip("@") for p in plan.bind_params], "ast": []})


async def explain(ctx: Ctx):  # type: ignore[no-untyped-def]
    body, plan = await _parse(ctx)
    described = {"nodes": [], "rules": [], "variables": [], "estimatedCost": 1, "estimatedNrItems": 0,
                 "isModificationQuery": plan.modifies,
                 "collections": [{"name": n, "type": "write" if plan.modifies else "read"}
                                 for n in _collections(plan)]}
    stats = {"rulesExecuted": 0, "rulesSkipped": 0, "plansCreated": 1, "peakMemoryUsage": 0,
             "executionTime": 0.0}
    if (body.get("options") or {}).get("allPlans"):
        return ok({"plans": [described], "warnings": [], "stats": stats})
    return ok({"plan": described, "cacheable": False, "warnings": [], "stats": stats})


_TRACKING = {"enabled": True, "trackSlowQueries": True, "trackBindVars": True, "maxSlowQueries": 64,
             "slowQueryThreshold": 10, "slowStreamingQueryThreshold": 10, "maxQueryStringLength": 4096}


async def tracking(ctx: Ctx):  # type: ignore[no-untyped-def]
    perms.require_database(ctx.cluster, ctx.who, ctx.db_name, "ro")
    if ctx.request.method == "PUT":
        body = await ctx.json({})
        if isinstance(body, dict):
            _TRACKING.update({k: v for k, v in body.items() if k in _TRACKING})
    return json_response(dict(_TRACKING))


async def no_queries(ctx: Ctx):  # type: ignore[no-untyped-def]
    perms.require_database(ctx.cluster, ctx.who, ctx.db_name, "ro")
    return json_response([])


async def query_history(ctx: Ctx):  # type: ignore[no-untyped-def]
    perms.require_admin(ctx.cluster, ctx.who)
    return ok({"result": {"queries": []}})


async def clear_slow(ctx: Ctx):  # type: ignore[no-untyped-def]
    return ok({})


def _running(ctx: Ctx) -> RunningQueries:
    return ctx.request.app["standin"].queries


async def current_queries(ctx: Ctx):  # type: ignore[no-untyped-def]
    perms.require_database(ctx.cluster, ctx.who, ctx.db_name, "ro")
    if not _TRACKING["enabled"]:
        return json_response([])
    return json_response([q.describe(bool(_TRACKING["trackBindVars"]))
                          for q in _running(ctx).in_database(ctx.db_name)])


async def kill(ctx: Ctx):  # type: ignore[no-untyped-def]
    perms.require_database(ctx.cluster, ctx.who, ctx.db_name, "ro")
    if not _running(ctx).kill(ctx.db_name, ctx.params["id"]):
        raise errors.ArangoError(QUERY_NOT_FOUND, f"query ID {ctx.params['id']} not found", 404)
    return ok({})


_CACHE = {"mode": "off", "maxResults": 128, "maxResultsSize": 268435456, "maxEntrySize": 16777216,
          "includeSystem": False}


async def cache_properties(ctx: Ctx):  # type: ignore[no-untyped-def]
    perms.require_database(ctx.cluster, ctx.who, ctx.db_name, "ro")
    if ctx.request.method == "PUT":
        body = await ctx.json({})
        if isinstance(body, dict):
            _CACHE.update({k: v for k, v in body.items() if k in _CACHE})
    return json_response(dict(_CACHE))


def _plan_cache(ctx: Ctx) -> PlanCache:
    return ctx.request.app["standin"].plan_cache


async def plan_cache_entries(ctx: Ctx):  # type: ignore[no-untyped-def]
    perms.require_database(ctx.cluster, ctx.who, ctx.db_name, "ro")
    # only plans over collections the caller may read (as in ArangoDB)
    return json_response([entry.describe(key) for key, entry in _plan_cache(ctx).entries(ctx.db_name)
                          if all(perms.collection_level(ctx.cluster, ctx.who, ctx.db_name, c) != "none"
                                 for c in entry.data_sources)])


async def plan_cache_clear(ctx: Ctx):  # type: ignore[no-untyped-def]
    perms.require_database(ctx.cluster, ctx.who, ctx.db_name, "rw")
    _plan_cache(ctx).clear(ctx.db_name)
    return ok({})


async def cache_clear(ctx: Ctx):  # type: ignore[no-untyped-def]
    perms.require_database(ctx.cluster, ctx.who, ctx.db_name, "ro")
    return ok({})


def _functions(ctx: Ctx):  # type: ignore[no-untyped-def]
    return ctx.cluster.collection(ctx.db, "_aqlfunctions")


def _function_key(name: str) -> str:
    return name.upper().replace("::", ":")


async def list_functions(ctx: Ctx):  # type: ignore[no-untyped-def]
    namespace = (ctx.query.get("namespace") or "").upper()
    out = []
    for shard in _functions(ctx).shards:
        for doc in shard.docs.values():
            if not namespace or doc["name"].upper().startswith(namespace + "::"):
                out.append({"name": doc["name"], "code": doc["code"], "isDeterministic": doc["isDeterministic"]})
    return ok({"result": sorted(out, key=lambda f: f["name"])})


async def create_function(ctx: Ctx):  # type: ignore[no-untyped-def]
    perms.require_database(ctx.cluster, ctx.who, ctx.db_name, "rw")
    body = await ctx.json({})
    name = body.get("name") if isinstance(body, dict) else None
    if not isinstance(name, str) or not _FUNCTION_NAME.match(name):
        raise errors.ArangoError(FUNCTION_INVALID_NAME, "AQL user function name is invalid", 400)
    code = body.get("code")
    if not isinstance(code, str) or "function" not in code:
        raise errors.ArangoError(FUNCTION_INVALID_CODE, "AQL user function code is invalid", 400)
    coll = _functions(ctx)
    writes = Writes(ctx.cluster)
    key = _function_key(name)
    existed = documents.locate(ctx.cluster, coll, key, writes)[1] is not None
    doc = {"_key": key, "name": name, "code": code, "isDeterministic": bool(body.get("isDeterministic"))}
    (result,) = documents.insert(ctx.cluster, coll, [doc], WriteOptions(overwrite_mode="replace"), writes)
    writes.commit()
    if isinstance(result, errors.ArangoError):
        raise result
    return ok({"isNewlyCreated": not existed}, 200 if existed else 201)


async def delete_function(ctx: Ctx):  # type: ignore[no-untyped-def]
    perms.require_database(ctx.cluster, ctx.who, ctx.db_name, "rw")
    coll = _functions(ctx)
    name = ctx.params["name"]
    group = ctx.flag("group")
    victims = [doc["_key"] for shard in coll.shards for doc in shard.docs.values()
               if doc["name"].upper() == name.upper()
               or (group and doc["name"].upper().startswith(name.upper() + "::"))]
    if not victims:
        raise errors.ArangoError(FUNCTION_NOT_FOUND, f"user function '{name}' not found", 404)
    writes = Writes(ctx.cluster)
    documents.remove(ctx.cluster, coll, victims, WriteOptions(), writes)
    writes.commit()
    return ok({"deletedCount": len(victims)})


def register(router: Router) -> None:
    router.add("POST", "/_api/query", validate, COORD)
    router.add("POST", "/_api/explain", explain, COORD)
    router.add("GET|PUT", "/_api/query/properties", tracking, COORD)
    router.add("GET", "/_api/query/current", current_queries, COORD)
    router.add("GET", "/_api/query/slow", no_queries, COORD)
    router.add("DELETE", "/_api/query/slow", clear_slow, COORD)
    router.add("GET", "/_api/query/rules", no_queries, COORD)
    router.add("DELETE", "/_api/query/{id}", kill, COORD)
    router.add("GET", "/_admin/server/aql-queries", query_history, COORD)
    router.add("GET|PUT", "/_api/query-cache/properties", cache_properties, COORD)
    router.add("GET", "/_api/query-cache/entries", no_queries, COORD)
    router.add("DELETE", "/_api/query-cache", cache_clear, COORD)
    router.add("GET", "/_api/query-plan-cache", plan_cache_entries, COORD)
    router.add("DELETE", "/_api/query-plan-cache", plan_cache_clear, COORD)
    router.add("GET", "/_api/aqlfunction", list_functions, COORD)
    router.add("POST", "/_api/aqlfunction", create_function, COORD)
    router.add("DELETE", "/_api/aqlfunction/{name}", delete_function, COORD)
