"""`/_api/cursor` (AQL through aql.py), batched results, and `/_api/query` parsing."""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from aiohttp import web

from . import aql, errors, perms, transactions
from .aql_context import StandinAqlContext
from .http import COORD, Ctx, Router, ok
from .running_queries import RunningQueries
from .writes import Writes

DEFAULT_BATCH = 1000
DEFAULT_TTL = 30.0


@dataclass
class Cursor:
    id: str
    db: str
    rest: list
    count: int | None
    batch_size: int
    ttl: float
    expires: float
    extra: dict
    allow_retry: bool = False
    batch_id: int = 0          # number of the batch delivered last (the first is 1)
    last_body: dict | None = None  # kept so a client may re-fetch the last batch (allowRetry)


def _cursors(ctx: Ctx) -> dict[str, Cursor]:
    return ctx.request.app["standin"].cursors


def _page(ctx: Ctx, cursor: Cursor, status: int) -> web.Response:
    batch, cursor.rest = cursor.rest[:cursor.batch_size], cursor.rest[cursor.batch_size:]
    cursor.batch_id += 1
    has_more = bool(cursor.rest)
    body: dict = {"result": batch, "hasMore": has_more, "cached": False, "extra": cursor.extra}
    if cursor.count is not None:
        body["count"] = cursor.count
    if has_more:
        body["id"] = cursor.id
        body["nextBatchId"] = str(cursor.batch_id + 1)
        cursor.expires = time.time() + cursor.ttl
        _cursors(ctx)[cursor.id] = cursor
    elif cursor.allow_retry:
        _cursors(ctx)[cursor.id] = cursor  # the last batch stays fetchable until the cursor expires
    else:
        _cursors(ctx).pop(cursor.id, None)
    cursor.last_body = body
    return ok(body, status)


def _extra(plan: aql.Plan, writes_executed: int, seconds: float, options: dict, rows: int) -> dict:
    stats: dict = {"writesExecuted": writes_executed, "writesIgnored": 0, "scannedFull": 0,
                   "scannedIndex": 0, "cursorsCreated": 0, "cursorsRearmed": 0, "cacheHits": 0,
                   "cacheMisses": 0, "filtered": 0, "httpRequests": 0,
                   "executionTime": max(seconds, 1e-6), "peakMemoryUsage": 0, "intermediateCommits": 0}
    if options.get("fullCount"):
        stats["fullCount"] = rows
    extra: dict = {"warnings": [], "stats": stats}
    profile = options.get("profile")
    if profile:
        share = max(seconds, 1e-6) / 8
        extra["profile"] = {phase: share for phase in (
            "initializing", "parsing", "optimizing ast", "loading collections", "instantiating plan",
            "optimizing plan", "instantiating executors", "executing", "finalizing")}
    if profile and int(profile) >= 2:
        stats["nodes"] = []
        extra["plan"] = {"nodes": [], "rules": [], "collections": [], "variables": [],
                         "estimatedCost": 0, "estimatedNrItems": rows, "isModificationQuery": plan.modifies}
    return extra


async def create(ctx: Ctx):  # type: ignore[no-untyped-def]
    perms.require_database(ctx.cluster, ctx.who, ctx.db_name, "ro")
    body = await ctx.json({})
    if not isinstance(body, dict) or not isinstance(body.get("query"), str):
        raise errors.ArangoError(errors.QUERY_EMPTY, "query is empty", 400)
    options = body.get("options") or {}
    bind_vars = body.get("bindVars") or {}
    plan = aql.parse(body["query"])
    trx_id = ctx.request.headers.get("x-arango-trx-id")
    if trx_id:
        writes, own = transactions.lookup(ctx.cluster, ctx.db_name, trx_id).writes, False
    else:
        writes, own = Writes(ctx.cluster, transactional=True), True
    shard_ids = options.get("shardIds")
    context = StandinAqlContext(ctx.cluster, ctx.db, writes, ctx.who,
                                list(shard_ids) if isinstance(shard_ids, list) else None)
    started = time.time()
    queries: RunningQueries = ctx.request.app["standin"].queries
    stream = bool(options.get("stream"))
    running = queries.start(str(ctx.cluster.ids.next()), ctx.db_name, ctx.who.user or "", body["query"], bind_vars,
                            modification=plan.modifies, stream=stream)
    try:
        result = await aql.execute(plan, bind_vars, context)
    except (errors.ArangoError, asyncio.CancelledError) as exc:  # cancelled: a killed query or job
        if own:
            writes.abort()
        if isinstance(exc, asyncio.CancelledError) and running.killed:
            raise errors.ArangoError(errors.QUERY_KILLED, "query killed", 410) from None
        raise
    finally:
        queries.finish(running)
    if own:
        writes.commit()
    if options.get("usePlanCache"):
        sources = [ref.name or bind_vars[ref.param] for ref in plan.collections]
        ctx.request.app["standin"].plan_cache.use(ctx.db_name, body["query"], bind_vars,
                                                  bool(options.get("fullCount")), list(dict.fromkeys(sources)))
    extra = _extra(plan, context.writes_executed, time.time() - started, options, len(result))
    batch_size = int(body.get("batchSize") or DEFAULT_BATCH)
    if batch_size < 1:
        raise errors.ArangoError(errors.BAD_PARAMETER, "batchSize must be positive", 400)
    cursor = Cursor(str(ctx.cluster.ids.next()), ctx.db_name, result,
                    # a streaming cursor does not know its count up front, so it never has one
                    len(result) if body.get("count") and not stream else None, batch_size,
                    float(body.get("ttl") or DEFAULT_TTL), time.time(), extra,
                    allow_retry=bool(options.get("allowRetry")))
    return _page(ctx, cursor, 201)


def _cursor(ctx: Ctx) -> Cursor:
    now = time.time()
    cursors = _cursors(ctx)
    for cid in [c for c, cur in cursors.items() if cur.expires < now]:
        del cursors[cid]
    cursor = cursors.get(ctx.params["id"])
    if cursor is None or cursor.db != ctx.db_name:
        raise errors.ArangoError(errors.CURSOR_NOT_FOUND, "cursor not found", 404)
    return cursor


async def next_batch(ctx: Ctx):  # type: ignore[no-untyped-def]
    cursor = _cursor(ctx)
    wanted = ctx.params.get("batch")
    if wanted is not None and wanted == str(cursor.batch_id) and cursor.last_body is not None:
        return ok(cursor.last_body, 200)  # the client lost our answer and asks again
    return _page(ctx, cursor, 200)


async def delete(ctx: Ctx):  # type: ignore[no-untyped-def]
    cursor = _cursor(ctx)
    _cursors(ctx).pop(cursor.id, None)
    return ok({"id": cursor.id}, 202)


def register(router: Router) -> None:
    router.add("POST", "/_api/cursor", create, COORD)
    router.add("PUT|POST", "/_api/cursor/{id}", next_batch, COORD)
    router.add("POST", "/_api/cursor/{id}/{batch}", next_batch, COORD)
    router.add("DELETE", "/_api/cursor/{id}", delete, COORD)
