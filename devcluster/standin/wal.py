"""One server's write-ahead log, with ArangoDB's tick semantics.

Ticks are this server's own sequence numbers: they increase, share values inside one write batch
(a transaction's begin marker carries its first operation's tick, the commit marker its last
operation's tick) and have gaps (every document operation consumes extra ticks for its index
entries, every batch one more for its log-data entry), so clients can never assume `tick+1`.
Each marker is serialised once, at write time, so tailing is a join of prepared lines.

Tailing follows RocksDBWalAccess (3.11/3.12): the scan runs over whole write batches from the one
holding `since` (`lastScanned` when the client sent one below `from`, else `from`); a batch that
began before `since` is skipped, and `lastscanned` is the start of the last batch looked at, or its
end once it was read through — so an idle tail answers `lastscanned` *below* `from`. Markers of a
collection, view or database that no longer exists are hidden (its create marker too); only the drop
marker is shown. Dropping a collection or database is followed by range deletions of its data:
ticks that carry no marker.
"""
from __future__ import annotations

import time
from bisect import bisect_right
from dataclasses import dataclass, field

import orjson

from .ids import Counter

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
DOCUMENT_INSERT = 2300
DOCUMENT_REMOVE = 2302
RANGE_DELETE = 0  # stand-in only: a tick without a marker (RocksDB's DeleteRange of dropped data)

_DOCUMENT_TYPES = (DOCUMENT_INSERT, DOCUMENT_REMOVE)
# Shown although their collection (or database) is gone: they are what tells a client it is gone.
_ALWAYS_SHOWN = (COLLECTION_DROP, DATABASE_DROP, TRANSACTION_BEGIN, TRANSACTION_COMMIT, VIEW_DROP)
# A drop deletes the documents and the index entries of what it dropped, one range each.
_RANGE_DELETES_PER_DROP = 3


@dataclass(slots=True)
class Op:
    """One operation of a write batch, before it gets this server's tick."""

    type: int
    db: str
    cuid: str | None = None
    name: str = ""          # collection or shard name, for the `collection`/includeSystem filters
    data: bytes | None = None  # serialised JSON of the marker's `data`


@dataclass(slots=True)
class Entry:
    tick: int
    batch: int
    start: int  # the write batch's first tick (RocksDB's batch sequence)
    type: int
    db: str
    cuid: str | None
    name: str
    line: bytes
    time: float


@dataclass
class TailResult:
    lines: list[bytes]
    last_included: int
    last_scanned: int
    last_tick: int
    from_present: bool


@dataclass
class Client:
    syncer_id: str
    server_id: str
    client_info: str
    last_served_tick: int
    time: float


@dataclass(frozen=True)
class Live:
    """What still exists on the tailed server: markers of anything else are hidden."""

    cuids: frozenset[str]   # collections (shards) and views
    databases: frozenset[str]


@dataclass
class Wal:
    """The log of one DBServer (or single server)."""

    start_tick: int
    tid_counter: Counter
    entries: list[Entry] = field(default_factory=list)
    ticks: list[int] = field(default_factory=list)
    last_tick: int = 0
    tick_min: int = 0  # oldest tick still present; from < tick_min means history was purged
    batches: int = 0
    retain_entries: int | None = None
    retain_seconds: float | None = None
    clients: dict[str, Client] = field(default_factory=dict)
    # Ticks one document operation consumes (document, primary index, ...): 2 on 3.12, 4 on 3.11,
    # as the recorded examples show (an idle tail's lastscanned is from-1 resp. from-3).
    document_ticks: int = 2

    def __post_init__(self) -> None:
        if not self.last_tick:
            self.last_tick = self.start_tick
        if not self.tick_min:
            self.tick_min = self.start_tick

    def write_batch(self, ops: list[Op], *, single_op_tid: bool = True) -> None:
        """Log one atomic write batch; more than one document op becomes a 2200…2201 transaction."""
        if not ops:
            return
        now = time.time()
        self._begin_batch()
        start = self.last_tick + 1
        doc_ops = sum(1 for op in ops if op.type in _DOCUMENT_TYPES or op.type == COLLECTION_TRUNCATE)
        tid = "0"
        if doc_ops > 1 or not single_op_tid:
            tid = str(self.tid_counter.next(4))
        first = True
        for i, op in enumerate(ops):
            self.last_tick += self.document_ticks if op.type in _DOCUMENT_TYPES else 1
            if first and tid != "0":
                self._append(start, TRANSACTION_BEGIN, op.db, None, op.name, None, tid, now)
            first = False
            self._append(start, op.type, op.db, op.cuid, op.name, op.data,
                         tid if op.type in _DOCUMENT_TYPES else None, now)
            if i == len(ops) - 1 and tid != "0":
                self._append(start, TRANSACTION_COMMIT, op.db, None, op.name, None, tid, now)
        drops = [op for op in ops if op.type in (COLLECTION_DROP, DATABASE_DROP)]
        for op in drops:
            self._begin_batch()
            start = self.last_tick + 1
            for _ in range(_RANGE_DELETES_PER_DROP):
                self.last_tick += 1
                self._append(start, RANGE_DELETE, op.db, op.cuid, op.name, None, None, now)
        self._apply_retention(now)

    def _begin_batch(self) -> None:
        self.batches += 1
        self.last_tick += 1  # the batch's log-data entry

    def _append(self, start: int, type_: int, db: str, cuid: str | None, name: str, data: bytes | None,
                tid: str | None, now: float) -> None:
        tick = self.last_tick
        line = b""
        if type_ != RANGE_DELETE:
            parts = [b'{"tick":"', str(tick).encode(), b'","type":', str(type_).encode(),
                     b',"db":', orjson.dumps(db)]
            if cuid is not None:
                parts += [b',"cuid":', orjson.dumps(cuid)]
            if tid is not None:
                parts += [b',"tid":"', tid.encode(), b'"']
            if data is not None:
                parts += [b',"data":', data]
            parts.append(b"}\n")
            line = b"".join(parts)
        self.entries.append(Entry(tick, self.batches, start, type_, db, cuid, name, line, now))
        self.ticks.append(tick)

    # -- retention -------------------------------------------------------------------------
    def set_retention(self, entries: int | None, seconds: float | None) -> None:
        self.retain_entries = entries
        self.retain_seconds = seconds
        self._apply_retention(time.time())

    def purge(self, keep: int) -> None:
        """Drop all but the newest `keep` entries (whole batches), as WAL file pruning does."""
        self._drop_prefix(max(0, len(self.entries) - keep))

    def _apply_retention(self, now: float) -> None:
        cut = 0
        if self.retain_entries is not None and len(self.entries) > self.retain_entries:
            cut = len(self.entries) - self.retain_entries
        if self.retain_seconds is not None:
            limit = now - self.retain_seconds
            while cut < len(self.entries) and self.entries[cut].time < limit:
                cut += 1
        if cut:
            self._drop_prefix(cut)

    def _drop_prefix(self, cut: int) -> None:
        if cut <= 0:
            return
        # never split a write batch: files hold whole batches
        while cut < len(self.entries) and self.entries[cut].batch == self.entries[cut - 1].batch:
            cut += 1
        del self.entries[:cut]
        del self.ticks[:cut]
        self.tick_min = self.entries[0].tick if self.entries else self.last_tick

    # -- reading ---------------------------------------------------------------------------
    def tail(self, from_tick: int, to_tick: int | None, chunk_size: int, last_scanned: int,
             db: str | None, cuid: str | None, include_system: bool, live: Live) -> TailResult:
        """Markers with from < tick <= to; `db=None` means global (see the module docstring).

        Stops after `chunk_size` bytes at a write-batch boundary, or (only when the client sent
        lastScanned) at any tick change inside a batch, as RocksDBWalAccess does; `lastscanned`
        is then that batch's start, so the next call scans it again from its beginning."""
        lines: list[bytes] = []
        size = 0
        last_included = 0
        since = last_scanned if 0 < last_scanned < from_tick else from_tick
        scanned = since
        upper = to_tick if to_tick is not None else self.last_tick
        split_inside = last_scanned > 0
        entries = self.entries
        i = self._batch_at(since)
        while i < len(entries):
            start = entries[i].start
            if start > upper:
                break
            scanned = start
            end = i
            while end < len(entries) and entries[end].batch == entries[i].batch:
                end += 1
            if start < since:
                i = end
                continue
            split = False
            prev: Entry | None = None
            for e in entries[i:end]:
                if e.tick > upper or (split_inside and size >= chunk_size and prev is not None
                                      and e.tick != prev.tick):
                    split = True
                    break
                prev = e
                if e.tick > from_tick and self._shown(e, db, cuid, include_system, live):
                    lines.append(e.line)
                    size += len(e.line)
                    last_included = e.tick
            if split or size >= chunk_size:
                break
            scanned = entries[end - 1].tick
            i = end
        return TailResult(lines, last_included, scanned, self.last_tick,
                          from_tick >= self.tick_min)

    def _batch_at(self, tick: int) -> int:
        """Index of the first entry of the batch holding `tick`, else of the first batch after it."""
        i = bisect_right(self.ticks, tick)
        if i < len(self.entries) and self.entries[i].start <= tick:
            while i > 0 and self.entries[i - 1].batch == self.entries[i].batch:
                i -= 1
        elif i > 0 and self.entries[i - 1].tick == tick:
            i -= 1
            while i > 0 and self.entries[i - 1].batch == self.entries[i].batch:
                i -= 1
        return i

    @staticmethod
    def _shown(e: Entry, db: str | None, cuid: str | None, include_system: bool, live: Live) -> bool:
        if e.type == RANGE_DELETE:
            return False
        if db is not None and e.db != db:
            return False
        if cuid is not None and e.cuid != cuid and e.type not in (TRANSACTION_BEGIN, TRANSACTION_COMMIT):
            return False
        if not include_system and e.name.startswith("_"):
            return False
        if e.type in _ALWAYS_SHOWN:
            return True
        if e.type == DATABASE_CREATE:
            return e.db in live.databases
        # everything else names a collection (or view) that must still exist to be resolved
        return e.cuid in live.cuids and e.db in live.databases

    def register_client(self, syncer_id: str, server_id: str, client_info: str, tick: int) -> None:
        key = syncer_id if syncer_id not in ("", "0") else server_id
        if key in ("", "0"):
            return
        self.clients[key] = Client(syncer_id or "", server_id or "", client_info, tick, time.time())

    # -- persistence -----------------------------------------------------------------------
    def to_state(self) -> dict:
        return {"start_tick": self.start_tick, "last_tick": self.last_tick, "tick_min": self.tick_min,
                "batches": self.batches, "tid": self.tid_counter.last,
                "retain_entries": self.retain_entries, "retain_seconds": self.retain_seconds}

    @classmethod
    def from_state(cls, state: dict, entries: list[Entry]) -> "Wal":
        wal = cls(start_tick=state["start_tick"], tid_counter=Counter(state["tid"]),
                  last_tick=state["last_tick"], tick_min=state["tick_min"], batches=state["batches"],
                  retain_entries=state["retain_entries"], retain_seconds=state["retain_seconds"])
        wal.entries = entries
        wal.ticks = [e.tick for e in entries]
        return wal
