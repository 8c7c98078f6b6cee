"""The destination worker of one replication flow (source DC -> this DC), as a plain asyncio component.

It reads the flow's topics from the destination's Kafka (where MirrorMaker 2 mirrors them) and
writes through the destination's coordinator:

* **control**: every structure snapshot on ``dc2dc.<src>.control``; whenever newer ones are
  available the newest wins (each is the full structure). It is applied while no shard step
  runs (``_Gate``), then recorded with its epoch in ``_dc2dc_positions``.
* **shards**: one aiokafka consumer subscribed by pattern to ``dc2dc.<src>.shard.*``
  (Faust cannot do patterns and would put every single-partition topic on one worker), with
  ``read_committed`` so aborted source transactions never arrive. Each assigned shard has its
  own ordered task; a slow or waiting shard never holds up another one.

Per shard the rules are:

* on assignment, seek to the stored position's offset hint; records with ``seq <= applied`` are
  duplicates (MirrorMaker 2 delivers at least once) and are dropped and counted. If the first
  record after that seek is already past ``applied + 1`` the hint was wrong: seek to the
  beginning once. A seq gap after that stops the shard loudly and asks the source for a
  resync on the feedback topic; the shard resumes at the resync's ``resync_begin``.
* a shard's stream is ordered by ``(gen, seq)`` (``topics.generation``): a record of an older
  generation than the stored position's is dropped (B's mirror keeps them after A's topic was
  re-created), and one of a newer generation starts the stream again at its seq 1, whose
  full resync replaces what B holds.
* a record whose structure epoch is not applied yet waits (the shard's partition is paused
  once its queue is full); a record of a shard whose collection the applied structure no
  longer has is discarded with a log line and a counter — the drop voided it.
* records are verified (``topics.signing.Verifier``) and reassembled (``topics.chunking``)
  before apply; a record that fails to verify, decode or reassemble is set aside
  (``pipeline.quarantine``) and never applied. It takes no seq, so the shard waits for the
  genuine one; if that never comes, the next record shows the gap. The control topic's
  records are set aside the same way, and a later epoch supersedes one that lost chunks.
* steps from ``apply_batch.plan`` are applied by ``document_apply.ShardApplier``, then the
  position is stored; apply is idempotent, so a crash between the two replays safely.

One worker per flow is *active*: the one holding the control topic's single partition in its
consumer group. Further workers of the flow stand by and take over (from the stored positions)
when the active one leaves or dies. One active worker keeps the rule "no shard step while the
structure changes" inside one process; spreading shards over several active workers would need
a barrier across processes around every structure change.

Applied positions go to ``dc2dc.<src>.feedback.<dst>`` periodically, for the source's status.
Kafka consumer offsets are never committed: the positions in ArangoDB are the truth.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import IllegalStateError
from aiokafka.structs import ConsumerRecord

from dc2dc.pipeline.destination.apply_batch import DEFAULT_MAX_BYTES, DEFAULT_MAX_OPS, Received, plan
from dc2dc.pipeline.destination.document_apply import DocumentWriter, ShardApplier, Target, locate
from dc2dc.pipeline.arango.http import ArangoHttp
from dc2dc.pipeline.retry import RetryBudgetSpent, retrying
from dc2dc.pipeline.destination.shard_health import HealthStore, ShardState
from dc2dc.pipeline.quarantine import RECORD_ERRORS, Quarantine
from dc2dc.pipeline.destination.positions import AppliedStructure, Position, PositionStore
from dc2dc.pipeline.destination.structure_apply import StructureApplier
from dc2dc.topics import codec
from dc2dc.topics.admin import TopicSettings, ensure_topics
from dc2dc.topics.chunking import Reassembler
from dc2dc.topics.envelope import Envelope, Op
from dc2dc.topics.names import control_topic, feedback_topic, shard_of, shard_topics_pattern
from dc2dc.topics.signing import Verifier

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DestinationConfig:
    src: str
    dst: str
    bootstrap: str                        # the destination DC's Kafka
    group_id: str | None = None           # default: dc2dc.<src>.<dst>.apply
    max_ops: int = DEFAULT_MAX_OPS
    max_bytes: int = DEFAULT_MAX_BYTES
    queue_limit: int = 5000               # records queued per shard before its partition pauses
    feedback_interval_s: float = 5.0
    resync_request_interval_s: float = 30.0   # a gap's resync request is sent again until its resync begins
    metadata_max_age_ms: int = 5000       # how soon a new shard topic is noticed
    topic_settings: TopicSettings = TopicSettings()   # for the feedback topic, if this worker creates it

    @property
    def group(self) -> str:
        return self.group_id or f"dc2dc.{self.src}.{self.dst}.apply"


@dataclass
class DestinationStats:
    """Counters for status and tests; ``stopped`` maps a shard to why it stopped."""

    applied: int = 0          # messages applied (incl. heartbeats and markers)
    duplicates: int = 0       # seq <= applied, dropped
    superseded: int = 0       # of an older generation of their shard's stream, dropped
    discarded: int = 0        # collection dropped in a later applied structure
    skipped_in_gap: int = 0   # after a gap, before the requested resync began
    resync_requests: int = 0
    structure_epoch: int = 0
    stopped: dict[str, str] = field(default_factory=dict)
    control_error: str | None = None
    failed: str | None = None   # a whole-worker loop died (see ``DestinationWorker.wait``)
    active: bool = False        # holds the flow's control partition (else a standby)


class _Gate:
    """Shard steps run alongside each other but never during a structure change (which waits first)."""

    def __init__(self) -> None:
        self._cond = asyncio.Condition()
        self._readers = 0
        self._writer = False
        self._writers_waiting = 0

    @contextlib.asynccontextmanager
    async def shared(self) -> AsyncIterator[None]:
        async with self._cond:
            await self._cond.wait_for(lambda: not self._writer and not self._writers_waiting)
            self._readers += 1
        try:
            yield
        finally:
            async with self._cond:
                self._readers -= 1
                self._cond.notify_all()

    @contextlib.asynccontextmanager
    async def exclusive(self) -> AsyncIterator[None]:
        async with self._cond:
            self._writers_waiting += 1
            try:
                await self._cond.wait_for(lambda: not self._writer and self._readers == 0)
            finally:
                self._writers_waiting -= 1
            self._writer = True
        try:
            yield
        finally:
            async with self._cond:
                self._writer = False
                self._cond.notify_all()


@dataclass
class _Shard:
    tp: TopicPartition
    shard: str
    applier: ShardApplier
    position: Position | None
    last_seen: int                        # highest seq accepted into the queue
    gen: int                              # stream generation of ``last_seen``
    queue: list[Received] = field(default_factory=list)
    held: list[Received] = field(default_factory=list)   # an open transaction waiting for its commit
    fresh_seek: bool = True               # nothing read since the last seek
    rewound: bool = False
    gap: bool = False
    stopped: str | None = None
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    reported_seq: int = 0


class DestinationWorker:
    """Applies one flow into the destination. ``async with DestinationWorker(...)`` or start()/stop()."""

    def __init__(self, config: DestinationConfig, http: ArangoHttp, *, verifier: Verifier | None = None) -> None:
        self.config = config
        self.stats = DestinationStats()
        self._http = http
        self._verifier = verifier
        self._store = PositionStore(http, config.src)
        self._health = HealthStore(http, config.src)
        self._health_lock = asyncio.Lock()
        self._structure = StructureApplier(http)
        self._writer = DocumentWriter(http)
        self._gate = _Gate()
        self._epoch_cond = asyncio.Condition()
        self._applied: AppliedStructure = AppliedStructure(0, {})
        self._locations: dict[str, tuple[str, str, int]] = {}   # source shard -> (db, coll, index)
        self._targets: dict[str, Target] = {}
        self._shards: dict[TopicPartition, _Shard] = {}
        self._positions: dict[str, Position] = {}
        self._reassembler = Reassembler()
        self._control_reassembler = Reassembler()
        self._quarantine = Quarantine()
        self._main: list[asyncio.Task[None]] = []    # control and feedback loops
        self._poll_task: asyncio.Task[None] | None = None   # shard records, while active
        self._failure: BaseException | None = None
        self._ended = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []   # background sends
        self._consumer: AIOKafkaConsumer | None = None
        self._control_consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._feedback_seq = int(time.time() * 1000)

    # --- lifecycle -----------------------------------------------------------------------------

    async def __aenter__(self) -> DestinationWorker:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> None:
        cfg = self.config
        await retrying("creating the position store", self._store.ensure)
        await self._reload_structure()
        await ensure_topics(cfg.bootstrap, [feedback_topic(cfg.src, cfg.dst)], cfg.topic_settings)
        self._producer = AIOKafkaProducer(bootstrap_servers=cfg.bootstrap, enable_idempotence=True)
        await self._producer.start()
        # The control topic has one partition, so its consumer group picks one active worker
        # per flow; any other worker of the flow waits as a standby until it gets the partition.
        self._control_consumer = AIOKafkaConsumer(
            bootstrap_servers=cfg.bootstrap, group_id=f"{cfg.group}.control", enable_auto_commit=False,
            isolation_level="read_committed", auto_offset_reset="earliest",
            metadata_max_age_ms=cfg.metadata_max_age_ms)
        self._control_consumer.subscribe([control_topic(cfg.src)],
                                         listener=_Listener(self, self._deactivate_all, self._activate_all))
        await self._control_consumer.start()
        self._main = [self._spawn(self._control_loop(), "dc2dc-dst-control"),
                      self._spawn(self._feedback_loop(), "dc2dc-dst-feedback")]

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        task = asyncio.create_task(coro, name=name)
        task.add_done_callback(self._main_done)
        return task

    def _main_done(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or task.exception() is None:
            return
        exc = task.exception()
        assert exc is not None
        self._fail(task.get_name(), exc)

    def _fail(self, where: str, exc: BaseException) -> None:
        self.stats.failed = f"{where}: {exc!r}"
        log.critical("destination worker %s->%s failed: %s", self.config.src, self.config.dst, self.stats.failed)
        if self._failure is None:
            self._failure = exc
        self._ended.set()

    async def wait(self) -> None:
        """Return when the worker ended (``stop``); raise the error of a loop that failed."""
        await self._ended.wait()
        if self._failure is not None:
            raise self._failure

    async def stop(self) -> None:
        await self._deactivate()
        tasks = self._main + self._tasks
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._main, self._tasks = [], []
        for client in (self._control_consumer, self._producer):
            if client is not None:
                await _close(client)
        self._control_consumer = self._producer = None
        # Closing is idempotent and the client reconnects on its next request, so an injected one is safe to close.
        await self._http.close()
        self._ended.set()

    # --- active / standby ------------------------------------------------------------------------

    async def _reload_structure(self) -> None:
        # The previous active worker may have applied more than this one knows.
        stored = await retrying("reading the applied structure", self._store.load_structure)
        if stored is not None and stored.epoch > self._applied.epoch:
            self._set_structure(stored)

    async def _activate(self, tp: TopicPartition) -> None:
        """This worker got the control partition: read the structure from its start, apply shards."""
        cfg = self.config
        assert self._control_consumer is not None
        await self._reload_structure()
        self._control_reassembler = Reassembler()
        await self._control_consumer.seek_to_beginning(tp)
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=cfg.bootstrap, group_id=cfg.group, enable_auto_commit=False,
            isolation_level="read_committed", auto_offset_reset="earliest",
            metadata_max_age_ms=cfg.metadata_max_age_ms, max_partition_fetch_bytes=8 * 1024 * 1024)
        self._consumer.subscribe(pattern=shard_topics_pattern(cfg.src),
                                 listener=_Listener(self, self._revoked, self._assigned))
        await self._consumer.start()
        self._poll_task = self._spawn(self._poll_loop(), "dc2dc-dst-poll")
        self.stats.active = True
        log.info("destination worker %s->%s is active", cfg.src, cfg.dst)

    async def _activate_all(self, tps: set[TopicPartition]) -> None:
        for tp in tps:
            await self._activate(tp)

    async def _deactivate_all(self, _tps: set[TopicPartition]) -> None:
        await self._deactivate()

    async def _deactivate(self) -> None:
        """Stop applying (before another worker may start): poll loop, shard tasks, shard consumer."""
        was_active, self.stats.active = self.stats.active, False
        if self._poll_task is not None:
            self._poll_task.cancel()
            await asyncio.gather(self._poll_task, return_exceptions=True)
            self._poll_task = None
        await self._revoked(set(self._shards))
        if self._consumer is not None:
            await _close(self._consumer)
            self._consumer = None
        if was_active:
            log.info("destination worker %s->%s is standing by", self.config.src, self.config.dst)

    # --- status --------------------------------------------------------------------------------

    @property
    def structure_epoch(self) -> int:
        return self._applied.epoch

    def positions(self) -> dict[str, Position]:
        """The last stored position of every shard this worker has applied to."""
        return dict(self._positions)

    def status(self) -> dict[str, Any]:
        """Applied structure epoch, counters, and the stored position of every shard."""
        return {"src": self.config.src, "dst": self.config.dst, "epoch": self._applied.epoch,
                "stats": dataclasses.asdict(self.stats), "rejected": self._quarantine.status(),
                "positions": {shard: dataclasses.asdict(p) for shard, p in sorted(self._positions.items())}}

    async def wait_for_epoch(self, epoch: int) -> None:
        async with self._epoch_cond:
            await self._epoch_cond.wait_for(lambda: self._applied.epoch >= epoch)

    # --- structure -----------------------------------------------------------------------------

    def _set_structure(self, applied: AppliedStructure) -> None:
        self._applied = applied
        self.stats.structure_epoch = applied.epoch
        self._locations = {
            shard: (db, coll, index)
            for db, dbspec in (applied.snapshot.get("databases") or {}).items()
            for coll, cspec in (dbspec.get("collections") or {}).items()
            for index, shard in enumerate(cspec.get("shards") or [])
        }
        self._targets.clear()

    async def _control_loop(self) -> None:
        consumer = self._control_consumer
        assert consumer is not None
        try:
            while True:
                # Records arrive only while this worker holds the partition (is active).
                batch = await consumer.getmany(timeout_ms=500)
                newest: Envelope | None = None
                for records in batch.values():
                    for record in records:
                        try:
                            env = self._decode(record, None)
                            self._control_reassembler.abandon_before(env)
                            env = self._control_reassembler.feed(env)
                        except RECORD_ERRORS as exc:
                            self._quarantine.reject(record, exc)
                            continue
                        if env is not None and env.op is Op.STRUCTURE and (newest is None or env.epoch > newest.epoch):
                            newest = env
                if newest is not None and newest.epoch > self._applied.epoch:
                    await self._apply_structure(newest)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # The structure cannot be applied: data waits for it, nothing is skipped.
            self.stats.control_error = f"{type(exc).__name__}: {exc}"
            log.error("control topic of %s stopped: %s", self.config.src, self.stats.control_error)
            raise

    async def _apply_structure(self, env: Envelope) -> None:
        snapshot = env.body or {}
        async with self._gate.exclusive():
            actions = await retrying(f"structure epoch {env.epoch}",
                                     lambda: self._structure.apply(snapshot, self._applied.snapshot))
            applied = AppliedStructure(env.epoch, snapshot)
            await retrying("recording the structure epoch", lambda: self._store.save_structure(applied))
            self._set_structure(applied)
        log.info("structure epoch %d applied (%d changes)", env.epoch, len(actions))
        async with self._epoch_cond:
            self._epoch_cond.notify_all()

    async def _target(self, shard: str) -> Target | None:
        """Where ``shard`` goes under the applied structure, or None if that has no such shard."""
        if shard in self._targets:
            return self._targets[shard]
        where = self._locations.get(shard)
        if where is None:
            return None
        db, coll, index = where
        count = len(self._applied.snapshot["databases"][db]["collections"][coll]["shards"])
        target = self._targets[shard] = await locate(self._http, db, coll, index, count)
        return target

    # --- shard streams -------------------------------------------------------------------------

    async def _assigned(self, tps: set[TopicPartition]) -> None:
        consumer = self._consumer
        assert consumer is not None
        # Another worker may have applied these shards since this one last had them.
        self._positions = await retrying("reading positions", self._store.load)
        unwell = await retrying("reading shard health", self._health.load)
        for tp in tps:
            parsed = shard_of(tp.topic)
            if parsed is None or tp in self._shards:
                continue
            shard = parsed[1]
            pos = self._positions.get(shard)
            applier = ShardApplier(self._writer)
            last_seen = 0
            if pos is not None:
                last_seen = pos.resume_seq() - 1
                if pos.resync_from is not None and pos.resync_offset is not None:
                    applier.restart_resync(pos.resync_from, pos.resync_offset)
                consumer.seek(tp, pos.resume_offset())
            else:
                consumer.seek(tp, 0)
            self._reassembler.reset(self.config.src, shard, last_seen)
            state = _Shard(tp, shard, applier, pos, last_seen, pos.gen if pos is not None else 0)
            if shard in unwell and unwell[shard].state is not ShardState.APPLYING:
                self._set_health(state, ShardState.APPLYING)   # a restart tries the shard again
            state.task = asyncio.create_task(self._shard_loop(state), name=f"dc2dc-dst-{shard}")
            self._shards[tp] = state
            log.info("shard %s assigned, resuming after seq %d", shard, last_seen)

    async def _revoked(self, tps: set[TopicPartition]) -> None:
        states = [self._shards.pop(tp) for tp in tps if tp in self._shards]
        for state in states:
            if state.task is not None:
                state.task.cancel()
        await asyncio.gather(*(s.task for s in states if s.task is not None), return_exceptions=True)

    async def _poll_loop(self) -> None:
        consumer = self._consumer
        assert consumer is not None
        while True:
            # getmany returns buffered records without suspending, and verifying a record's
            # signature costs ~0.1-0.4 ms of CPU: without a yield per small batch a backlog (an
            # initial sync) keeps the loop busy past the group session timeout, the consumers
            # are evicted, and no shard ever stores a position (seen in tests/e2e).
            batch = await consumer.getmany(timeout_ms=200, max_records=500)
            for tp, records in batch.items():
                state = self._shards.get(tp)
                if state is None:
                    continue
                for record in records:
                    if not self._accept(state, record):
                        break
                if state.queue:
                    state.wake.set()
                if len(state.queue) >= self.config.queue_limit or state.stopped:
                    self._flow(state, pause=True)
                await asyncio.sleep(0)

    def _accept(self, state: _Shard, record: ConsumerRecord) -> bool:
        """Queue one record in order; False when the rest of this fetch must not be read."""
        if state.stopped:
            return False
        first, state.fresh_seek = state.fresh_seek, False
        try:
            env = self._decode(record, state.shard)
        except RECORD_ERRORS as exc:
            self._quarantine.reject(record, exc)
            return True
        if env.gen < state.gen:
            self.stats.superseded += 1
            return True
        if env.gen > state.gen:
            self._new_generation(state, env.gen)
        if env.seq <= state.last_seen:
            self.stats.duplicates += 1
            return True
        lost = self._reassembler.abandon_before(env)
        if lost is not None:
            log.error("shard %s: seq %d lost chunks (seq %d follows it)", state.shard, lost, env.seq)
        if env.seq > state.last_seen + 1 and not state.gap:
            if first and not state.rewound:
                # The stored offset hint points past the next seq (topic re-created, offsets
                # reset): read the topic from its beginning once.
                log.warning("shard %s: seq %d at offset %d after seek, want %d; reading from the beginning",
                            state.shard, env.seq, record.offset, state.last_seen + 1)
                state.rewound = state.fresh_seek = True
                assert self._consumer is not None
                self._consumer.seek(state.tp, 0)
                return False
            self._gap(state, env.seq)
        if state.gap:
            if env.op is not Op.RESYNC_BEGIN or env.chunk is not None:
                self.stats.skipped_in_gap += 1
                return True
            log.warning("shard %s: resync begins at seq %d, applying again", state.shard, env.seq)
            state.gap = False
            self.stats.stopped.pop(state.shard, None)
            self._set_health(state, ShardState.APPLYING)
            self._reassembler.reset(self.config.src, state.shard, env.seq - 1)
        try:
            whole = self._reassembler.feed(env)
        except RECORD_ERRORS as exc:
            self._quarantine.reject(record, exc)
            return True
        if whole is not None:
            state.last_seen = whole.seq
            state.queue.append(Received(whole, record.offset))
        return True

    def _new_generation(self, state: _Shard, gen: int) -> None:
        # The source found the shard's topic empty (retention ran out while it was down, or the
        # topic was re-created) and started again at seq 1 with a full resync: that resync
        # replaces what B holds, so the stream is followed from its seq 1 like a first one.
        log.warning("shard %s: stream generation %d follows %d after seq %d; applying it from its start",
                    state.shard, gen, state.gen, state.last_seen)
        state.gen, state.last_seen = gen, 0
        self._reassembler.reset(self.config.src, state.shard, 0)

    def _decode(self, record: ConsumerRecord, shard: str | None) -> Envelope:
        headers = list(record.headers or ())
        where = f"{record.topic}@{record.offset}"
        if self._verifier is not None:
            self._verifier.verify(record.value, headers, expected_shard=shard, where=where)
        return codec.decode(record.value, headers, topic=record.topic, offset=record.offset)

    def _gap(self, state: _Shard, seq: int) -> None:
        reason = f"seq gap: expected {state.last_seen + 1}, got {seq}"
        log.error("shard %s stopped: %s; requesting a resync", state.shard, reason)
        state.gap = True
        self.stats.stopped[state.shard] = reason
        self._set_health(state, ShardState.WAITING_FOR_RESYNC, reason)
        self._background(self._request_resync(state, reason), f"resync request for {state.shard}")

    async def _request_resync(self, state: _Shard, reason: str) -> None:
        # A request can be lost (no source worker running, MM2 down, the feedback topic re-created),
        # so it is sent again until the resync begins or the shard leaves this worker.
        while state.gap and self._shards.get(state.tp) is state:
            self.stats.resync_requests += 1
            await self._send_feedback(Op.RESYNC_REQUEST, {"dst": self.config.dst, "shard": state.shard,
                                                          "reason": reason})
            await asyncio.sleep(self.config.resync_request_interval_s)

    def _stop(self, state: _Shard, reason: str, exc: BaseException | None = None) -> None:
        log.error("shard %s stopped: %s", state.shard, reason, exc_info=exc)
        state.stopped = reason
        self.stats.stopped[state.shard] = reason
        self._set_health(state, ShardState.FAILED if isinstance(exc, RetryBudgetSpent) else ShardState.STOPPED,
                         reason)
        self._flow(state, pause=True)

    def _set_health(self, state: _Shard, health: ShardState, reason: str = "") -> None:
        async def record() -> None:
            async with self._health_lock:   # FIFO: health changes are stored in the order they happened
                await retrying(f"recording the health of {state.shard}",
                               lambda: self._health.save(state.shard, health, reason))

        self._background(record(), f"recording the health of {state.shard}")

    async def _shard_loop(self, state: _Shard) -> None:
        try:
            while True:
                if not await self._drain(state):
                    if state.stopped:
                        return   # what arrived before the record that stopped the shard is applied
                    self._resume(state)
                    await state.wake.wait()
                    state.wake.clear()
                elif len(state.queue) < self.config.queue_limit:
                    self._resume(state)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._stop(state, f"{type(exc).__name__}: {exc}", exc)

    def _resume(self, state: _Shard) -> None:
        if not state.stopped:
            self._flow(state, pause=False)

    def _flow(self, state: _Shard, *, pause: bool) -> None:
        """Pause or resume fetching a shard's partition, if this worker still holds it."""
        consumer = self._consumer
        if consumer is None or self._shards.get(state.tp) is not state:
            return
        try:
            consumer.pause(state.tp) if pause else consumer.resume(state.tp)
        except (AssertionError, IllegalStateError):
            # A rebalance is under way (a new shard topic matched the pattern): the partition
            # is revoked and assigned again, and its new state starts from the stored position.
            log.debug("shard %s: no assignment to %s right now", state.shard, "pause" if pause else "resume")

    async def _drain(self, state: _Shard) -> bool:
        """Apply what can be applied now; False when only more records can make progress."""
        records, state.queue, state.held = state.held + state.queue, [], []
        epoch = self._applied.epoch
        ready = 0
        # Before any structure is applied nothing can be located, and nothing may be discarded.
        while epoch > 0 and ready < len(records) and records[ready].env.epoch <= epoch:
            ready += 1
        now, later = records[:ready], records[ready:]
        rest: list[Received] = []
        if now:
            rest = await self._apply(state, now, epoch)
        state.held = rest + later
        if len(rest) < len(now):
            return True
        if later:
            log.info("shard %s waits for structure epoch %d (applied: %d)", state.shard, later[0].env.epoch, epoch)
            async with self._epoch_cond:
                await self._epoch_cond.wait_for(lambda: self._applied.epoch > epoch)
            return True
        return False

    async def _apply(self, state: _Shard, records: list[Received], epoch: int) -> list[Received]:
        """Apply or discard ``records`` (all of applied epochs); the unapplied rest (an open transaction)."""
        async with self._gate.shared():
            target = await retrying(f"locating shard {state.shard}", lambda: self._target(state.shard))
            if target is None:
                self.stats.discarded += len(records)
                log.warning("shard %s: %d message(s) up to seq %d discarded: its collection is not in "
                            "structure epoch %d (dropped)", state.shard, len(records), records[-1].env.seq, epoch)
                await self._save(state, records[-1])
                return []
            steps, rest = plan(records, max_ops=self.config.max_ops, max_bytes=self.config.max_bytes)
            for step in steps:
                await state.applier.apply(step, target)
                self.stats.applied += step.messages
            if steps:
                await self._save(state, steps[-1].last)
        return rest

    async def _save(self, state: _Shard, last: Received) -> None:
        env = last.env
        pos = Position(src=self.config.src, shard=state.shard, seq=env.seq, tick=env.tick, server=env.server,
                       offset=last.offset, epoch=env.epoch, ts=env.ts, resync_from=state.applier.resync_from,
                       resync_offset=state.applier.resync_offset, gen=env.gen)
        await retrying(f"storing the position of {state.shard}", lambda: self._store.save([pos]))
        state.position = self._positions[state.shard] = pos

    # --- feedback ------------------------------------------------------------------------------

    def _background(self, coro: Coroutine[Any, Any, None], what: str) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.append(task)

        def done(t: asyncio.Task[None]) -> None:
            if t in self._tasks:
                self._tasks.remove(t)
            if not t.cancelled() and t.exception() is not None:
                log.error("%s failed: %s", what, t.exception())

        task.add_done_callback(done)

    async def _send_feedback(self, op: Op, body: dict[str, Any]) -> None:
        producer = self._producer
        if producer is None:
            return
        self._feedback_seq += 1
        env = Envelope(op=op, src=self.config.src, seq=self._feedback_seq, ts=int(time.time() * 1000), body=body)
        value, headers = codec.encode(env)
        await producer.send_and_wait(feedback_topic(self.config.src, self.config.dst), value, headers=headers)

    async def _feedback_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.feedback_interval_s)
            positions = {s: {"seq": p.seq, "tick": p.tick, "ts": p.ts} for s, p in self._positions.items()}
            if positions and self.stats.active:
                try:
                    await self._send_feedback(Op.APPLIED, {"dst": self.config.dst, "positions": positions})
                except Exception as exc:   # feedback is advisory; the next round repeats it
                    log.warning("feedback not sent: %s", exc)


async def _close(client: AIOKafkaConsumer | AIOKafkaProducer, timeout_s: float = 15.0) -> None:
    """Stop a Kafka client without letting shutdown hang.

    A consumer's stop waits for its group coordination to finish; that can sit in a broker
    request for a long time (seen when the control loop had died and nobody polled any more).
    Nothing is lost by giving up: positions live in ArangoDB, and offsets are never committed.
    """
    try:
        await asyncio.wait_for(client.stop(), timeout_s)
    except asyncio.TimeoutError:
        log.warning("%s did not stop within %.0fs; abandoned", type(client).__name__, timeout_s)
    except Exception as exc:   # a client that fails while stopping is stopped enough
        log.warning("%s failed while stopping: %r", type(client).__name__, exc)


class _Listener(ConsumerRebalanceListener):
    """Hands a rebalance to the worker; a failure there fails the worker.

    aiokafka only logs what a rebalance callback raises and carries on: a worker whose activation
    failed would hold the control partition and apply nothing (standbys never take over), and
    partitions whose assignment failed would have their records dropped from each fetch.
    """

    def __init__(self, worker: DestinationWorker, revoked: Callable[[set[TopicPartition]], Awaitable[None]],
                 assigned: Callable[[set[TopicPartition]], Awaitable[None]]) -> None:
        self._worker, self._on_revoked, self._on_assigned = worker, revoked, assigned

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._guard(self._on_revoked, set(revoked))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await self._guard(self._on_assigned, set(assigned))

    async def _guard(self, handler: Callable[[set[TopicPartition]], Awaitable[None]],
                     tps: set[TopicPartition]) -> None:
        try:
            await handler(tps)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._worker._fail(f"rebalance ({handler.__name__})", exc)
