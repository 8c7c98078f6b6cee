"""Access tokens (`/_api/token/<user>`, ArangoDB 3.12): named, expiring secrets a user may send
instead of the password."""
from __future__ import annotations

import hashlib
import secrets
import time

from aiohttp import web

from . import errors, perms
from .http import COORD, Ctx, Router, json_response


def _user(ctx: Ctx) -> str:
    name = ctx.params["u"]
    if ctx.who.user != name:
        perms.require_admin(ctx.cluster, ctx.who)
    if name not in ctx.cluster.users:
        raise errors.ArangoError(errors.USER_NOT_FOUND, "user not found", 404)
    return name


def _public(token: dict) -> dict:
    return {k: v for k, v in token.items() if k != "token"}


async def create(ctx: Ctx):  # type: ignore[no-untyped-def]
    user = _user(ctx)
    body = await ctx.json({})
    if not isinstance(body, dict) or not isinstance(body.get("name"), str) or not body["name"]:
        raise errors.ArangoError(errors.BAD_PARAMETER, "token name missing", 400)
    valid_until = body.get("valid_until")  # optional: a token without it never expires
    if valid_until is not None and (not isinstance(valid_until, (int, float)) or valid_until <= time.time()):
        raise errors.ArangoError(errors.BAD_PARAMETER, "valid_until must be a future timestamp", 400)
    tokens = ctx.cluster.access_tokens.setdefault(user, [])
    if any(t["name"] == body["name"] for t in tokens):
        raise errors.ArangoError(errors.DUPLICATE_NAME, "an access token with this name exists", 409)
    secret = f"v1.{secrets.token_hex(24)}"
    token = {"id": int(ctx.cluster.ids.next()), "name": body["name"],
             **({"valid_until": int(valid_until)} if valid_until is not None else {}),
             "created_at": int(time.time()), "active": True, "token": secret,
             "fingerprint": "v1." + hashlib.sha256(secret.encode()).hexdigest()[:10]}
    tokens.append(token)
    return json_response(token)  # token answers carry no error / code


async def list_tokens(ctx: Ctx):  # type: ignore[no-untyped-def]
    user = _user(ctx)
    return json_response({"tokens": [_public(t) for t in ctx.cluster.access_tokens.get(user, [])]})


async def delete(ctx: Ctx):  # type: ignore[no-untyped-def]
    user = _user(ctx)
    tokens = ctx.cluster.access_tokens.get(user, [])
    kept = [t for t in tokens if str(t["id"]) != ctx.params["id"]]
    if len(kept) == len(tokens):
        raise errors.ArangoError(errors.HTTP_NOT_FOUND, "access token not found", 404)
    ctx.cluster.access_tokens[user] = kept
    return web.Response(status=200, content_type="text/plain")


def register(router: Router) -> None:
    router.add("POST", "/_api/token/{u}", create, COORD)
    router.add("GET", "/_api/token/{u}", list_tokens, COORD)
    router.add("DELETE", "/_api/token/{u}/{id}", delete, COORD)
