"""The one message schema of dc2dc: envelopes on shard, control and feedback topics.

Values are plain JSON (orjson) so ``kafka-console-consumer`` shows them as they are. The
fields below are the contract between source and destination workers (``ARCHITECTURE.md``, "Messages");
add fields only with a default, and bump ``SCHEMA_VERSION`` when a field changes meaning.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

SCHEMA_VERSION = 1


class Op(str, enum.Enum):
    # shard topics: data
    INSERT = "insert"          # WAL 2300 carries the full new document for insert/update/replace alike
    REPLACE = "replace"
    REMOVE = "remove"
    TRUNCATE = "truncate"
    TXN_BEGIN = "txn_begin"
    TXN_COMMIT = "txn_commit"
    TXN_ABORT = "txn_abort"
    # shard topics: (re)synchronisation, ``ARCHITECTURE.md``, "Sync"
    RESYNC_BEGIN = "resync_begin"
    RESYNC_DOC = "resync_doc"
    RESYNC_REMOVE = "resync_remove"
    RESYNC_END = "resync_end"
    HEARTBEAT = "heartbeat"
    # control topic
    STRUCTURE = "structure"
    # feedback topic
    APPLIED = "applied"
    RESYNC_REQUEST = "resync_request"
    BARRIER_ACK = "barrier_ack"


@dataclass
class Envelope:
    """One message.

    ``seq`` is per shard topic, contiguous from 1, so a gap is detectable; on the control topic
    it equals ``epoch``. ``tick`` is the source server's tick as a string (ticks are 64-bit and
    per server, never compared across servers). ``epoch`` on a data message is the structure
    epoch it needs applied first. ``ts`` is the source commit time in milliseconds (for lag).
    ``gen`` is the generation of the record's stream (``topics.generation``): a shard topic found
    empty by a restarted source starts again at seq 1 in a new, larger generation, so a stream
    is ordered by ``(gen, seq)``; 0 on records from before generations existed.
    A document too large for one Kafka message is sent as ``chunk = [index, count]`` pieces that
    share one ``seq``; ``part`` holds a slice of the document's JSON text, and ``part_of`` names
    the field the joined parts rebuild (``"doc"``, or ``"body"`` for a large structure snapshot).
    """

    op: Op
    src: str
    seq: int
    epoch: int = 0
    gen: int = 0
    tick: str = "0"
    server: str | None = None        # source server whose WAL ``tick`` belongs to
    ts: int = 0
    db: str | None = None
    coll: str | None = None
    shard: str | None = None
    key: str | None = None
    rev: str | None = None
    tid: str | None = None
    cid: str | None = None           # source collection id: a dropped and re-created name differs
    doc: dict[str, Any] | None = None
    body: dict[str, Any] | None = None   # structure snapshot, feedback payloads, resync metadata
    chunk: tuple[int, int] | None = None
    part: str | None = None
    part_of: str | None = None       # "doc" | "body", set on chunks only
    v: int = SCHEMA_VERSION
    extra: dict[str, Any] = field(default_factory=dict)
