"""Async jobs (`x-arango-async: true|store` and `/_api/job`).

An async request runs as a background task once it has been answered with 202, so a slow one
(a query with `SLEEP()`) is "pending" until it finishes, as in ArangoDB. Jobs started with
`store` keep their answer for one `PUT /_api/job/<id>`; `true` jobs keep none.
"""
from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from . import errors
from .http import ANY, Ctx, Router, error_response, json_response, ok

# ArangoDB's answer for a query killed while it runs (ERROR_QUERY_KILLED)
_KILLED = errors.ArangoError(errors.QUERY_KILLED, "query killed", 410)


@dataclass
class Job:
    task: asyncio.Task | None
    keep: bool
    response: web.Response | None = None
    finished: float | None = None  # epoch seconds; None while pending
    created: float = field(default_factory=time.time)


class JobStore:
    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self.jobs: dict[str, Job] = {}
        self._running: set[asyncio.Task] = set()  # includes tasks of jobs already deleted

    def start(self, work: Coroutine[Any, Any, web.StreamResponse], keep: bool) -> str:
        job_id = str(next(self._ids))
        job = Job(None, keep)
        self.jobs[job_id] = job
        job.task = asyncio.get_running_loop().create_task(work)
        self._running.add(job.task)
        job.task.add_done_callback(lambda task: self._finish(job, task))
        return job_id

    def _finish(self, job: Job, task: asyncio.Task) -> None:
        self._running.discard(task)
        if job.finished is not None:
            return  # cancelled: the answer was set then
        response = None if task.cancelled() or task.exception() is not None else task.result()
        if job.keep and isinstance(response, web.Response):
            job.response = response
        job.finished = time.time()

    def cancel(self, job: Job) -> None:
        if job.finished is None and job.task is not None:
            job.response = error_response(_KILLED) if job.keep else None
            job.finished = time.time()
            job.task.cancel()

    def ids(self, pending: bool) -> list[str]:
        return [i for i, job in self.jobs.items() if (job.finished is None) == pending]

    def drop(self, job_id: str) -> None:
        # a running job is not stopped (as in ArangoDB); its answer is thrown away
        self.jobs.pop(job_id, None)

    async def close(self) -> None:
        tasks = list(self._running)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _store(ctx: Ctx) -> JobStore:
    return ctx.request.app["standin"].jobs


def _job(ctx: Ctx) -> str:
    job_id = ctx.params["id"]
    if job_id not in _store(ctx).jobs:
        raise errors.ArangoError(errors.HTTP_NOT_FOUND, "not found", 404)
    return job_id


async def status(ctx: Ctx):  # type: ignore[no-untyped-def]
    which = ctx.params["id"]
    if which in ("done", "pending"):
        ids = _store(ctx).ids(pending=which == "pending")
        count = ctx.query.get("count")
        return json_response(ids[:int(count)] if count else ids)
    if not which or which[0] not in "123456789":
        # ArangoDB reads a value not starting with a digit 1-9 as a (bad) list type, not a job id
        raise errors.ArangoError(errors.HTTP_BAD_PARAMETER, "bad parameter", 400)
    job_id = _job(ctx)
    if _store(ctx).jobs[job_id].finished is None:
        return web.Response(status=204)
    return web.Response(status=200, headers={"x-arango-async-id": job_id})


async def result(ctx: Ctx):  # type: ignore[no-untyped-def]
    store = _store(ctx)
    job_id = _job(ctx)
    job = store.jobs[job_id]
    if job.finished is None:
        return web.Response(status=204)
    store.drop(job_id)
    stored = job.response
    if stored is None:
        return web.Response(status=204)
    headers = {k: v for k, v in stored.headers.items() if k.lower() not in ("content-length", "content-type")}
    headers["x-arango-async-id"] = job_id
    return web.Response(body=stored.body, status=stored.status, headers=headers,
                        content_type=stored.content_type)


async def cancel(ctx: Ctx):  # type: ignore[no-untyped-def]
    store = _store(ctx)
    store.cancel(store.jobs[_job(ctx)])
    return ok({"result": True})


async def clear(ctx: Ctx):  # type: ignore[no-untyped-def]
    which = ctx.params["id"]
    store = _store(ctx)
    if which in ("all", "expired"):
        stamp = float(ctx.query.get("stamp", "inf")) if which == "expired" else float("inf")
        for job_id in [i for i, job in store.jobs.items() if (job.finished or job.created) < stamp]:
            store.drop(job_id)
        return ok({"result": True})
    store.drop(_job(ctx))
    return ok({"result": True})


def register(router: Router) -> None:
    router.add("GET", "/_api/job/{id}", status, ANY)
    router.add("PUT", "/_api/job/{id}", result, ANY)
    router.add("PUT", "/_api/job/{id}/cancel", cancel, ANY)
    router.add("DELETE", "/_api/job/{id}", clear, ANY)
