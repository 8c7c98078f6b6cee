"""`/_open/auth`: exchange username and password for a user JWT."""
from __future__ import annotations

from . import auth, errors
from .http import ANY, Ctx, Router, json_response


async def open_auth(ctx: Ctx):  # type: ignore[no-untyped-def]
    body = await ctx.json({})
    if not isinstance(body, dict) or not isinstance(body.get("username"), str):
        raise errors.ArangoError(errors.HTTP_BAD_PARAMETER, "invalid JSON", 400)
    user, password = body["username"], body.get("password", "")
    if not auth.check_password(ctx.cluster, user, password if isinstance(password, str) else ""):
        raise errors.ArangoError(errors.HTTP_UNAUTHORIZED, "Wrong credentials", 401)
    return json_response({"jwt": auth.user_token(ctx.cluster.jwt_secret, user)})


def register(router: Router) -> None:
    router.add("POST", "/_open/auth", open_auth, ANY, public=True)
