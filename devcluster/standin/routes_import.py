"""Bulk import (`/_api/import`): JSON lines, JSON array, or header + value arrays."""
from __future__ import annotations

import orjson

from . import documents, errors, perms
from .documents import WriteOptions
from .http import COORD, Ctx, Router, json_response
from .writes import Writes

_MODES = {"error": "conflict", "update": "update", "replace": "replace", "ignore": "ignore"}


def _rows(raw: bytes, kind: str | None) -> list:
    text = raw.strip()
    if kind == "auto":
        kind = "list" if text.startswith(b"[") and not text.startswith(b"[\"") else "documents"
    try:
        if kind in ("list", "array"):  # "list" is ArangoDB's name, "array" an alias
            rows = orjson.loads(text or b"[]")
            if not isinstance(rows, list):
                raise errors.ArangoError(errors.HTTP_BAD_PARAMETER, "expecting a JSON array in the request", 400)
            return rows
        lines = [orjson.loads(line) if line.strip() else None for line in text.splitlines()]
    except orjson.JSONDecodeError as exc:
        raise errors.ArangoError(errors.HTTP_CORRUPTED_JSON, f"invalid JSON: {exc}", 400)
    if kind == "documents":
        return lines
    # no type: the first line names the attributes, every further line holds values
    if not lines or not isinstance(lines[0], list):
        raise errors.ArangoError(errors.HTTP_BAD_PARAMETER, "no JSON array found in first line", 400)
    header = lines[0]
    return [dict(zip(header, values)) if isinstance(values, list) else values for values in lines[1:]]


async def import_(ctx: Ctx):  # type: ignore[no-untyped-def]
    name = ctx.query.get("collection")
    if not name:
        raise errors.ArangoError(errors.COLLECTION_PARAMETER_MISSING, "collection parameter missing", 400)
    coll = ctx.cluster.collection(ctx.db, name)
    perms.require_collection(ctx.cluster, ctx.who, ctx.db_name, coll.name, "rw")
    on_dup = ctx.query.get("onDuplicate", "error")
    if on_dup not in _MODES:
        raise errors.ArangoError(errors.BAD_PARAMETER, "invalid onDuplicate", 400)
    rows = _rows(await ctx.raw(), ctx.query.get("type"))
    prefixes = {"_from": ctx.query.get("fromPrefix"), "_to": ctx.query.get("toPrefix")}
    if ctx.flag("overwrite"):
        documents.truncate(ctx.cluster, coll)
    writes = Writes(ctx.cluster, transactional=ctx.flag("complete"))
    stats = {"created": 0, "errors": 0, "empty": 0, "updated": 0, "ignored": 0}
    details: list[str] = []
    opts = WriteOptions(overwrite_mode=_MODES[on_dup])
    for pos, row in enumerate(rows, 1):
        if row is None or row == {}:
            stats["empty"] += 1
            continue
        if isinstance(row, dict):
            for attr, prefix in prefixes.items():
                if prefix and isinstance(row.get(attr), str) and "/" not in row[attr]:
                    row[attr] = f"{prefix}/{row[attr]}"
        existed = isinstance(row, dict) and isinstance(row.get("_key"), str) and \
            documents.locate(ctx.cluster, coll, row["_key"], writes)[1] is not None
        (result,) = documents.insert(ctx.cluster, coll, [row], opts, writes)
        if isinstance(result, errors.ArangoError):
            stats["errors"] += 1
            details.append(f"at position {pos}: creating document failed with error '{result.message}', "
                           f"offending document: {orjson.dumps(row).decode()[:200]}")
            if ctx.flag("complete"):
                writes.abort()
                raise result  # the item's own error: a duplicate key is 409 / 1210
        elif not existed:
            stats["created"] += 1
        elif on_dup == "ignore":
            stats["ignored"] += 1
        else:
            stats["updated"] += 1
    writes.commit()
    body: dict = {"error": False, **stats}  # ArangoDB's import answer has no "code"
    if ctx.flag("details"):
        body["details"] = details
    return json_response(body, 201)


def register(router: Router) -> None:
    router.add("POST", "/_api/import", import_, COORD)
