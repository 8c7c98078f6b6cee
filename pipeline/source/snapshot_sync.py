"""(Re)synchronisation of one shard: a full snapshot, chained to tailing with no gap.

On the shard's leader (DBServer, or the single server) a replication *batch* pins a snapshot at
tick ``T0`` (``POST /_api/replication/batch`` -> ``lastTick``). The shard topic then gets
``resync_begin(T0)``, every document of the snapshot as ``resync_doc`` (``GET
/_api/replication/dump`` with the batch id, continued until ``checkmore`` is false), and
``resync_end(count)``. Tailing the same server continues with the markers *after* ``T0``; the
caller holds those back while the dump runs and drops what is at or before ``T0`` (it is in the
snapshot). Writes during the dump are therefore neither lost nor reordered: the snapshot is
consistent at ``T0`` and every later change follows it in the same topic.

Every resync here is *full* (``body.full = true``): after ``resync_end`` the destination
removes the shard's documents that the resync did not send. ``resync_doc`` messages are
committed in Kafka transactions of ``docs_per_txn``; a crash mid-dump leaves a topic ending in
an open resync, and the restarted source simply begins a new one.

The dump iterator lives in the batch on the server, so a lost response cannot be asked for
again: any error ends this attempt (the caller retries with a fresh batch).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from dc2dc.pipeline.arango import errno
from dc2dc.pipeline.arango.http import ArangoHttp
from dc2dc.pipeline.errors import ArangoError, Dc2dcError
from dc2dc.pipeline.source.structure_read import ShardInfo
from dc2dc.topics.envelope import Envelope, Op

log = logging.getLogger(__name__)

Emit = Callable[[list[Envelope]], Awaitable[bool]]


class SyncAborted(Dc2dcError):
    """The shard changed hands (or was dropped) while it was being synchronised."""

    retriable = True


@dataclass
class SyncProgress:
    """What an operator sees of one shard's (re)sync."""

    shard: str
    reason: str
    state: str = "starting"          # starting | dumping | done | aborted | failed
    t0: int | None = None
    server: str | None = None
    docs: int = 0
    bytes: int = 0
    started: float = field(default_factory=time.time)
    finished: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"shard": self.shard, "reason": self.reason, "state": self.state, "t0": self.t0,
                "server": self.server, "docs": self.docs, "bytes": self.bytes,
                "seconds": round((self.finished or time.time()) - self.started, 3)}


@dataclass(frozen=True)
class SyncSettings:
    docs_per_txn: int = 2000
    dump_chunk_bytes: int = 4 * 1024 * 1024
    batch_ttl_s: int = 600


def _bare_document(line: dict[str, Any]) -> dict[str, Any]:
    # A server that ignores useEnvelope=false wraps documents as {"type": 2300, "data": {...}};
    # a bare document always has a _key.
    if "_key" not in line and isinstance(line.get("data"), dict):
        return line["data"]
    return line


async def snapshot_shard(
    http: ArangoHttp,
    info: ShardInfo,
    *,
    src: str,
    server: str,
    reason: str,
    epoch: Callable[[], int],
    emit: Emit,
    on_t0: Callable[[int], None],
    progress: SyncProgress,
    settings: SyncSettings = SyncSettings(),
) -> int:
    """Send a full resync of ``info``'s shard from ``server`` through ``emit``; returns ``T0``.

    ``emit`` commits one Kafka transaction and returns False when the shard is no longer ours
    to sync (then ``SyncAborted`` is raised). ``on_t0`` is called as soon as ``T0`` is known.
    """
    progress.server = server
    batch = (await http.request("POST", "/_api/replication/batch", db=info.db,
                                json={"ttl": settings.batch_ttl_s})).json()
    batch_id, t0 = str(batch["id"]), int(batch["lastTick"])
    progress.t0 = t0
    on_t0(t0)
    try:
        def envelope(op: Op, **fields: Any) -> Envelope:
            return Envelope(op=op, src=src, seq=0, epoch=epoch(), tick=str(t0), server=server,
                            ts=int(time.time() * 1000), db=info.db, coll=info.coll, shard=info.shard,
                            cid=info.cid, **fields)

        begin = {"tick": str(t0), "server": server, "reason": reason, "full": True}
        if not await emit([envelope(Op.RESYNC_BEGIN, body=begin)]):
            raise SyncAborted(f"shard {info.shard} moved before its resync began")
        progress.state = "dumping"
        count = 0
        extended = time.monotonic()
        pending: list[Envelope] = []
        while True:
            resp = await http.request("GET", "/_api/replication/dump", db=info.db, params={
                "collection": info.dump_name, "batchId": batch_id,
                "chunkSize": settings.dump_chunk_bytes, "useEnvelope": False})
            if resp.status == 200 and resp.body:
                for line in resp.lines():
                    doc = {k: v for k, v in _bare_document(line).items() if k != "_id"}
                    pending.append(envelope(Op.RESYNC_DOC, key=doc.get("_key"), rev=doc.get("_rev"), doc=doc))
                progress.bytes += len(resp.body)
            while len(pending) >= settings.docs_per_txn or (pending and not _more(resp)):
                group, pending = pending[:settings.docs_per_txn], pending[settings.docs_per_txn:]
                if not await emit(group):
                    raise SyncAborted(f"shard {info.shard} moved during its resync")
                count += len(group)
                progress.docs = count
            if not _more(resp):
                break
            if time.monotonic() - extended > settings.batch_ttl_s / 3:
                await http.request("PUT", f"/_api/replication/batch/{batch_id}", db=info.db,
                                   json={"ttl": settings.batch_ttl_s})
                extended = time.monotonic()
        end = {"count": count, "full": True, "tick": str(t0)}
        if not await emit([envelope(Op.RESYNC_END, body=end)]):
            raise SyncAborted(f"shard {info.shard} moved before its resync ended")
        progress.state = "done"
        progress.finished = time.time()
        return t0
    except BaseException as exc:
        progress.state = "aborted" if isinstance(exc, (SyncAborted, asyncio.CancelledError)) else "failed"
        progress.finished = time.time()
        raise
    finally:
        await _drop_batch(http, info.db, batch_id)


def _more(resp: Any) -> bool:
    return resp.status == 200 and resp.header("x-arango-replication-checkmore", "false").lower() == "true"


async def _drop_batch(http: ArangoHttp, db: str, batch_id: str) -> None:
    try:
        await http.request("DELETE", f"/_api/replication/batch/{batch_id}", db=db)
    except ArangoError as e:
        # An expired batch is gone anyway; anything else is only logged: the server drops
        # batches by TTL, and failing the (finished or failing) sync for it helps no one.
        if e.error_num != errno.CURSOR_NOT_FOUND:
            log.warning("could not release replication batch %s on %s: %s", batch_id, http.base_url, e)
