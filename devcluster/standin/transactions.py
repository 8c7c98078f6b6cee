"""Stream transactions: begin, status, commit, abort; changes become visible (and logged) at commit."""
from __future__ import annotations

import time
from dataclasses import dataclass

from . import errors, perms
from .http import COORD, Ctx, Router, ok
from .model import Cluster
from .writes import Writes

IDLE_TIMEOUT = 60.0


@dataclass
class Transaction:
    id: str
    db: str
    writes: Writes
    status: str = "running"
    touched: float = 0.0

    def holds_locks(self) -> bool:
        """Running and not idle past the timeout (an idle transaction is aborted when next seen)."""
        return self.status == "running" and time.time() - self.touched <= IDLE_TIMEOUT


def _registry(cluster: Cluster) -> dict[str, Transaction]:
    return cluster.transactions


def lookup(cluster: Cluster, db: str, trx_id: str) -> Transaction:
    _expire(cluster)
    trx = _registry(cluster).get(trx_id)
    if trx is None or trx.db != db or trx.status != "running":
        raise errors.ArangoError(errors.TRANSACTION_NOT_FOUND, f"transaction '{trx_id}' not found", 404)
    trx.touched = time.time()
    return trx


def _expire(cluster: Cluster) -> None:
    now = time.time()
    reg = _registry(cluster)
    for tid in [t for t, trx in reg.items() if trx.status == "running" and now - trx.touched > IDLE_TIMEOUT]:
        reg[tid].writes.abort()
        reg[tid].status = "aborted"


async def begin(ctx: Ctx):  # type: ignore[no-untyped-def]
    perms.require_database(ctx.cluster, ctx.who, ctx.db_name, "ro")
    body = await ctx.json({})
    if not isinstance(body, dict) or not isinstance(body.get("collections", {}), dict):
        raise errors.ArangoError(errors.BAD_PARAMETER, "missing 'collections' attribute", 400)
    for kind in ("read", "write", "exclusive"):
        names = body.get("collections", {}).get(kind) or []
        for name in [names] if isinstance(names, str) else names:
            ctx.cluster.collection(ctx.db, name)
    trx = Transaction(str(ctx.cluster.ids.next()), ctx.db_name, Writes(ctx.cluster, transactional=True),
                      touched=time.time())
    _registry(ctx.cluster)[trx.id] = trx
    return ok({"result": {"id": trx.id, "status": "running"}}, 201)


async def status(ctx: Ctx):  # type: ignore[no-untyped-def]
    trx = _registry(ctx.cluster).get(ctx.params["id"])
    if trx is None or trx.db != ctx.db_name:
        raise errors.ArangoError(errors.TRANSACTION_NOT_FOUND, "transaction not found", 404)
    return ok({"result": {"id": trx.id, "status": trx.status}})


async def commit(ctx: Ctx):  # type: ignore[no-untyped-def]
    trx = _registry(ctx.cluster).get(ctx.params["id"])
    if trx is None or trx.db != ctx.db_name:
        raise errors.ArangoError(errors.TRANSACTION_NOT_FOUND, "transaction not found", 404)
    if trx.status == "aborted":
        raise errors.ArangoError(errors.TRANSACTION_ABORTED, "transaction aborted", 410)
    if trx.status == "running":
        trx.writes.commit()
        trx.status = "committed"
    return ok({"result": {"id": trx.id, "status": trx.status}})


async def abort(ctx: Ctx):  # type: ignore[no-untyped-def]
    trx = _registry(ctx.cluster).get(ctx.params["id"])
    if trx is None or trx.db != ctx.db_name:
        raise errors.ArangoError(errors.TRANSACTION_NOT_FOUND, "transaction not found", 404)
    if trx.status == "committed":
        raise errors.ArangoError(1654, "transaction already committed", 409)
    trx.writes.abort()
    trx.status = "aborted"
    return ok({"result": {"id": trx.id, "status": trx.status}})


async def list_running(ctx: Ctx):  # type: ignore[no-untyped-def]
    _expire(ctx.cluster)
    out = [{"id": t.id, "state": t.status} for t in _registry(ctx.cluster).values()
           if t.db == ctx.db_name and t.status == "running"]
    return ok({"transactions": out})


async def javascript(ctx: Ctx):  # type: ignore[no-untyped-def]
    raise errors.ArangoError(errors.NOT_IMPLEMENTED, "JavaScript transactions are not supported by the stand-in", 501)


def register(router: Router) -> None:
    router.add("POST", "/_api/transaction/begin", begin, COORD)
    router.add("GET", "/_api/transaction", list_running, COORD)
    router.add("POST", "/_api/transaction", javascript, COORD)
    router.add("GET", "/_api/transaction/{id}", status, COORD)
    router.add("PUT", "/_api/transaction/{id}", commit, COORD)
    router.add("DELETE", "/_api/transaction/{id}", abort, COORD)
