"""The shard streams of an active destination worker: assignment, intake, and one task per shard.

One aiokafka consumer reads every shard topic of the source (``clients.shard_consumer``). Each
assigned shard has its own ordered task, so a slow or waiting shard never holds up another:

* on assignment, seek to the stored position's offset hint; the shard's ``ShardIntake`` decides
  what each record is (duplicate, gap, rewind, older or newer generation, chunk) and queues whole
  ones; its ``CommitStep`` applies them and stores the position;
* a record that fails to verify, decode or reassemble is set aside (``pipeline.quarantine``) and
  never applied. It takes no seq, so the shard waits for the genuine one; if that never comes,
  the next record shows the gap;
* a gap stops the shard loudly and asks the source for a resync on the feedback topic, again
  every ``resync_request_interval_s`` until the resync begins;
* a record whose structure epoch is not applied yet waits in the commit step; the shard's
  partition is paused while its queue is full or the shard stopped.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import IllegalStateError
from aiokafka.structs import ConsumerRecord

from dc2dc.agents.destination.background import Background, HealthRecorder
from dc2dc.agents.destination.commit import CommitStep
from dc2dc.agents.destination.config import DestinationConfig, DestinationStats
from dc2dc.agents.destination.feedback import Feedback
from dc2dc.agents.destination.structure import StructureFollower
from dc2dc.pipeline.destination.document_apply import DocumentWriter, ShardApplier
from dc2dc.pipeline.destination.intake import Intaken, ShardIntake, Verdict
from dc2dc.pipeline.destination.positions import Position, PositionStore
from dc2dc.pipeline.destination.records import decode_record
from dc2dc.pipeline.destination.shard_health import HealthState, HealthStore
from dc2dc.pipeline.quarantine import RECORD_ERRORS, Quarantine
from dc2dc.pipeline.retry import RetryBudgetSpent, retrying
from dc2dc.topics.chunking import Reassembler
from dc2dc.topics.names import shard_of
from dc2dc.topics.signing import Verifier

log = logging.getLogger(__name__)


@dataclass
class ShardStream:
    tp: TopicPartition
    intake: ShardIntake
    commit: CommitStep
    stopped: str | None = None
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None

    @property
    def shard(self) -> str:
        return self.intake.shard


class ShardStreams:
    """The shards assigned to this worker's shard consumer, and the last stored position of each."""

    def __init__(self, config: DestinationConfig, stats: DestinationStats, store: PositionStore, health: HealthStore,
                 writer: DocumentWriter, structure: StructureFollower, feedback: Feedback, quarantine: Quarantine,
                 verifier: Verifier | None, background: Background) -> None:
        self._config = config
        self._stats = stats
        self._store = store
        self._health_store = health
        self._health = HealthRecorder(health, background)
        self._writer = writer
        self._structure = structure
        self._feedback = feedback
        self._quarantine = quarantine
        self._verifier = verifier
        self._background = background
        self._reassembler = Reassembler()
        self._consumer: AIOKafkaConsumer | None = None
        self._streams: dict[TopicPartition, ShardStream] = {}
        self.positions: dict[str, Position] = {}

    def attach(self, consumer: AIOKafkaConsumer | None) -> None:
        """The shard consumer the rebalance callbacks and the poll loop work on (None: standing by)."""
        self._consumer = consumer

    async def assigned(self, tps: set[TopicPartition]) -> None:
        consumer = self._consumer
        assert consumer is not None
        # Another worker may have applied these shards since this one last had them.
        self.positions = await retrying("reading positions", self._store.load)
        unwell = await retrying("reading shard health", self._health_store.load)
        for tp in tps:
            parsed = shard_of(tp.topic)
            if parsed is None or tp in self._streams:
                continue
            shard = parsed[1]
            pos = self.positions.get(shard)
            applier = ShardApplier(self._writer)
            if pos is not None:
                if pos.resync_from is not None and pos.resync_offset is not None:
                    applier.restart_resync(pos.resync_from, pos.resync_offset)
                consumer.seek(tp, pos.resume_offset())
            else:
                consumer.seek(tp, 0)
            intake = ShardIntake.resuming(self._config.src, shard, pos, self._reassembler)
            commit = CommitStep(self._config.src, shard, applier, self._store, self._structure, self._stats,
                                max_ops=self._config.max_ops, max_bytes=self._config.max_bytes,
                                stored=self._stored)
            stream = ShardStream(tp, intake, commit)
            if shard in unwell and unwell[shard].state is not HealthState.APPLYING:
                self._health.record(shard, HealthState.APPLYING)   # a restart tries the shard again
            stream.task = asyncio.create_task(self._run(stream), name=f"dc2dc-dst-{shard}")
            self._streams[tp] = stream
            log.info("shard %s assigned, resuming after seq %d", shard, intake.last_seen)

    async def revoked(self, tps: set[TopicPartition]) -> None:
        streams = [self._streams.pop(tp) for tp in tps if tp in self._streams]
        for stream in streams:
            if stream.task is not None:
                stream.task.cancel()
        await asyncio.gather(*(s.task for s in streams if s.task is not None), return_exceptions=True)

    async def revoke_all(self) -> None:
        await self.revoked(set(self._streams))

    def _stored(self, pos: Position) -> None:
        self.positions[pos.shard] = pos

    async def poll(self) -> None:
        consumer = self._consumer
        assert consumer is not None
        while True:
            # getmany returns buffered records without suspending, and verifying a record's
            # signature costs ~0.1-0.4 ms of CPU: without a yield per small batch a backlog (an
            # initial sync) keeps the loop busy past the group session timeout, the consumers
            # are evicted, and no shard ever stores a position (seen in tests/e2e).
            batch = await consumer.getmany(timeout_ms=200, max_records=500)
            for tp, records in batch.items():
                stream = self._streams.get(tp)
                if stream is None:
                    continue
                for record in records:
                    if not self._accept(stream, record):
                        break
                if stream.intake.queue:
                    stream.wake.set()
                if len(stream.intake.queue) >= self._config.queue_limit or stream.stopped:
                    self._flow(stream, pause=True)
                await asyncio.sleep(0)

    def _accept(self, stream: ShardStream, record: ConsumerRecord) -> bool:
        """Queue one record in order; False when the rest of this fetch must not be read."""
        if stream.stopped:
            return False
        intake = stream.intake
        try:
            env = decode_record(record, self._verifier, intake.shard)
        except RECORD_ERRORS as exc:
            intake.set_aside()
            self._quarantine.reject(record, exc)
            return True
        try:
            taken = intake.accept(env, record.offset)
        except RECORD_ERRORS as exc:
            self._quarantine.reject(record, exc)
            return True
        return self._act_on(stream, taken)

    def _act_on(self, stream: ShardStream, taken: Intaken) -> bool:
        if taken.verdict is Verdict.REWIND:
            assert self._consumer is not None
            self._consumer.seek(stream.tp, 0)
            return False
        if taken.gap is not None:
            self._gap(stream, taken.gap)
        if taken.resumed:
            self._stats.stopped.pop(stream.shard, None)
            self._health.record(stream.shard, HealthState.APPLYING)
        if taken.verdict is Verdict.DUPLICATE:
            self._stats.duplicates += 1
        elif taken.verdict is Verdict.SUPERSEDED:
            self._stats.superseded += 1
        elif taken.verdict is Verdict.SKIPPED_IN_GAP:
            self._stats.skipped_in_gap += 1
        return True

    def _gap(self, stream: ShardStream, reason: str) -> None:
        log.error("shard %s stopped: %s; requesting a resync", stream.shard, reason)
        self._stats.stopped[stream.shard] = reason
        self._health.record(stream.shard, HealthState.WAITING_FOR_RESYNC, reason)
        self._background.spawn(self._request_resync(stream, reason), f"resync request for {stream.shard}")

    async def _request_resync(self, stream: ShardStream, reason: str) -> None:
        # A request can be lost (no source worker running, MM2 down, the feedback topic re-created),
        # so it is sent again until the resync begins or the shard leaves this worker.
        while stream.intake.gap and self._streams.get(stream.tp) is stream:
            self._stats.resync_requests += 1
            await self._feedback.request_resync(stream.shard, reason)
            await asyncio.sleep(self._config.resync_request_interval_s)

    def _stop(self, stream: ShardStream, reason: str, exc: BaseException | None = None) -> None:
        log.error("shard %s stopped: %s", stream.shard, reason, exc_info=exc)
        stream.stopped = reason
        self._stats.stopped[stream.shard] = reason
        self._health.record(stream.shard,
                            HealthState.FAILED if isinstance(exc, RetryBudgetSpent) else HealthState.STOPPED, reason)
        self._flow(stream, pause=True)

    async def _run(self, stream: ShardStream) -> None:
        try:
            while True:
                if not await stream.commit.drain(stream.intake.take()):
                    if stream.stopped:
                        return   # what arrived before the record that stopped the shard is applied
                    self._resume(stream)
                    await stream.wake.wait()
                    stream.wake.clear()
                elif len(stream.intake.queue) < self._config.queue_limit:
                    self._resume(stream)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._stop(stream, f"{type(exc).__name__}: {exc}", exc)

    def _resume(self, stream: ShardStream) -> None:
        if not stream.stopped:
            self._flow(stream, pause=False)

    def _flow(self, stream: ShardStream, *, pause: bool) -> None:
        """Pause or resume fetching a shard's partition, if this worker still holds it."""
        consumer = self._consumer
        if consumer is None or self._streams.get(stream.tp) is not stream:
            return
        try:
            consumer.pause(stream.tp) if pause else consumer.resume(stream.tp)
        except (AssertionError, IllegalStateError):
            # A rebalance is under way (a new shard topic matched the pattern): the partition
            # is revoked and assigned again, and its new state starts from the stored position.
            log.debug("shard %s: no assignment to %s right now", stream.shard, "pause" if pause else "resume")
