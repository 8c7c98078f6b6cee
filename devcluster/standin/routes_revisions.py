"""Revision-based incremental sync per shard (`/_api/replication/revisions/tree|ranges|documents`).

Served from a batch's snapshot. The tree is a Merkle tree of fixed shape (branching factor 8,
depth 2, so 64 leaves over the whole 64-bit revision space): every stand-in builds the same tree
from the same set of revisions, so trees of two clusters compare node by node.
"""
from __future__ import annotations

import hashlib

from . import batches, errors
from .http import DBSERVER, Ctx, Router, json_response
from .ids import decode_rev, encode_rev
from .routes_replication import _target

BRANCHING = 8
DEPTH = 2
LEAVES = BRANCHING ** DEPTH
_SHIFT = 64 - 6  # log2(LEAVES) == 6
RANGES_LIMIT = 10_000
DOCUMENTS_LIMIT = 5_000


def _snapshot(ctx: Ctx) -> dict[str, dict]:
    server = _target(ctx)
    batch = batches.get(server, ctx.query.get("batchId"))
    name = ctx.query.get("collection")
    if not name:
        raise errors.ArangoError(errors.HTTP_BAD_PARAMETER, "invalid collection parameter", 400)
    if name not in batch.snapshot:
        raise errors.ArangoError(errors.DATA_SOURCE_NOT_FOUND, "collection or view not found", 404)
    return batch.snapshot[name]


def _revs(docs: dict[str, dict]) -> list[int]:
    out = []
    for doc in docs.values():
        try:
            out.append(decode_rev(doc["_rev"]))
        except ValueError:
            continue
    return sorted(out)


def _h(rev: int) -> int:
    return int.from_bytes(hashlib.blake2b(rev.to_bytes(8, "big"), digest_size=8).digest(), "big")


async def tree(ctx: Ctx):  # type: ignore[no-untyped-def]
    leaves = [[0, 0] for _ in range(LEAVES)]
    for rev in _revs(_snapshot(ctx)):
        leaf = leaves[min(rev >> _SHIFT, LEAVES - 1)]
        leaf[0] += 1
        leaf[1] ^= _h(rev)
    levels = [leaves]
    while len(levels[0]) > 1:
        below = levels[0]
        above = []
        for i in range(0, len(below), BRANCHING):
            count, value = 0, 0
            for c, v in below[i:i + BRANCHING]:
                count += c
                value ^= v
            above.append([count, value])
        levels.insert(0, above)
    nodes = [{"count": c, "hash": str(v)} for level in levels for c, v in level]
    return json_response({"version": 1, "branchingFactor": BRANCHING, "maxDepth": DEPTH,
                          "rangeMin": encode_rev(1) or "-", "rangeMax": encode_rev((1 << 64) - 1),
                          "nodes": nodes})


async def ranges(ctx: Ctx):  # type: ignore[no-untyped-def]
    revs = _revs(_snapshot(ctx))
    body = await ctx.json([])
    if not isinstance(body, list):
        raise errors.ArangoError(errors.BAD_PARAMETER, "body must be an array of [low, high] pairs", 400)
    resume_raw = ctx.query.get("resume") or ctx.query.get("resumeHLC")
    resume = decode_rev(resume_raw) if resume_raw else 0
    out: list[list[str]] = []
    total = 0
    resume_at: int | None = None
    for pair in body:
        if not (isinstance(pair, list) and len(pair) == 2):
            raise errors.ArangoError(errors.BAD_PARAMETER, "invalid range", 400)
        lo, hi = max(decode_rev(pair[0]), resume), decode_rev(pair[1])
        found = []
        for rev in revs:
            if rev < lo or rev > hi:
                continue
            if total >= RANGES_LIMIT:
                resume_at = rev
                break
            found.append(encode_rev(rev))
            total += 1
        out.append(found)
        if resume_at is not None:
            break
    answer: dict = {"ranges": out}
    if resume_at is not None:
        answer["resume"] = encode_rev(resume_at)
        answer["resumeHLC"] = answer["resume"]
    return json_response(answer)


async def documents(ctx: Ctx):  # type: ignore[no-untyped-def]
    docs = _snapshot(ctx)
    body = await ctx.json([])
    if not isinstance(body, list):
        raise errors.ArangoError(errors.BAD_PARAMETER, "body must be an array of revisions", 400)
    by_rev = {doc["_rev"]: doc for doc in docs.values()}
    return json_response([by_rev.get(rev, {}) for rev in body[:DOCUMENTS_LIMIT]])


def register(router: Router) -> None:
    router.add("GET", "/_api/replication/revisions/tree", tree, DBSERVER)
    router.add("PUT", "/_api/replication/revisions/ranges", ranges, DBSERVER)
    router.add("PUT", "/_api/replication/revisions/documents", documents, DBSERVER)
