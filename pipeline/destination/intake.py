"""What the destination does with each record of one shard stream, in order (pure logic, no I/O).

The worker reads a shard's partition and hands every decoded envelope to the shard's
``ShardIntake``, which decides, and tells the worker what to do about it (``Intaken``):

* a stream is ordered by ``(gen, seq)`` (``topics.generation``): a record of an older
  generation than the intake's is dropped (B's mirror keeps them after A's topic was
  re-created), and one of a newer generation starts the stream again at its seq 1, whose full
  resync replaces what B holds;
* ``seq <= last_seen`` is a duplicate (MirrorMaker 2 delivers at least once): dropped;
* a seq past ``last_seen + 1`` as the first record after a seek means the offset hint was wrong
  (topic re-created, offsets reset): read the partition from its beginning, once. Anywhere else
  it is a gap: the shard waits for a resync, dropping what comes until a ``resync_begin``;
* chunks are reassembled (``topics.chunking``); only whole envelopes are queued for apply.

A record that fails to verify or decode never reaches ``accept`` (the worker sets it aside and
calls ``set_aside``); one that fails to reassemble makes ``accept`` raise ``ChunkError``.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass, field

from dc2dc.pipeline.destination.apply_batch import Received
from dc2dc.pipeline.destination.positions import Position
from dc2dc.topics.chunking import Reassembler
from dc2dc.topics.envelope import Envelope, Op

log = logging.getLogger(__name__)


class Verdict(enum.Enum):
    QUEUED = "queued"                   # whole and next in order: queued for apply
    INCOMPLETE = "incomplete"           # a chunk: its document is not whole yet (or a redelivered tail)
    DUPLICATE = "duplicate"             # seq <= last seen
    SUPERSEDED = "superseded"           # of an older generation of the stream
    SKIPPED_IN_GAP = "skipped_in_gap"   # after a gap, before the resync began
    REWIND = "rewind"                   # seek to the partition's start; the rest of this fetch is stale


@dataclass(frozen=True)
class Intaken:
    verdict: Verdict
    gap: str | None = None   # this record opened a gap: why (the shard needs a resync)
    resumed: bool = False    # a resync began: the gap is closed, the shard applies again


@dataclass
class ShardIntake:
    """The read side of one assigned shard stream: what was accepted and what waits for apply."""

    src: str
    shard: str
    last_seen: int                      # highest seq accepted into the queue
    gen: int                            # stream generation of ``last_seen``
    reassembler: Reassembler
    queue: list[Received] = field(default_factory=list)
    fresh_seek: bool = True             # nothing read since the last seek
    rewound: bool = False
    gap: bool = False

    @classmethod
    def resuming(cls, src: str, shard: str, position: Position | None, reassembler: Reassembler) -> ShardIntake:
        """The intake of a shard whose stored position is ``position`` (None: nothing applied yet)."""
        last_seen = position.resume_seq() - 1 if position is not None else 0
        reassembler.reset(src, shard, last_seen)
        return cls(src, shard, last_seen, position.gen if position is not None else 0, reassembler)

    def take(self) -> list[Received]:
        """Everything queued so far, which leaves the queue."""
        queued, self.queue = self.queue, []
        return queued

    def set_aside(self) -> None:
        """A record was read but set aside (``pipeline.quarantine``): it was still the one after a seek."""
        self.fresh_seek = False

    def accept(self, env: Envelope, offset: int) -> Intaken:
        first, self.fresh_seek = self.fresh_seek, False
        if env.gen < self.gen:
            return Intaken(Verdict.SUPERSEDED)
        if env.gen > self.gen:
            self._new_generation(env.gen)
        if env.seq <= self.last_seen:
            return Intaken(Verdict.DUPLICATE)
        lost = self.reassembler.abandon_before(env)
        if lost is not None:
            log.error("shard %s: seq %d lost chunks (seq %d follows it)", self.shard, lost, env.seq)
        gap: str | None = None
        if env.seq > self.last_seen + 1 and not self.gap:
            if first and not self.rewound:
                log.warning("shard %s: seq %d at offset %d after seek, want %d; reading from the beginning",
                            self.shard, env.seq, offset, self.last_seen + 1)
                self.rewound = self.fresh_seek = True
                return Intaken(Verdict.REWIND)
            gap = f"seq gap: expected {self.last_seen + 1}, got {env.seq}"
            self.gap = True
        resumed = False
        if self.gap:
            if env.op is not Op.RESYNC_BEGIN or env.chunk is not None:
                return Intaken(Verdict.SKIPPED_IN_GAP, gap)
            log.warning("shard %s: resync begins at seq %d, applying again", self.shard, env.seq)
            self.gap, resumed = False, True
            self.reassembler.reset(self.src, self.shard, env.seq - 1)
        whole = self.reassembler.feed(env)
        if whole is None:
            return Intaken(Verdict.INCOMPLETE, gap, resumed)
        self.last_seen = whole.seq
        self.queue.append(Received(whole, offset))
        return Intaken(Verdict.QUEUED, gap, resumed)

    def _new_generation(self, gen: int) -> None:
        # The source found the shard's topic empty (retention ran out while it was down, or the
        # topic was re-created) and started again at seq 1 with a full resync: that resync
        # replaces what B holds, so the stream is followed from its seq 1 like a first one.
        log.warning("shard %s: stream generation %d follows %d after seq %d; applying it from its start",
                    self.shard, gen, self.gen, self.last_seen)
        self.gen, self.last_seen = gen, 0
        self.reassembler.reset(self.src, self.shard, 0)
