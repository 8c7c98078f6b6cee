"""The document API: single and array POST/PUT/PATCH/DELETE, GET/HEAD, get-many."""
from __future__ import annotations

from collections import Counter as Tally

import orjson
from aiohttp import web

from . import documents, errors, perms, transactions
from .documents import WriteOptions
from .http import COORD, Ctx, Router, json_response
from .model import Collection
from .writes import Writes


def _collection(ctx: Ctx, level: str) -> Collection:
    name = ctx.params.get("c") or ctx.query.get("collection", "")
    if not name:
        raise errors.ArangoError(errors.COLLECTION_PARAMETER_MISSING, "collection parameter missing", 400)
    coll = ctx.cluster.collection(ctx.db, name)
    perms.require_collection(ctx.cluster, ctx.who, ctx.db_name, coll.name, level)
    return coll


def _options(ctx: Ctx, *, insert: bool = False) -> WriteOptions:
    mode = ctx.query.get("overwriteMode")
    if insert and mode is None and ctx.flag("overwrite"):
        mode = "replace"
    if mode is not None and mode not in ("conflict", "replace", "update", "ignore"):
        raise errors.ArangoError(errors.BAD_PARAMETER, "invalid overwriteMode", 400)
    if_match = ctx.request.headers.get("If-Match")
    return WriteOptions(
        overwrite_mode=mode or "conflict",
        keep_null=ctx.flag("keepNull", True),
        merge_objects=ctx.flag("mergeObjects", True),
        ignore_revs=ctx.flag("ignoreRevs", True),
        is_restore=ctx.flag("isRestore"),
        return_new=ctx.flag("returnNew"),
        return_old=ctx.flag("returnOld"),
        if_match=if_match.strip('"') if if_match else None,
        version_attribute=ctx.query.get("versionAttribute") or None,
    )


def writes_for(ctx: Ctx) -> tuple[Writes, bool]:
    """The request's own Writes, or those of the stream transaction named by x-arango-trx-id."""
    trx_id = ctx.request.headers.get("x-arango-trx-id")
    if trx_id:
        return transactions.lookup(ctx.cluster, ctx.db_name, trx_id).writes, True
    return Writes(ctx.cluster), False


def _status(ctx: Ctx, coll: Collection, results: list, success: int) -> int:
    # 201/200 tell that the write waited for the sync to disk: asked by the request or by the
    # collection's waitForSync property, and only when something was written
    synced = ctx.flag("waitForSync") or coll.props["waitForSync"]
    written = any(not isinstance(r, errors.ArangoError) for r in results)
    return success if synced and written else 202


def _array_response(results: list, status: int, silent: bool) -> web.Response:
    errs = Tally(r.error_num for r in results if isinstance(r, errors.ArangoError))
    # a JSON object of counts by error number, e.g. {"1200":2}
    headers = {"X-Arango-Error-Codes": orjson.dumps({str(n): c for n, c in errs.items()}).decode()} if errs else None
    if silent:
        body = [r.item() for r in results if isinstance(r, errors.ArangoError)]
    else:
        body = [r.item() if isinstance(r, errors.ArangoError) else r for r in results]
    return json_response(body, status, headers)


def _single_response(result: object, status: int, silent: bool) -> web.Response:
    if isinstance(result, errors.ArangoError):
        body = result.body()
        current = getattr(result, "current", None)
        if current:
            body.update(current)
        return json_response(body, result.http_code)
    assert isinstance(result, dict)
    headers = {"Etag": f'"{result["_rev"]}"'} if "_rev" in result else None
    return json_response({} if silent else result, status, headers)


async def _write(ctx: Ctx, op: str) -> web.Response:
    coll = _collection(ctx, "rw")
    body = await ctx.json(None)
    key = ctx.params.get("k")
    opts = _options(ctx, insert=op == "insert")
    writes, in_trx = writes_for(ctx)
    is_array = isinstance(body, list)
    if key is not None and is_array:
        raise errors.ArangoError(errors.BAD_PARAMETER, "expecting a single document", 400)
    if body is None and op != "remove":
        raise errors.ArangoError(errors.DOCUMENT_TYPE_INVALID, "invalid document type", 400)
    items = body if is_array else [body if body is not None else {}]
    if op == "insert":
        results = documents.insert(ctx.cluster, coll, items, opts, writes)
        status = _status(ctx, coll, results, 201)
    elif op == "replace":
        results = documents.replace(ctx.cluster, coll, items, opts, writes, key)
        status = _status(ctx, coll, results, 201)
    elif op == "update":
        results = documents.update(ctx.cluster, coll, items, opts, writes, key)
        status = _status(ctx, coll, results, 201)
    else:
        if key is not None:
            items = [body if isinstance(body, dict) else {"_key": key}]
        results = documents.remove(ctx.cluster, coll, items, opts, writes, key)
        status = _status(ctx, coll, results, 200)
    if not in_trx:
        writes.commit()
    silent = ctx.flag("silent")
    if is_array:
        return _array_response(results, status, silent)
    return _single_response(results[0], status, silent)


async def insert(ctx: Ctx):  # type: ignore[no-untyped-def]
    return await _write(ctx, "insert")


async def replace(ctx: Ctx):  # type: ignore[no-untyped-def]
    if ctx.params.get("k") is None and ctx.flag("onlyget"):
        return await get_many(ctx)
    return await _write(ctx, "replace")


async def update(ctx: Ctx):  # type: ignore[no-untyped-def]
    return await _write(ctx, "update")


async def remove(ctx: Ctx):  # type: ignore[no-untyped-def]
    return await _write(ctx, "remove")


async def get_one(ctx: Ctx):  # type: ignore[no-untyped-def]
    coll = _collection(ctx, "ro")
    writes, _ = writes_for(ctx)
    key = ctx.params["k"]
    if not documents.valid_key(key):
        raise errors.ArangoError(errors.DOCUMENT_HANDLE_BAD, "invalid document handle", 400)
    _, doc = documents.locate(ctx.cluster, coll, key, writes)
    if doc is None:
        raise errors.ArangoError(errors.DOCUMENT_NOT_FOUND, "document not found")
    etag = f'"{doc["_rev"]}"'
    if_none = ctx.request.headers.get("If-None-Match")
    if if_none is not None and if_none.strip('"') == doc["_rev"]:
        return web.Response(status=304, headers={"Etag": etag}, content_type="text/plain")
    if_match = ctx.request.headers.get("If-Match")
    if if_match is not None and if_match.strip('"') != doc["_rev"]:
        err = errors.ArangoError(errors.CONFLICT, "conflict, _rev values do not match", 412)
        return json_response({**err.body(), "_id": doc["_id"], "_key": doc["_key"], "_rev": doc["_rev"]},
                             412, {"Etag": etag})
    if ctx.request.method == "HEAD":
        return web.Response(status=200, headers={"Etag": etag}, content_type="application/json")
    return json_response(doc, 200, {"Etag": etag})


async def get_many(ctx: Ctx):  # type: ignore[no-untyped-def]
    coll = _collection(ctx, "ro")
    body = await ctx.json([])
    if not isinstance(body, list):
        raise errors.ArangoError(errors.BAD_PARAMETER, "expecting an array", 400)
    writes, _ = writes_for(ctx)
    ignore_revs = ctx.flag("ignoreRevs", True)
    out: list = []
    for item in body:
        try:
            key = documents.key_of(item, coll, None)
            _, doc = documents.locate(ctx.cluster, coll, key, writes)
            if doc is None:
                raise errors.ArangoError(errors.DOCUMENT_NOT_FOUND, "document not found")
            if not ignore_revs and isinstance(item, dict) and item.get("_rev") not in (None, doc["_rev"]):
                raise errors.ArangoError(errors.CONFLICT, "conflict, _rev values do not match", 412)
            out.append(doc)
        except errors.ArangoError as err:
            out.append(err)
    return _array_response(out, 200, False)


def register(router: Router) -> None:
    router.add("POST", "/_api/document/{c}", insert, COORD)
    router.add("POST", "/_api/document", insert, COORD)
    router.add("PUT", "/_api/document/{c}", replace, COORD)
    router.add("PATCH", "/_api/document/{c}", update, COORD)
    router.add("DELETE", "/_api/document/{c}", remove, COORD)
    router.add("GET", "/_api/document/{c}/{k}", get_one, COORD)
    router.add("PUT", "/_api/document/{c}/{k}", replace, COORD)
    router.add("PATCH", "/_api/document/{c}/{k}", update, COORD)
    router.add("DELETE", "/_api/document/{c}/{k}", remove, COORD)
