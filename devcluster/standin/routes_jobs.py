"""Async jobs (`x-arango-async: true|store` and `/_api/job`).

The stand-in runs an async request at once and keeps its answer, so a job is always "done"
by the time a client asks; the job API then behaves as ArangoDB's does for finished jobs.
"""
from __future__ import annotations

import itertools
import time

from aiohttp import web

from . import errors
from .http import ANY, Ctx, Router, json_response, ok


class JobStore:
    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self.done: dict[str, web.Response | None] = {}
        self.finished: dict[str, float] = {}  # job id -> when it finished (epoch seconds)

    def add(self, response: web.StreamResponse | None) -> str:
        job_id = str(next(self._ids))
        self.done[job_id] = response if isinstance(response, web.Response) else None
        self.finished[job_id] = time.time()
        return job_id

    def drop(self, job_id: str) -> None:
        self.done.pop(job_id, None)
        self.finished.pop(job_id, None)


def _store(ctx: Ctx) -> JobStore:
    return ctx.request.app["standin"].jobs


def _job(ctx: Ctx) -> str:
    job_id = ctx.params["id"]
    if job_id not in _store(ctx).done:
        raise errors.ArangoError(errors.HTTP_NOT_FOUND, "not found", 404)
    return job_id


async def status(ctx: Ctx):  # type: ignore[no-untyped-def]
    if ctx.params["id"] in ("done", "pending"):
        ids = list(_store(ctx).done) if ctx.params["id"] == "done" else []
        count = ctx.query.get("count")
        return json_response(ids[:int(count)] if count else ids)
    job_id = _job(ctx)
    return web.Response(status=200, headers={"x-arango-async-id": job_id})


async def result(ctx: Ctx):  # type: ignore[no-untyped-def]
    job_id = _job(ctx)
    stored = _store(ctx).done[job_id]
    _store(ctx).drop(job_id)
    if stored is None:
        return web.Response(status=204)
    headers = {k: v for k, v in stored.headers.items() if k.lower() not in ("content-length", "content-type")}
    headers["x-arango-async-id"] = job_id
    return web.Response(body=stored.body, status=stored.status, headers=headers,
                        content_type=stored.content_type)


async def cancel(ctx: Ctx):  # type: ignore[no-untyped-def]
    _job(ctx)
    return ok({"result": True})


async def clear(ctx: Ctx):  # type: ignore[no-untyped-def]
    which = ctx.params["id"]
    store = _store(ctx)
    if which in ("all", "expired"):
        stamp = float(ctx.query.get("stamp", "inf")) if which == "expired" else float("inf")
        for job_id in [j for j, at in store.finished.items() if at < stamp]:
            store.drop(job_id)
        return ok({"result": True})
    store.drop(_job(ctx))
    return ok({"result": True})


def register(router: Router) -> None:
    router.add("GET", "/_api/job/{id}", status, ANY)
    router.add("PUT", "/_api/job/{id}", result, ANY)
    router.add("PUT", "/_api/job/{id}/cancel", cancel, ANY)
    router.add("DELETE", "/_api/job/{id}", clear, ANY)
