"""The structure side of a destination worker: the control topic, the applied structure, the gate.

Every structure snapshot on ``dc2dc.<src>.control`` is the full structure, so whenever newer ones
are available the newest wins. It is applied while no shard step runs (``StructureGate``), then
recorded with its epoch in ``_dc2dc_positions``; shard steps waiting for that epoch go on. The
control topic's records are verified and reassembled like a shard's; one that fails is set aside,
and a later epoch supersedes one that lost chunks.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import AbstractAsyncContextManager

from aiokafka import AIOKafkaConsumer

from dc2dc.agents.destination.config import DestinationStats
from dc2dc.pipeline.arango.http import ArangoHttp
from dc2dc.pipeline.destination.document_apply import Target, locate
from dc2dc.pipeline.destination.positions import AppliedStructure, PositionStore
from dc2dc.pipeline.destination.records import decode_record
from dc2dc.pipeline.destination.structure_apply import StructureApplier
from dc2dc.pipeline.destination.structure_gate import StructureGate
from dc2dc.pipeline.quarantine import RECORD_ERRORS, Quarantine
from dc2dc.pipeline.retry import retrying
from dc2dc.pipeline.structure_view import ShardLocation, StructureView
from dc2dc.topics.chunking import Reassembler
from dc2dc.topics.envelope import Envelope, Op
from dc2dc.topics.signing import Verifier

log = logging.getLogger(__name__)


class StructureFollower:
    """Applies the flow's structure epochs and tells shard steps where their shard goes."""

    def __init__(self, http: ArangoHttp, store: PositionStore, stats: DestinationStats, quarantine: Quarantine,
                 verifier: Verifier | None) -> None:
        self._http = http
        self._store = store
        self._stats = stats
        self._quarantine = quarantine
        self._verifier = verifier
        self._structure = StructureApplier(http)
        self._gate = StructureGate()
        self._epoch_cond = asyncio.Condition()
        self._applied = AppliedStructure(0, {})
        self._locations: dict[str, ShardLocation] = {}
        self._targets: dict[str, Target] = {}
        self._reassembler = Reassembler()

    @property
    def epoch(self) -> int:
        return self._applied.epoch

    def shared(self) -> AbstractAsyncContextManager[None]:
        """Held by a shard step: a structure change waits for it."""
        return self._gate.shared()

    async def wait_for(self, epoch: int) -> None:
        async with self._epoch_cond:
            await self._epoch_cond.wait_for(lambda: self._applied.epoch >= epoch)

    async def wait_beyond(self, epoch: int) -> None:
        async with self._epoch_cond:
            await self._epoch_cond.wait_for(lambda: self._applied.epoch > epoch)

    async def reload(self) -> None:
        """Take the stored structure if it is newer: the previous active worker may have applied more."""
        stored = await retrying("reading the applied structure", self._store.load_structure)
        if stored is not None and stored.epoch > self._applied.epoch:
            self._set(stored)

    async def restart(self) -> None:
        """This worker just got the control partition and reads it from its start."""
        await self.reload()
        self._reassembler = Reassembler()

    async def target(self, shard: str) -> Target | None:
        """Where ``shard`` goes under the applied structure, or None if that has no such shard."""
        if shard in self._targets:
            return self._targets[shard]
        where = self._locations.get(shard)
        if where is None:
            return None
        target = self._targets[shard] = await locate(self._http, where.db, where.coll, where.index, where.count)
        return target

    async def follow(self, consumer: AIOKafkaConsumer) -> None:
        """Apply the newest structure of each fetch, forever (records come only while this worker is active)."""
        try:
            while True:
                batch = await consumer.getmany(timeout_ms=500)
                newest: Envelope | None = None
                for records in batch.values():
                    for record in records:
                        try:
                            env = decode_record(record, self._verifier, None)
                            self._reassembler.abandon_before(env)
                            whole = self._reassembler.feed(env)
                        except RECORD_ERRORS as exc:
                            self._quarantine.reject(record, exc)
                            continue
                        if whole is not None and whole.op is Op.STRUCTURE and (newest is None or whole.epoch > newest.epoch):
                            newest = whole
                if newest is not None and newest.epoch > self._applied.epoch:
                    await self._apply(newest)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # The structure cannot be applied: data waits for it, nothing is skipped.
            self._stats.control_error = f"{type(exc).__name__}: {exc}"
            log.error("control topic of %s stopped: %s", self._store.src, self._stats.control_error)
            raise

    async def _apply(self, env: Envelope) -> None:
        snapshot = env.body or {}
        async with self._gate.exclusive():
            actions = await retrying(f"structure epoch {env.epoch}",
                                     lambda: self._structure.apply(snapshot, self._applied.snapshot))
            applied = AppliedStructure(env.epoch, snapshot)
            await retrying("recording the structure epoch", lambda: self._store.save_structure(applied))
            self._set(applied)
        log.info("structure epoch %d applied (%d changes)", env.epoch, len(actions))
        async with self._epoch_cond:
            self._epoch_cond.notify_all()

    def _set(self, applied: AppliedStructure) -> None:
        self._applied = applied
        self._stats.structure_epoch = applied.epoch
        self._locations = StructureView.parse(applied.snapshot).shard_locations()
        self._targets.clear()
