"""WAL markers -> envelopes: grouping a server's markers into atomic units, and translating them.

A server's WAL stream (``/_api/wal/tail``) interleaves nothing: a write batch is contiguous
(spec section 0 item 8). ``UnitAssembler`` turns the marker stream into *units*, each one
write batch: a single document operation (``tid`` "0"), a whole transaction (2200 ... 2201,
possibly split over several tail responses), or one DDL marker. A unit is what dc2dc makes
atomic per shard: all of a unit's messages for one shard go into the same Kafka transaction,
so "the last committed message of shard X has tick T" means every marker of X up to tick T is
in the topic — the basis of resuming without duplicates (begin/commit markers share ticks with
operations, so a bare tick is not enough to know what of a batch was sent).

``shard_envelopes`` translates the part of a unit that belongs to one shard: a transaction
touching a shard with two or more operations is wrapped in ``txn_begin``/``txn_commit`` with
the transaction's id; a single operation needs no wrapper. The WAL has no commit time, so
``ts`` is the time of translation (the lag measured from it includes the tail delay only).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from dc2dc.topics.envelope import Envelope, Op
from dc2dc.topics.errors import Dc2dcError

DATABASE_CREATE = 1100
DATABASE_DROP = 1101
COLLECTION_CREATE = 2000
COLLECTION_DROP = 2001
COLLECTION_RENAME = 2002
COLLECTION_CHANGE = 2003
COLLECTION_TRUNCATE = 2004
INDEX_CREATE = 2100
INDEX_DROP = 2101
VIEW_CREATE = 2110
VIEW_DROP = 2111
VIEW_CHANGE = 2112
TRANSACTION_BEGIN = 2200
TRANSACTION_COMMIT = 2201
TRANSACTION_ABORT = 2202
DOCUMENT_INSERT = 2300
DOCUMENT_REMOVE = 2302

DATA_TYPES = frozenset({DOCUMENT_INSERT, DOCUMENT_REMOVE, COLLECTION_TRUNCATE})
STRUCTURE_TYPES = frozenset({DATABASE_CREATE, DATABASE_DROP, COLLECTION_CREATE, COLLECTION_DROP,
                             COLLECTION_RENAME, COLLECTION_CHANGE, INDEX_CREATE, INDEX_DROP,
                             VIEW_CREATE, VIEW_DROP, VIEW_CHANGE})


class MarkerError(Dc2dcError):
    """A WAL marker that breaks the stream's rules (dc2dc stops rather than guess)."""


@dataclass
class WalUnit:
    """One write batch of one server: data markers of a transaction, a single op, or a DDL marker."""

    begin_tick: int
    tick: int                               # tick of the unit's last marker (commit tick)
    tid: str | None = None                  # transaction id when the batch was a 2200...2201 group
    markers: list[dict[str, Any]] = field(default_factory=list)   # data markers, WAL order
    structure: dict[str, Any] | None = None                      # a DDL marker


def tick_of(marker: dict[str, Any]) -> int:
    return int(marker["tick"])


class UnitAssembler:
    """Feeds markers in WAL order, returns completed units; keeps an open transaction across calls."""

    def __init__(self) -> None:
        self._open: WalUnit | None = None

    @property
    def open_begin_tick(self) -> int | None:
        """Begin tick of a transaction whose commit marker has not arrived yet."""
        return self._open.begin_tick if self._open is not None else None

    def reset(self) -> None:
        """Forget a half-received transaction (the tail restarts before its begin)."""
        self._open = None

    def safe_tick(self, position: int) -> int:
        """Largest tick up to which every marker is in a completed unit (resume point)."""
        begin = self.open_begin_tick
        return position if begin is None else min(position, begin - 1)

    def feed(self, markers: list[dict[str, Any]]) -> list[WalUnit]:
        units: list[WalUnit] = []
        for marker in markers:
            kind = marker.get("type")
            tick = tick_of(marker)
            tid = str(marker.get("tid") or "0")
            if kind == TRANSACTION_BEGIN:
                if self._open is not None:
                    raise MarkerError(f"transaction {tid} begins at tick {tick} inside open transaction {self._open.tid}")
                self._open = WalUnit(begin_tick=tick, tick=tick, tid=tid)
            elif kind == TRANSACTION_COMMIT:
                if self._open is None or self._open.tid != tid:
                    raise MarkerError(f"commit of transaction {tid} at tick {tick} without its begin")
                self._open.tick = tick
                units.append(self._open)
                self._open = None
            elif kind == TRANSACTION_ABORT:
                # Not written by RocksDB (only committed data is logged); honour it if a server does.
                if self._open is not None and self._open.tid == tid:
                    self._open = None
            elif kind in DATA_TYPES:
                # A write batch is contiguous, so inside an open transaction every data marker is
                # part of it (a truncate marker may carry no tid of its own).
                if self._open is not None:
                    if tid not in ("0", self._open.tid):
                        raise MarkerError(f"operation of transaction {tid} at tick {tick} inside transaction {self._open.tid}")
                    self._open.markers.append(marker)
                    self._open.tick = tick
                elif tid != "0":
                    raise MarkerError(f"operation of transaction {tid} at tick {tick} outside that transaction")
                else:
                    units.append(WalUnit(begin_tick=tick, tick=tick, markers=[marker]))
            elif kind in STRUCTURE_TYPES:
                units.append(WalUnit(begin_tick=tick, tick=tick, structure=marker))
            else:
                raise MarkerError(f"unknown WAL marker type {kind!r} at tick {tick}")
        return units


@dataclass(frozen=True)
class ShardContext:
    """What every message of one shard repeats."""

    src: str
    db: str
    coll: str
    shard: str
    cid: str
    server: str
    epoch: int


def data_envelope(marker: dict[str, Any], ctx: ShardContext, *, tid: str | None, ts: int) -> Envelope:
    """One data marker (2300 / 2302 / 2004) as an envelope (``seq`` is set by the producer)."""
    kind = marker["type"]
    base = dict(src=ctx.src, seq=0, epoch=ctx.epoch, tick=str(marker["tick"]), server=ctx.server, ts=ts,
                db=ctx.db, coll=ctx.coll, shard=ctx.shard, cid=ctx.cid, tid=tid)
    if kind == COLLECTION_TRUNCATE:
        return Envelope(op=Op.TRUNCATE, **base)
    data = marker.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("_key"), str):
        raise MarkerError(f"marker type {kind} at tick {marker['tick']} has no document key")
    if kind == DOCUMENT_INSERT:
        # _id names the collection (or shard) on the source; the destination rebuilds it.
        doc = {k: v for k, v in data.items() if k != "_id"}
        return Envelope(op=Op.INSERT, key=data["_key"], rev=data.get("_rev"), doc=doc, **base)
    return Envelope(op=Op.REMOVE, key=data["_key"], rev=data.get("_rev"), **base)


def shard_envelopes(unit: WalUnit, markers: list[dict[str, Any]], ctx: ShardContext,
                    *, ts: int | None = None) -> list[Envelope]:
    """The messages of ``unit``'s ``markers`` that belong to the shard of ``ctx``, in WAL order."""
    now = int(time.time() * 1000) if ts is None else ts
    wrap = unit.tid is not None and len(markers) > 1
    tid = unit.tid if wrap else None
    envs = [data_envelope(m, ctx, tid=tid, ts=now) for m in markers]
    if wrap:
        common = dict(src=ctx.src, seq=0, epoch=ctx.epoch, server=ctx.server, ts=now, db=ctx.db,
                      coll=ctx.coll, shard=ctx.shard, cid=ctx.cid, tid=tid)
        envs.insert(0, Envelope(op=Op.TXN_BEGIN, tick=str(unit.begin_tick), **common))
        envs.append(Envelope(op=Op.TXN_COMMIT, tick=str(unit.tick), **common))
    return envs


def heartbeat_envelope(ctx: ShardContext, tick: int) -> Envelope:
    """A heartbeat: no data, "every change of this shard up to ``tick`` has been sent"."""
    return Envelope(op=Op.HEARTBEAT, src=ctx.src, seq=0, epoch=ctx.epoch, tick=str(tick), server=ctx.server,
                    ts=int(time.time() * 1000), db=ctx.db, coll=ctx.coll, shard=ctx.shard, cid=ctx.cid)
