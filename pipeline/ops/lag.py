"""Per-shard replication lag: the newest message of each shard topic against the applied position.

The *head* of a shard is the newest message in its topic (in whichever DC's Kafka is asked:
the source's for "what was produced", the destination's for "what MirrorMaker 2 delivered").
The applied side is the destination's stored ``Position``. Lag is counted in messages (seq)
and in source time (``ts``): heartbeats keep ``ts`` moving on idle shards, so a shard that is
applied up to its newest heartbeat is in sync even when nothing is written. Heartbeats are sent
every few seconds, so a live shard's head is usually a heartbeat or two ahead of what was applied
by the time both are read: a shard whose every *change* is applied and whose destination followed
the stream within ``FOLLOW_TOLERANCE_MS`` is in sync too; one that stopped following is behind.

A destination can never be ahead of the source. When its position is above the head, or of
another stream generation (``topics.generation``: the source found the topic empty and began
again at seq 1), the numbers are not comparable: that is an ``alarm``, never "0 behind" —
until the destination has followed the new generation, it holds the old stream's state.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition

from dc2dc.pipeline.destination.positions import Position
from dc2dc.pipeline.quarantine import RECORD_ERRORS
from dc2dc.topics import codec
from dc2dc.topics.envelope import Envelope, Op
from dc2dc.topics.names import shard_of, shard_topics_pattern

# Transaction markers take offsets too; look this many offsets back for the newest data record.
_TAIL_WINDOW = 64
# Source time a destination may trail a shard's newest heartbeat and still be following it.
FOLLOW_TOLERANCE_MS = 15_000


@dataclass(frozen=True)
class Head:
    seq: int
    tick: int
    ts: int
    gen: int = 0
    # The newest seq that may be a change (not a heartbeat); None: the newest record may be one.
    change_seq: int | None = None


@dataclass(frozen=True)
class ShardLag:
    shard: str
    head_seq: int
    applied_seq: int
    head_ts: int
    applied_ts: int
    head_gen: int = 0
    applied_gen: int = 0
    head_change_seq: int | None = None

    @property
    def alarm(self) -> str | None:
        """Why head and applied position cannot be compared, or None."""
        if self.head_gen != self.applied_gen and self.applied_seq:
            return (f"stream generation differs: source {self.head_gen}, destination {self.applied_gen} "
                    f"(the source's topic was emptied or re-created)")
        if self.applied_seq > self.head_seq:
            return f"destination at seq {self.applied_seq} is ahead of the source's newest seq {self.head_seq}"
        return None

    @property
    def behind(self) -> int:
        """Messages produced but not applied yet (the whole stream when the generations differ)."""
        if self.head_gen != self.applied_gen:
            return self.head_seq
        return max(0, self.head_seq - self.applied_seq)

    @property
    def lag_ms(self) -> int:
        """Source time between the newest message and the applied one (0 when caught up)."""
        return max(0, self.head_ts - self.applied_ts) if self.behind else 0

    @property
    def in_sync(self) -> bool:
        """Every change applied, and the destination follows (only recent heartbeats may be pending)."""
        if self.alarm is not None:
            return False
        if self.behind == 0:
            return True
        changes = self.head_seq if self.head_change_seq is None else self.head_change_seq
        return self.applied_seq >= changes and self.head_ts - self.applied_ts <= FOLLOW_TOLERANCE_MS


def shard_lags(heads: Mapping[str, Head], applied: Mapping[str, Position]) -> list[ShardLag]:
    """Lag of every shard that has a head or an applied position, sorted by shard id."""
    out = []
    for shard in sorted(set(heads) | set(applied)):
        head, pos = heads.get(shard), applied.get(shard)
        out.append(ShardLag(
            shard=shard,
            head_seq=head.seq if head else (pos.seq if pos else 0),
            applied_seq=pos.seq if pos else 0,
            head_ts=head.ts if head else (pos.ts if pos else 0),
            applied_ts=pos.ts if pos else 0,
            head_gen=head.gen if head else (pos.gen if pos else 0),
            applied_gen=pos.gen if pos else 0,
            head_change_seq=head.change_seq if head else None,
        ))
    return out


async def read_heads(bootstrap: str, src: str) -> dict[str, Head]:
    """The newest committed message of every shard topic of ``src`` in the Kafka at ``bootstrap``."""
    pattern = re.compile(shard_topics_pattern(src))
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                isolation_level="read_committed")
    await consumer.start()
    try:
        tps = [TopicPartition(t, 0) for t in sorted(await consumer.topics()) if pattern.fullmatch(t)]
        if not tps:
            return {}
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        heads: dict[str, Head] = {}
        for tp in tps:
            end = ends[tp]
            if end == 0:
                continue
            consumer.seek(tp, max(0, end - _TAIL_WINDOW))
            envs = []
            while await consumer.position(tp) < end:
                batch = await consumer.getmany(tp, timeout_ms=1000)
                if not batch.get(tp):
                    break
                for r in batch[tp]:
                    try:
                        envs.append(codec.decode(r.value, list(r.headers or ()), topic=tp.topic, offset=r.offset))
                    except RECORD_ERRORS:
                        continue   # not the stream's: destinations set it aside, so it is no head either
            head = head_of(envs)
            parsed = shard_of(tp.topic)
            if head is not None and parsed is not None:
                heads[parsed[1]] = head
        return heads
    finally:
        await consumer.stop()


def head_of(envs: list[Envelope]) -> Head | None:
    """The newest of a topic's last envelopes, and where its changes end among them."""
    if not envs:
        return None
    # The newest record can be a redelivered older one (MirrorMaker 2): take the highest.
    newest = max(envs, key=lambda e: (e.gen, e.seq))
    stream = [e for e in envs if e.gen == newest.gen]
    changes = [e.seq for e in stream if e.op is not Op.HEARTBEAT]
    # Only heartbeats in the window: the last change came before its first record.
    change_seq = max(changes) if changes else min(e.seq for e in stream) - 1
    return Head(seq=newest.seq, tick=int(newest.tick), ts=newest.ts, gen=newest.gen, change_seq=change_seq)
