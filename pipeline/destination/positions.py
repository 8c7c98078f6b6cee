"""Where the destination is in each source shard's stream: kept in the destination ArangoDB.

Kafka offsets are only a hint (MirrorMaker 2 delivers at least once, and offsets in B's Kafka
mean nothing in A's). The truth is the last applied ``seq`` per (source DC, shard), written to
``_system/_dc2dc_positions`` with or right after the data it covers; because apply is
idempotent, replaying from a position that was written late converges. One document per
stream, ``_key = "<src>__<shard>"``, plus ``"<src>__structure"`` for the applied structure
epoch and the snapshot it applied (the structure applier diffs the next snapshot against it,
so it only ever drops what replication created).

The collection is a system collection (name starts with ``_``), so the source side never
replicates it and ``excludeSystem`` listings never show it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Iterable

from dc2dc.pipeline.arango import errno
from dc2dc.pipeline.destination.document_apply import check_items
from dc2dc.pipeline.arango.http import ArangoHttp
from dc2dc.pipeline.arango.query import query
from dc2dc.pipeline.errors import ArangoError

COLLECTION = "_dc2dc_positions"
SYSTEM_DB = "_system"


@dataclass(frozen=True)
class Position:
    """The last applied message of one shard stream.

    ``gen`` is the stream generation of that message (``topics.generation``): a record of a
    newer generation is never a duplicate of ``seq``, whatever its own seq.
    ``resync_from``/``resync_offset`` are set between a ``resync_begin`` and its ``resync_end``:
    a full resync deletes at its end what it did not send, so a restart inside one must replay
    it from its beginning to know what was sent.
    """

    src: str
    shard: str
    seq: int
    tick: int = 0
    server: str | None = None
    offset: int = -1
    epoch: int = 0
    ts: int = 0
    resync_from: int | None = None
    resync_offset: int | None = None
    gen: int = 0

    @property
    def key(self) -> str:
        return doc_key(self.src, self.shard)

    def resume_seq(self) -> int:
        """The first seq a restarted applier must apply."""
        return self.resync_from if self.resync_from is not None else self.seq + 1

    def resume_offset(self) -> int:
        """The Kafka offset hint to seek to (the message at ``resume_seq``, if offsets still match)."""
        return self.resync_offset if self.resync_offset is not None else self.offset + 1


@dataclass(frozen=True)
class AppliedStructure:
    epoch: int
    snapshot: dict[str, Any]


def doc_key(src: str, shard: str) -> str:
    return f"{src}__{shard}"


_POSITION_FIELDS = {f.name for f in fields(Position)}


class PositionStore:
    """Read and write positions of the streams from one source DC, through a coordinator."""

    def __init__(self, http: ArangoHttp, src: str) -> None:
        self._http = http
        self.src = src

    async def ensure(self) -> None:
        """Create the collection if it is missing (idempotent)."""
        try:
            await self._http.request("POST", "/_api/collection", db=SYSTEM_DB,
                                     json={"name": COLLECTION, "isSystem": True, "waitForSync": True})
        except ArangoError as exc:
            if exc.error_num != errno.ARANGO_DUPLICATE_NAME:
                raise

    async def load(self) -> dict[str, Position]:
        """Every stored shard position of this source, by shard id."""
        out: dict[str, Position] = {}
        try:
            async for doc in query(self._http, "FOR d IN @@c FILTER d.src == @src AND d.shard != null RETURN d",
                                   db=SYSTEM_DB, bind_vars={"@c": COLLECTION, "src": self.src}):
                pos = Position(**{k: v for k, v in doc.items() if k in _POSITION_FIELDS})
                pos = replace(pos, tick=int(pos.tick))   # stored as a string; older documents too
                out[pos.shard] = pos
        except ArangoError as exc:
            if exc.error_num == errno.ARANGO_DATA_SOURCE_NOT_FOUND:
                return {}   # no destination worker has run here yet
            raise
        return out

    async def save(self, positions: Iterable[Position]) -> None:
        """Write positions (replace-insert, so a repeated write is harmless)."""
        # The tick is stored as a string, as ArangoDB writes ticks and as earlier versions stored it.
        docs = [{"_key": p.key, **asdict(p), "tick": str(p.tick)} for p in positions]
        if docs:
            await self._write(docs)

    async def load_structure(self) -> AppliedStructure | None:
        try:
            resp = await self._http.request("GET", f"/_api/document/{COLLECTION}/{doc_key(self.src, 'structure')}",
                                            db=SYSTEM_DB)
        except ArangoError as exc:
            if exc.error_num in (errno.ARANGO_DOCUMENT_NOT_FOUND, errno.ARANGO_DATA_SOURCE_NOT_FOUND):
                return None
            raise
        doc = resp.json()
        return AppliedStructure(epoch=int(doc["epoch"]), snapshot=doc.get("snapshot") or {})

    async def save_structure(self, applied: AppliedStructure) -> None:
        await self._write([{"_key": doc_key(self.src, "structure"), "src": self.src,
                            "epoch": applied.epoch, "snapshot": applied.snapshot}])

    async def _write(self, docs: list[dict[str, Any]]) -> None:
        resp = await self._http.request("POST", f"/_api/document/{COLLECTION}", db=SYSTEM_DB,
                                        params={"overwriteMode": "replace"}, json=docs)
        check_items(resp, f"storing positions in {SYSTEM_DB}/{COLLECTION}")
