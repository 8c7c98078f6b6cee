"""Server tasks: the stand-in runs none, so the listing is empty."""
from __future__ import annotations

from . import errors
from .http import COORD, Ctx, Router, json_response


async def list_tasks(ctx: Ctx):  # type: ignore[no-untyped-def]
    return json_response([])


async def get_task(ctx: Ctx):  # type: ignore[no-untyped-def]
    raise errors.ArangoError(1852, "task not found", 404)


def register(router: Router) -> None:
    router.add("GET", "/_api/tasks", list_tasks, COORD)
    router.add("GET", "/_api/tasks/{id}", get_task, COORD)
