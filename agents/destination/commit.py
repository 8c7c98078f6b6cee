"""The commit step of one shard stream: drain → apply → store position, in that order.

``drain`` takes what the shard's intake queued (plus what the previous drain held back), applies
every record whose structure epoch is applied — in steps from ``apply_batch.plan``, each
through the shard's ``ShardApplier`` — and only then stores the position of the last one applied.
Apply is idempotent, so a crash between the two replays safely; the position never names a
record that was not applied. A record of a shard whose collection the applied structure no
longer has is discarded with a log line and a counter (the drop voided it), and its position
is stored the same way. An open transaction (no ``txn_commit`` yet) is held for the next drain.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from dc2dc.agents.destination.config import DestinationStats
from dc2dc.pipeline.destination.apply_batch import Received, Step, plan
from dc2dc.pipeline.destination.document_apply import Target
from dc2dc.pipeline.destination.positions import Position
from dc2dc.pipeline.retry import retrying

log = logging.getLogger(__name__)


class AppliedStructureView(Protocol):
    """What a commit step needs of the applied structure (``structure.StructureFollower``)."""

    @property
    def epoch(self) -> int: ...

    def shared(self) -> AbstractAsyncContextManager[None]: ...

    async def target(self, shard: str) -> Target | None: ...

    async def wait_beyond(self, epoch: int) -> None: ...


class StepApplier(Protocol):
    """Applies planned steps to one shard (``document_apply.ShardApplier``)."""

    resync_from: int | None
    resync_offset: int | None

    async def apply(self, step: Step, target: Target) -> None: ...


class PositionSink(Protocol):
    async def save(self, positions: list[Position]) -> None: ...


class CommitStep:
    """Drains, applies and stores the position of one shard stream."""

    def __init__(self, src: str, shard: str, applier: StepApplier, store: PositionSink,
                 structure: AppliedStructureView, stats: DestinationStats, *, max_ops: int, max_bytes: int,
                 stored: Callable[[Position], None] = lambda _: None) -> None:
        self.src, self.shard = src, shard
        self.applier = applier
        self._store = store
        self._structure = structure
        self._stats = stats
        self._max_ops, self._max_bytes = max_ops, max_bytes
        self._stored = stored
        self.held: list[Received] = []   # records of an epoch not applied yet, or an open transaction

    async def drain(self, queued: list[Received]) -> bool:
        """Apply what can be applied now; False when only more records can make progress."""
        records, self.held = self.held + queued, []
        epoch = self._structure.epoch
        ready = 0
        # Before any structure is applied nothing can be located, and nothing may be discarded.
        while epoch > 0 and ready < len(records) and records[ready].env.epoch <= epoch:
            ready += 1
        now, later = records[:ready], records[ready:]
        rest: list[Received] = []
        if now:
            rest = await self._apply(now, epoch)
        self.held = rest + later
        if len(rest) < len(now):
            return True
        if later:
            log.info("shard %s waits for structure epoch %d (applied: %d)", self.shard, later[0].env.epoch, epoch)
            await self._structure.wait_beyond(epoch)
            return True
        return False

    async def _apply(self, records: list[Received], epoch: int) -> list[Received]:
        """Apply or discard ``records`` (all of applied epochs); the unapplied rest (an open transaction)."""
        async with self._structure.shared():
            target = await retrying(f"locating shard {self.shard}", lambda: self._structure.target(self.shard))
            if target is None:
                self._stats.discarded += len(records)
                log.warning("shard %s: %d message(s) up to seq %d discarded: its collection is not in "
                            "structure epoch %d (dropped)", self.shard, len(records), records[-1].env.seq, epoch)
                await self._save(records[-1])
                return []
            steps, rest = plan(records, max_ops=self._max_ops, max_bytes=self._max_bytes)
            for step in steps:
                await self.applier.apply(step, target)
                self._stats.applied += step.messages
            if steps:
                await self._save(steps[-1].last)
        return rest

    async def _save(self, last: Received) -> None:
        env = last.env
        pos = Position(src=self.src, shard=self.shard, seq=env.seq, tick=int(env.tick), server=env.server,
                       offset=last.offset, epoch=env.epoch, ts=env.ts, resync_from=self.applier.resync_from,
                       resync_offset=self.applier.resync_offset, gen=env.gen)
        await retrying(f"storing the position of {self.shard}", lambda: self._store.save([pos]))
        self._stored(pos)
