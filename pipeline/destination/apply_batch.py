"""Turn an ordered run of one shard's envelopes into destination batches (pure logic, no I/O).

ArangoDB runs the elements of one array request in parallel, in no defined order (spec
arangodb-api.md 0.14), so a batch must never hold two operations on one key. Every data op of
a shard stream is *absolute* — an insert carries the whole document, a remove deletes, a
truncate empties the shard — so the last op on a key decides its state and a batch can
*collapse* earlier ops on a key instead of being cut there. That keeps batches large when one
key is hot (1,000 updates of one key become one write) and makes any replay converge.

A step is what the executor applies in one go, followed by storing its position:

* ``truncate`` — empty the shard first (ops before a truncate in the same step are void);
* ``removes`` / ``upserts`` — disjoint key sets, so their order does not matter;
* ``tid`` — the step is one source transaction (txn_begin..txn_commit), applied in one
  destination stream transaction so its changes become visible together. It is never cut by
  size: atomicity wins, the executor splits requests inside the transaction instead;
* ``resync`` — ``"begin"`` or ``"end"`` marks a (re)sync boundary; these always stand alone so
  the executor can start tracking the keys the resync sends and, at the end, delete what the
  resync did not send (``body["full"]``).

``plan`` consumes a prefix of its input and returns the rest: an open transaction group whose
``txn_commit`` has not arrived yet must wait for more messages. A ``resync_begin`` inside an
open group supersedes it (only a lost end — a gap — can put it there).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import orjson

from dc2dc.pipeline.errors import Dc2dcError
from dc2dc.topics.envelope import Envelope, Op

DEFAULT_MAX_OPS = 1000
DEFAULT_MAX_BYTES = 8 * 1024 * 1024

_UPSERT_OPS = frozenset({Op.INSERT, Op.REPLACE, Op.RESYNC_DOC})
_REMOVE_OPS = frozenset({Op.REMOVE, Op.RESYNC_REMOVE})
# A tid of "0" is ArangoDB's marker for a single-operation write outside any transaction.
_NO_TID = (None, "", "0")


class StreamProtocolError(Dc2dcError):
    """A shard stream breaks the message contract (e.g. interleaved transactions): stop the shard."""


@dataclass(frozen=True)
class Received:
    """An envelope as read from Kafka, with the offset it came from (the resume hint)."""

    env: Envelope
    offset: int


@dataclass
class Step:
    """One unit of apply. ``last`` is the newest message it covers: the position after it."""

    last: Received
    first_seq: int
    upserts: dict[str, dict[str, Any]] = field(default_factory=dict)
    removes: dict[str, None] = field(default_factory=dict)   # a dict keeps arrival order
    truncate: bool = False
    tid: str | None = None
    resync: str | None = None            # None | "begin" | "end"
    body: dict[str, Any] | None = None   # the resync_begin / resync_end body
    messages: int = 0
    size: int = 0

    @property
    def ops(self) -> int:
        return len(self.upserts) + len(self.removes)

    def keys(self) -> set[str]:
        return set(self.upserts) | set(self.removes)

    def _add(self, rec: Received) -> None:
        env = rec.env
        self.last = rec
        self.messages += 1
        if env.op in _UPSERT_OPS:
            doc = env.doc
            if not isinstance(doc, dict) or not isinstance(doc.get("_key"), str):
                raise StreamProtocolError(f"{_where(env)}: {env.op.value} without a document _key")
            key = doc["_key"]
            self.removes.pop(key, None)
            self.upserts.pop(key, None)   # re-insert: the dict order follows the newest op
            self.upserts[key] = doc
            self.size += len(orjson.dumps(doc))
        elif env.op in _REMOVE_OPS:
            key = env.key if env.key is not None else (env.doc or {}).get("_key")
            if not isinstance(key, str):
                raise StreamProtocolError(f"{_where(env)}: remove without a key")
            self.upserts.pop(key, None)
            self.removes[key] = None
        elif env.op is Op.TRUNCATE:
            self.upserts.clear()
            self.removes.clear()
            self.truncate = True


def _where(env: Envelope) -> str:
    return f"shard {env.shard} seq {env.seq}"


def plan(
    records: Sequence[Received],
    *,
    max_ops: int = DEFAULT_MAX_OPS,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> tuple[list[Step], list[Received]]:
    """Split ``records`` (one shard, contiguous seqs, in order) into steps plus an unconsumed rest."""
    steps: list[Step] = []
    current: Step | None = None   # an open plain (non-transaction) step
    group: Step | None = None     # an open transaction group
    group_start = 0

    def close() -> None:
        nonlocal current
        if current is not None:
            steps.append(current)
            current = None

    for index, rec in enumerate(records):
        env = rec.env
        op = env.op
        if group is not None and op is Op.RESYNC_BEGIN:
            # The transaction's end was lost (a seq gap, then the requested resync): the resync
            # sends the shard's whole state, so the unfinished transaction is superseded.
            group = None
        if group is not None:
            if op is Op.TXN_COMMIT or op is Op.TXN_ABORT:
                _check_tid(env, group.tid)
                if op is Op.TXN_ABORT:
                    # RocksDB never logs aborted transactions; if a source sends one, its ops vanish.
                    group.upserts.clear()
                    group.removes.clear()
                    group.truncate = False
                group.last = rec
                group.messages += 1
                steps.append(group)
                group = None
            elif op is Op.TXN_BEGIN:
                raise StreamProtocolError(f"{_where(env)}: txn_begin {env.tid} inside open transaction {group.tid}")
            elif op is Op.HEARTBEAT:
                group.last = rec
                group.messages += 1
            else:
                if env.tid not in _NO_TID:
                    _check_tid(env, group.tid)
                if op not in _UPSERT_OPS and op not in _REMOVE_OPS and op is not Op.TRUNCATE:
                    raise StreamProtocolError(f"{_where(env)}: {op.value} inside transaction {group.tid}")
                group._add(rec)
            continue

        if op is Op.TXN_BEGIN:
            if env.tid in _NO_TID:
                raise StreamProtocolError(f"{_where(env)}: txn_begin without a tid")
            close()
            group = Step(last=rec, first_seq=env.seq, tid=env.tid, messages=1)
            group_start = index
        elif op is Op.RESYNC_BEGIN or op is Op.RESYNC_END:
            close()
            steps.append(Step(last=rec, first_seq=env.seq, resync="begin" if op is Op.RESYNC_BEGIN else "end",
                              body=env.body or {}, messages=1))
        elif op in _UPSERT_OPS or op in _REMOVE_OPS or op is Op.TRUNCATE or op is Op.HEARTBEAT \
                or op is Op.TXN_COMMIT or op is Op.TXN_ABORT:
            # A commit/abort without an open group: the stream was entered after its txn_begin,
            # whose ops then arrive as plain ones; the marker only advances the position.
            if current is not None and (current.ops >= max_ops or current.size >= max_bytes):
                close()
            if current is None:
                current = Step(last=rec, first_seq=env.seq)
            current._add(rec)
        else:
            raise StreamProtocolError(f"{_where(env)}: {op.value} does not belong on a shard topic")
    close()
    if group is not None:
        return steps, list(records[group_start:])
    return steps, []


def _check_tid(env: Envelope, tid: str | None) -> None:
    if env.tid != tid:
        raise StreamProtocolError(f"{_where(env)}: {env.op.value} of transaction {env.tid} inside transaction {tid}")
