"""Server tasks and async jobs: the stand-in runs neither, so their listings are empty and
clearing them succeeds (clients such as python-arango's test teardown call these)."""
from __future__ import annotations

from . import errors
from .http import COORD, Ctx, Router, json_response, ok


async def list_tasks(ctx: Ctx):  # type: ignore[no-untyped-def]
    return json_response([])


async def get_task(ctx: Ctx):  # type: ignore[no-untyped-def]
    raise errors.ArangoError(1852, "task not found", 404)


async def list_jobs(ctx: Ctx):  # type: ignore[no-untyped-def]
    if ctx.params["type"] not in ("done", "pending"):
        raise errors.ArangoError(errors.BAD_PARAMETER, "invalid type", 400)
    return json_response([])


async def clear_jobs(ctx: Ctx):  # type: ignore[no-untyped-def]
    return ok({"result": True})


def register(router: Router) -> None:
    router.add("GET", "/_api/tasks", list_tasks, COORD)
    router.add("GET", "/_api/tasks/{id}", get_task, COORD)
    router.add("GET", "/_api/job/{type}", list_jobs, COORD)
    router.add("DELETE", "/_api/job/{type}", clear_jobs, COORD)
