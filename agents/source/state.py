"""What the source worker knows: one ``ShardState`` per replicated shard, and what its parts share.

A shard's phase (``pipeline.source.shard_phase``) says what its units go through: dropped while it
waits for a snapshot slot, held while its snapshot is taken, sent while live. The other fields
belong to one phase each and are reset on the way in, so no phase sees another's leftovers.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from dc2dc.agents.source.settings import SourceSettings
from dc2dc.pipeline.source.cluster import SourceCluster
from dc2dc.pipeline.source.leader_gap import LeaderGap
from dc2dc.pipeline.source.shard_phase import Phase, SyncReason, moved
from dc2dc.pipeline.source.shard_producer import ShardProducer
from dc2dc.pipeline.source.snapshot_sync import SyncProgress
from dc2dc.pipeline.source.structure_read import ShardInfo
from dc2dc.pipeline.source.wal_markers import ShardContext, WalUnit

Held = list[tuple[WalUnit, list[dict[str, Any]]]]


@dataclass
class ShardState:
    """What the worker knows and holds for one replicated shard."""

    info: ShardInfo
    producer: ShardProducer
    epoch: int = 0
    generation: int = 0              # a new one on every resync: stale batches and tasks see it moved
    phase: Phase = Phase.NEW
    server: str | None = None        # LIVE: server whose ticks the stream follows
    tick: int = 0                    # every change of the shard up to this tick is in the topic
    sync_server: str | None = None   # WAITING, DUMPING, FAILED: server the resync reads from
    sync: SyncProgress | None = None
    sync_task: asyncio.Task[None] | None = None
    t0: int | None = None            # DUMPING: the snapshot's tick, once known
    held: Held = field(default_factory=list)  # DUMPING: units newer than the snapshot
    gap: LeaderGap | None = None     # LIVE, but the coordinator names no usable leader: hold units
    error: str | None = None         # FAILED: what kept failing
    last_sent: float = 0.0

    @property
    def live(self) -> bool:
        return self.phase is Phase.LIVE

    @property
    def syncing(self) -> bool:
        """A resync task runs for the current generation."""
        return self.phase in (Phase.WAITING, Phase.DUMPING)

    def _to(self, phase: Phase) -> None:
        self.phase = moved(self.phase, phase, shard=self.info.shard)

    def go_live(self, server: str, tick: int) -> None:
        self._to(Phase.LIVE)
        self.server, self.tick, self.sync_server = server, tick, None

    def begin_sync(self, server: str, reason: SyncReason) -> None:
        """A new resync from ``server``: a new generation, nothing held, nothing live."""
        self._to(Phase.WAITING)
        self.generation += 1
        self.server, self.t0, self.held, self.gap, self.error = None, None, [], None, None
        self.sync_server = server
        self.sync = SyncProgress(shard=self.info.shard, reason=reason)

    def dumping(self) -> None:
        """The snapshot's batch is requested: from now on, units may be newer than ``T0``."""
        self._to(Phase.DUMPING)

    def retry_sync(self) -> None:
        """An attempt failed: back to waiting, with nothing held."""
        self._to(Phase.WAITING)
        self.held, self.t0 = [], None
        if self.sync is not None:
            self.sync.docs = self.sync.bytes = 0
            self.sync.state = "starting"

    def fail(self, error: BaseException) -> None:
        self._to(Phase.FAILED)
        self.error = str(error)
        if self.sync is not None:
            self.sync.state, self.sync.finished = "failed", time.time()

    def remove(self) -> None:
        self._to(Phase.REMOVED)
        self.generation += 1

    def status(self) -> dict[str, Any]:
        return {"db": self.info.db, "coll": self.info.coll, "seq": self.producer.position.seq,
                "tick": self.tick, "server": self.server, "phase": str(self.phase), "live": self.live,
                "error": self.error, "sync": self.sync.as_dict() if self.sync else None}


@dataclass
class SourceState:
    """What the structure loop, the tails and the resyncs of one source worker share."""

    settings: SourceSettings
    cluster: SourceCluster
    shards: dict[str, ShardState] = field(default_factory=dict)
    leaders: dict[str, str] = field(default_factory=dict)
    ignored: set[str] = field(default_factory=set)
    orphans: set[str] = field(default_factory=set)
    tail_positions: dict[str, int] = field(default_factory=dict)  # per server: what is sent
    tail_read: dict[str, int] = field(default_factory=dict)       # per server: what is read
    tail_floor: dict[str, int] = field(default_factory=dict)      # per server: where its tail started
    stats: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    stopped: asyncio.Event = field(default_factory=asyncio.Event)

    def usable_leader(self, shard: str) -> str | None:
        """The shard's leader, unless the coordinator names none or one it lists nowhere (a failover)."""
        leader = self.leaders.get(shard)
        return leader if leader is not None and self.cluster.known(leader) else None

    def context(self, st: ShardState, server: str) -> ShardContext:
        i = st.info
        return ShardContext(src=self.settings.src, db=i.db, coll=i.coll, shard=i.shard, cid=i.cid,
                            server=server, epoch=st.epoch)
