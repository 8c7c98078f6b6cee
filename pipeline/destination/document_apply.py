"""Executing planned steps (``apply_batch.Step``) against the destination coordinator.

Everything goes through the public document, cursor and stream-transaction APIs:

* upserts: ``POST /_api/document/<c>?overwriteMode=replace&isRestore=true`` with an array, so
  the source ``_key`` and ``_rev`` are kept (``isRestore`` stores ``_rev`` verbatim); documents
  a unique index refuses in every order are removed and re-inserted in one transaction;
* removes: ``DELETE /_api/document/<c>`` with an array of keys; "not found" (1202) is success;
* a source transaction: ``/_api/transaction/begin``, the requests with ``x-arango-trx-id``,
  then commit — so its changes become visible together;
* a truncate of *one* shard: ``FOR d IN @@c REMOVE d IN @@c`` with ``options.shardIds``, since
  the source truncated only that shard's part of the collection (``PUT .../truncate`` would
  empty every shard);
* the end of a full resync: delete what the shard holds but the resync did not send.

Array requests answer 200/201/202 even when single items fail; the failures are in the body
(and counted in ``X-Arango-Error-Codes``, a JSON object such as ``{"1200":2}``). Every item is checked: an item error other than the
tolerated "not found" on removes is raised, never skipped. Retriable errors (cluster busy,
leader moved) are retried here, with backoff, indefinitely — replaying a step is safe because
each of its operations is absolute.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Iterable, Sequence, TypeVar

from dc2dc.pipeline.arango import errno
from dc2dc.pipeline.destination.apply_batch import Step, StreamProtocolError
from dc2dc.pipeline.arango.http import ArangoHttp, Response
from dc2dc.pipeline.arango.query import query
from dc2dc.pipeline.errors import ArangoError
from dc2dc.pipeline.snapshot import shard_order
from dc2dc.pipeline.destination.structure_requests import StructureError
from dc2dc.pipeline.retry import retrying

log = logging.getLogger(__name__)

T = TypeVar("T")
_TRX_HEADER = "x-arango-trx-id"
_NO_TOLERANCE: frozenset[int] = frozenset()
_NOT_FOUND_OK = frozenset({errno.ARANGO_DOCUMENT_NOT_FOUND})
_UNIQUE_CONFLICT = frozenset({errno.ARANGO_UNIQUE_CONSTRAINT_VIOLATED})


@dataclass(frozen=True)
class Target:
    """Where one source shard's changes go: a destination collection and its shard at the same index.

    ``shard`` is None on a single-server destination, which has no shards: the collection holds
    every source shard's documents. ``exclusive`` says whether the destination unit (shard, or
    single-server collection) holds this source shard's documents and nothing else — only then
    can a truncate or a resync's cleanup of this source shard be carried out.
    """

    db: str
    coll: str
    shard: str | None
    exclusive: bool = True


async def locate(http: ArangoHttp, db: str, coll: str, index: int, source_shards: int) -> Target:
    """The destination shard at ``index`` of ``db/coll`` (shards sorted numerically = hash-slot order)."""
    try:
        body = (await http.request("GET", f"/_api/collection/{coll}/shards", db=db)).json()
    except ArangoError as exc:
        if exc.error_num != errno.CLUSTER_ONLY_ON_COORDINATOR:
            raise
        return Target(db, coll, None, exclusive=source_shards == 1)   # a single server
    ids = sorted(body["shards"], key=shard_order)   # a list, or a map with details=true
    if len(ids) != source_shards:
        raise StructureError(f"{db}/{coll} has {len(ids)} shards in the destination, {source_shards} in the source")
    return Target(db, coll, ids[index])


def check_items(resp: Response, what: str, tolerated: frozenset[int] = _NO_TOLERANCE) -> list[int]:
    """Raise on the first per-item error not in ``tolerated``; the indexes of the tolerated ones."""
    body = resp.json()
    if not isinstance(body, list):
        return []
    hits = []
    for index, item in enumerate(body):
        if isinstance(item, dict) and item.get("error"):
            num = item.get("errorNum")
            if num in tolerated:
                hits.append(index)
                continue
            raise ArangoError(resp.status, num, f"{what}: item {index}: {item.get('errorMessage', '')}")
    return hits


def _chunks(items: Sequence[T], size: int) -> Iterable[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


class DocumentWriter:
    """The document-level requests of the applier, each checked item by item."""

    def __init__(self, http: ArangoHttp, *, request_ops: int = 1000) -> None:
        self._http = http
        self._request_ops = request_ops

    @staticmethod
    def _headers(trx: str | None) -> dict[str, str] | None:
        return {_TRX_HEADER: trx} if trx else None

    async def upsert(self, target: Target, docs: Sequence[dict[str, Any]], trx: str | None = None) -> None:
        # _id names the source collection; the destination derives it from its own name.
        pending = [{k: v for k, v in d.items() if k != "_id"} for d in docs]
        stuck = await self._upsert_rounds(target, pending, trx)
        if not stuck:
            return
        # The stuck documents hold each other's unique values: the source went through values no
        # final state shows (a swap via a temporary value, or a remove and re-insert). Removing
        # them frees those values, so their final states then meet only values the source's final
        # state holds too; a conflict left after that is a real divergence of B.
        if trx is not None:
            stuck = await self._reinsert(target, stuck, trx)
        else:
            # Within a transaction of our own, so no reader sees the documents gone.
            own = await self.begin(target)
            committed = False
            try:
                stuck = await self._reinsert(target, stuck, own)
                if not stuck:
                    await self.commit(target, own)
                    committed = True
            finally:
                if not committed:   # the removes are undone unless every re-insert succeeded
                    await self.abort_quietly(target, own)
        if stuck:
            raise ArangoError(409, errno.ARANGO_UNIQUE_CONSTRAINT_VIOLATED,
                              f"upsert into {target.db}/{target.coll}: {len(stuck)} document(s) violate a "
                              f"unique index, e.g. {stuck[0].get('_key')!r}")

    async def _upsert_rounds(self, target: Target, pending: list[dict[str, Any]],
                             trx: str | None) -> list[dict[str, Any]]:
        """Upsert, retrying unique conflicts while a round makes progress; what stays refused."""
        what = f"upsert into {target.db}/{target.coll}"
        while pending:
            # A secondary unique index can refuse an item whose value another item of the same
            # batch frees (the server applies a batch in no set order): retry those after the rest.
            conflicted: list[dict[str, Any]] = []
            for part in _chunks(pending, self._request_ops):
                resp = await self._http.request(
                    "POST", f"/_api/document/{target.coll}", db=target.db, json=list(part),
                    params={"overwriteMode": "replace", "isRestore": True}, headers=self._headers(trx))
                conflicted += [part[i] for i in check_items(resp, what, _UNIQUE_CONFLICT)]
            if len(conflicted) == len(pending):
                return conflicted
            pending = conflicted
        return []

    async def _reinsert(self, target: Target, docs: list[dict[str, Any]], trx: str) -> list[dict[str, Any]]:
        await self.remove(target, [d["_key"] for d in docs], trx)
        return await self._upsert_rounds(target, docs, trx)

    async def remove(self, target: Target, keys: Sequence[str], trx: str | None = None) -> None:
        for part in _chunks(list(keys), self._request_ops):
            resp = await self._http.request("DELETE", f"/_api/document/{target.coll}", db=target.db,
                                            json=list(part), headers=self._headers(trx))
            check_items(resp, f"remove from {target.db}/{target.coll}", _NOT_FOUND_OK)

    async def truncate_shard(self, target: Target, trx: str | None = None) -> None:
        await self._query(target, "FOR d IN @@c REMOVE d IN @@c", trx)

    async def shard_keys(self, target: Target) -> list[str]:
        return await self._query(target, "FOR d IN @@c RETURN d._key", None)

    async def _query(self, target: Target, aql: str, trx: str | None) -> list[Any]:
        if not target.exclusive:
            raise StreamProtocolError(
                f"{target.db}/{target.coll}: a single-server destination keeps all source shards in one "
                f"collection, so one source shard cannot be truncated or resynced there")
        options = {"shardIds": [target.shard]} if target.shard is not None else {}
        return [item async for item in query(self._http, aql, db=target.db, bind_vars={"@c": target.coll},
                                             options=options, batch_size=10000, headers=self._headers(trx))]

    async def begin(self, target: Target) -> str:
        resp = await self._http.request("POST", "/_api/transaction/begin", db=target.db,
                                        json={"collections": {"write": [target.coll]}})
        return str(resp.json()["result"]["id"])

    async def commit(self, target: Target, trx: str) -> None:
        await self._http.request("PUT", f"/_api/transaction/{trx}", db=target.db)

    async def abort_quietly(self, target: Target, trx: str) -> None:
        # Best effort: an unfinished stream transaction also expires on the server by itself.
        try:
            await self._http.request("DELETE", f"/_api/transaction/{trx}", db=target.db)
        except ArangoError as exc:
            log.warning("aborting transaction %s on %s failed: %s", trx, target, exc)


class ShardApplier:
    """Applies one shard's steps in order and keeps the state a resync needs between steps."""

    def __init__(self, writer: DocumentWriter) -> None:
        self._writer = writer
        self.resync_from: int | None = None       # seq of the open resync's begin
        self.resync_offset: int | None = None
        self._sent: set[str] | None = None        # keys sent since that begin
        self.removed_by_resync = 0

    def restart_resync(self, seq: int, offset: int) -> None:
        """A replay starts at an open resync's begin: track it from scratch."""
        self.resync_from, self.resync_offset, self._sent = seq, offset, set()

    async def apply(self, step: Step, target: Target) -> None:
        where = f"{target.db}/{target.coll} shard {target.shard} seq {step.first_seq}..{step.last.env.seq}"
        if step.resync == "begin":
            self.restart_resync(step.first_seq, step.last.offset)
            return
        if step.resync == "end":
            if step.body and step.body.get("full"):
                if self._sent is None:
                    raise StreamProtocolError(f"{where}: resync_end without its resync_begin")
                sent = self._sent
                await retrying(where, lambda: self._remove_unsent(target, sent))
            self.resync_from = self.resync_offset = self._sent = None
            return
        if step.tid is not None:
            await retrying(where, lambda: self._apply_in_transaction(step, target))
        elif step.ops or step.truncate:
            await retrying(where, lambda: self._apply_plain(step, target, None))
        if self._sent is not None:
            if step.truncate:
                self._sent.clear()
            self._sent.update(step.upserts)

    async def _apply_plain(self, step: Step, target: Target, trx: str | None) -> None:
        if step.truncate:
            await self._writer.truncate_shard(target, trx)
        if step.removes:
            await self._writer.remove(target, list(step.removes), trx)
        if step.upserts:
            await self._writer.upsert(target, list(step.upserts.values()), trx)

    async def _apply_in_transaction(self, step: Step, target: Target) -> None:
        if not (step.ops or step.truncate):
            return
        trx = await self._writer.begin(target)
        try:
            await self._apply_plain(step, target, trx)
        except BaseException:
            await self._writer.abort_quietly(target, trx)
            raise
        await self._writer.commit(target, trx)

    async def _remove_unsent(self, target: Target, sent: set[str]) -> None:
        stale = [k for k in await self._writer.shard_keys(target) if k not in sent]
        if stale:
            log.info("resync of %s: removing %d documents the source no longer has", target, len(stale))
            await self._writer.remove(target, stale)
        self.removed_by_resync += len(stale)
