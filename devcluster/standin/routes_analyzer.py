"""Analyzers (`/_api/analyzer`): built-ins plus per-database custom analyzers `<db>::<name>`."""
from __future__ import annotations

import re

from . import errors, perms
from .http import COORD, Ctx, Router, ok

_BUILTIN = [{"name": "identity", "type": "identity", "properties": {}, "features": ["frequency", "norm"]}] + [
    {"name": f"text_{lang}", "type": "text", "features": ["frequency", "norm", "position"],
     "properties": {"locale": lang, "case": "lower", "stopwords": [], "accent": False, "stemming": True}}
    for lang in ("de", "en", "es", "fi", "fr", "it", "nl", "no", "pt", "ru", "sv", "zh")]
_NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9_\-]{0,253}$")


def _full(ctx: Ctx, name: str) -> str:
    return name if "::" in name else f"{ctx.db_name}::{name}"


def _all(ctx: Ctx) -> list[dict]:
    return _BUILTIN + list(ctx.db.analyzers.values())


def _find(ctx: Ctx, name: str) -> dict:
    for a in _all(ctx):
        if a["name"] in (name, _full(ctx, name)):
            return a
    raise errors.ArangoError(errors.DOCUMENT_NOT_FOUND, f"analyzer '{name}' not found", 404)


async def list_analyzers(ctx: Ctx):  # type: ignore[no-untyped-def]
    return ok({"result": _all(ctx)})


async def get(ctx: Ctx):  # type: ignore[no-untyped-def]
    return ok(_find(ctx, ctx.params["a"]))


async def create(ctx: Ctx):  # type: ignore[no-untyped-def]
    perms.require_database(ctx.cluster, ctx.who, ctx.db_name, "rw")
    body = await ctx.json({})
    if not isinstance(body, dict) or not isinstance(body.get("name"), str) or not body.get("type"):
        raise errors.ArangoError(errors.BAD_PARAMETER, "invalid analyzer definition", 400)
    short = body["name"].split("::")[-1]
    if not _NAME.match(short):
        raise errors.ArangoError(errors.BAD_PARAMETER, "invalid analyzer name", 400)
    full = f"{ctx.db_name}::{short}"
    spec = {"name": full, "type": body["type"], "properties": body.get("properties") or {},
            "features": sorted(body.get("features") or [])}
    existing = ctx.db.analyzers.get(full)
    if existing is not None:
        if existing == spec:
            return ok(existing, 200)
        raise errors.ArangoError(errors.BAD_PARAMETER,
                                 f"Name collision detected while registering analyzer '{full}'", 400)
    ctx.db.analyzers[full] = spec
    ctx.cluster.structure_version += 1
    return ok(spec, 201)


async def drop(ctx: Ctx):  # type: ignore[no-untyped-def]
    perms.require_database(ctx.cluster, ctx.who, ctx.db_name, "rw")
    name = _full(ctx, ctx.params["a"])
    if ctx.db.analyzers.pop(name, None) is None:
        if any(a["name"] == ctx.params["a"] for a in _BUILTIN):
            raise errors.ArangoError(errors.FORBIDDEN, "built-in analyzers cannot be removed", 403)
        raise errors.ArangoError(errors.DOCUMENT_NOT_FOUND, "analyzer not found", 404)
    ctx.cluster.structure_version += 1
    return ok({"name": name})


def register(router: Router) -> None:
    router.add("GET", "/_api/analyzer", list_analyzers, COORD)
    router.add("POST", "/_api/analyzer", create, COORD)
    router.add("GET", "/_api/analyzer/{a}", get, COORD)
    router.add("DELETE", "/_api/analyzer/{a}", drop, COORD)
